"""CARM message gateway: MQTT 5 in, journal, validate, post to the RM ledger, acknowledge."""

__version__ = "0.1.0"
