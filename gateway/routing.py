"""The route table: from a message's kind to the handler that applies it."""

from collections.abc import Callable
from typing import Any

from gateway.appeals.intake import handle_account_request, handle_appeal
from gateway.codec.messages import Message
from gateway.handling import HandlerContext, HandlerResult
from gateway.ledger.declarations import handle_declaration
from gateway.ledger.payments import handle_payment
from gateway.store.database import Tx

Handler = Callable[[Tx, Any, HandlerContext], HandlerResult]

ROUTES: dict[str, Handler] = {
    "declaration": handle_declaration,
    "payment": handle_payment,
    "appeal": handle_appeal,
    "account-request": handle_account_request,
}


def route(tx: Tx, message: Message, context: HandlerContext) -> HandlerResult:
    """Apply a validated message inside the caller's transaction."""
    return ROUTES[message.kind](tx, message, context)
