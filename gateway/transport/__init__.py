"""Transports at the edge of the gateway: MQTT 5 in and out."""
