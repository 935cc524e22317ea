"""Alerts to the operators: escalated deadlines and dead deliveries, by email through the outbox.

A log event and a metric are the primary channel (mail may be what is failing); the email is
queued in the caller's transaction, with a Message-ID fixed by what the alert is about.
"""

from datetime import datetime

from gateway.config import Config
from gateway.delivery.email_content import header_message_id, plain_email
from gateway.store.database import Tx
from gateway.store.outbox import Delivery, enqueue


def queue_alert(tx: Tx, config: Config, *, key: str, subject: str, text: str,
                now: datetime) -> None:
    """One email per operator address; `key` names what the alert is about."""
    smtp = config.smtp
    deliveries = []
    for address in smtp.operators:
        message_id = header_message_id(config.gateway.cluster, "operators", key, "alert",
                                       address, smtp.domain)
        payload = plain_email(sender_address=smtp.sender, recipient=address,
                              subject=f"[CARM gateway] {subject}", text=text,
                              message_id=message_id, now=now)
        deliveries.append(Delivery("email", address, payload, header_message_id=message_id))
    enqueue(tx, None, False, deliveries, now, instance=config.gateway.id, purpose="alert")
