"""`carm-gateway convert FILE`: the XML form of an EDIFACT message, the EDIFACT form of XML.

An interchange with several messages prints each message's XML document, one after another.
"""

import re
import sys
from pathlib import Path

from gateway.codec.classify import syntax_of
from gateway.codec.edifact import from_xml_to_edifact, map_message, to_xml, tokenize
from gateway.codec.messages import Declaration, Payment
from gateway.codec.xml_documents import decode, validate_schema
from gateway.codec.xml_parser import XmlRefused, parse
from gateway.commands import EXIT_FAILED, EXIT_OK, UsageError
from gateway.config import Config

UNB_REFERENCE_CHARACTERS = 14


def _report(file: str, problems: object) -> int:
    for item in problems:  # type: ignore[attr-defined]
        print(f"{file}:{item.line or 0}: {item.severity} {item.code} {item.path or '-'}: "
              f"{item.text}", file=sys.stderr)
    return EXIT_FAILED


def _from_edifact(file: str, payload: bytes) -> int:
    interchange = tokenize(payload)
    if not interchange.sound:
        return _report(file, interchange.problems)
    for message in interchange.messages:
        mapped, problems = map_message(interchange, message)
        if mapped is None:
            return _report(file, [*message.problems, *problems])
        sys.stdout.buffer.write(to_xml(mapped))
    return EXIT_OK


def _from_xml(file: str, payload: bytes) -> int:
    try:
        root = parse(payload)
    except XmlRefused as refused:
        return _report(file, refused.problems)
    problems = validate_schema(root)
    if problems:
        return _report(file, problems)
    message = decode(root)
    if not isinstance(message, Declaration | Payment):
        raise UsageError(f"{file}: only declarations and payments have an EDIFACT form "
                         f"(this is a {message.kind})")
    reference = re.sub(r"[^A-Za-z0-9]", "", message.header.message_id)[-UNB_REFERENCE_CHARACTERS:]
    sys.stdout.buffer.write(from_xml_to_edifact(message, reference=reference or "1"))
    return EXIT_OK


def convert(config: Config, file: str) -> int:
    del config  # conversion needs no configuration
    try:
        payload = Path(file).read_bytes()
    except OSError as error:
        raise UsageError(f"{file}: cannot read: {error.strerror}") from None
    if syntax_of(payload) == "edifact":
        return _from_edifact(file, payload)
    return _from_xml(file, payload)
