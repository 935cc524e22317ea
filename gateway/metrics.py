"""Prometheus metrics (CONTRACT section 8): one registry for the process, prefix carm_gateway_."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES = Counter("carm_gateway_messages", "Messages with an outcome, by kind and outcome",
                   ["kind", "outcome"], registry=REGISTRY)
PROCESSING_SECONDS = Histogram(
    "carm_gateway_processing_seconds", "From journal to committed outcome, per message",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
BACKLOG = Gauge("carm_gateway_backlog", "Rows waiting, by queue", ["queue"], registry=REGISTRY)
DELIVERIES = Counter("carm_gateway_deliveries", "Delivery attempts, by channel and result",
                     ["channel", "result"], registry=REGISTRY)
RETRIES = Counter("carm_gateway_retries", "Handler and delivery retries", registry=REGISTRY)
DEAD_LETTERS = Gauge("carm_gateway_dead_letters", "Messages in the dead-letter store",
                     registry=REGISTRY)
DEADLINES_AT_RISK = Gauge("carm_gateway_deadlines_at_risk",
                          "Open deadlines past the escalation point", registry=REGISTRY)
DEADLINES_ESCALATED = Counter("carm_gateway_deadlines_escalated",
                              "Deadlines escalated to the operators", ["kind"],
                              registry=REGISTRY)
DEADLINES_MISSED = Counter("carm_gateway_deadlines_missed",
                           "Deadlines that passed with their clock running", ["kind"],
                           registry=REGISTRY)
BROKER_CONNECTED = Gauge("carm_gateway_broker_connected", "1 while connected to the broker",
                         registry=REGISTRY)
