"""From a tokenized message to the typed Declaration or Payment of CONTRACT section 2.

The Header comes from the envelope: MessageID is `{UNB 0020}/{UNH 0062}`, Sender the UNB
sender identification, SentAt the UNB date and time read as Eastern time, Test the UNB test
indicator 1. `source_lines` maps the XML-style paths the business rules use to segment numbers.
"""

import re

from gateway.codec.edifact._types import EdiMessage, Interchange
from gateway.codec.edifact._values import Reader
from gateway.codec.edifact.cusdec import read_declaration
from gateway.codec.edifact.remadv import read_payment
from gateway.codec.edifact.tokenizer import Segment
from gateway.codec.messages import Declaration, Header, Payment
from gateway.validation.problems import Problem, has_errors, problem

ROOTS = {"CUSDEC": "Declaration", "REMADV": "Payment"}
_MESSAGE_ID = re.compile(r"[A-Za-z0-9._:/\-]{1,64}")
_SENDER = re.compile(r"[A-Za-z0-9_\-]{1,32}")


def _header(interchange: Interchange, message: EdiMessage, reader: Reader) -> Header | None:
    unb = interchange.segments[0] if interchange.segments else Segment("UNB")
    unh = message.segments[0]
    message_id = f"{interchange.control_reference}/{message.reference}"
    for path, segment in (("/Header", unb), ("/Header/MessageID", unh),
                          ("/Header/Sender", unb), ("/Header/SentAt", unb),
                          ("/Header/Test", unb)):
        reader.at(path, segment)
    valid = True
    if _MESSAGE_ID.fullmatch(message_id) is None:
        reader.invalid(unh, 1, None, f"MessageID {message_id!r} (UNB 0020/UNH 0062) does not "
                                     "match [A-Za-z0-9._:/-]{1,64}")
        valid = False
    if _SENDER.fullmatch(interchange.sender) is None:
        reader.invalid(unb, 2, 1, f"Sender {interchange.sender!r} (UNB 0004) does not match "
                                  "[A-Za-z0-9_-]{1,32}")
        valid = False
    if interchange.prepared_at is None:
        reader.invalid(unb, 4, None, "SentAt: the UNB date and time cannot be read")
        valid = False
    if not valid or interchange.prepared_at is None:
        return None
    return Header(message_id=message_id, sender=interchange.sender,
                  sent_at=interchange.prepared_at, test=interchange.test)


def map_message(interchange: Interchange,
                message: EdiMessage) -> tuple[Declaration | Payment | None, list[Problem]]:
    """The typed message and its SCH001 problems (stage 4).

    Meant for a message that passed syntax (stage 3): for one of a broken interchange, a
    syntactically broken message or an unsupported type, it gives None and those errors again.
    """
    syntax = [item for item in (*interchange.problems, *message.problems)
              if item.severity == "error"]
    root = ROOTS.get(message.message_type)
    if has_errors(syntax) or root is None or not message.supported:
        if not syntax:
            text = f"message type {message.message_type} {message.directory} is not supported"
            syntax = [problem("EDI003", text, "UNH+2", message.first_number)]
        return None, syntax
    reader = Reader(root)
    reader.at("", message.segments[0])
    header = _header(interchange, message, reader)
    segments = message.segments
    unt_line = segments[-1].number
    body = segments[1:-1] if segments[-1].tag == "UNT" else segments[1:]
    mapped: Declaration | Payment | None
    if root == "Declaration":
        mapped = read_declaration(body, header, reader, unt_line)
    else:
        mapped = read_payment(body, header, reader, unt_line)
    return mapped, reader.problems
