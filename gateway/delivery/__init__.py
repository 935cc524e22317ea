"""Delivery of outcomes: MQTT responses and emails, drained from the outbox."""
