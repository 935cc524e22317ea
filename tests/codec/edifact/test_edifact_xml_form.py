"""`carm-gateway convert`: the XML form of a mapped EDIFACT message is valid against
schemas/messages.xsd and decodes to the same message; the EDIFACT form of an XML message is
the documented CUSDEC or REMADV."""

import pytest
from edifact_samples import EDIFACT_EXAMPLES, EXAMPLES
from lxml import etree

from gateway.codec.edifact import from_xml_to_edifact, map_message, to_xml, tokenize
from gateway.codec.messages import Declaration, Payment
from gateway.codec.xml_documents import decode, load_schema
from gateway.codec.xml_parser import parse


@pytest.mark.parametrize("name", ["declaration-d96b.edi", "declaration-d21a.edi",
                                  "payment-remadv.edi", "invalid-dec001-declared-totals.edi"])
def test_xml_form_is_schema_valid_and_decodes_to_the_same_message(name: str) -> None:
    """to_xml gives a document lxml validates against the schema; decoding it gives the mapped
    message back, Header included."""
    interchange = tokenize((EDIFACT_EXAMPLES / name).read_bytes())
    mapped, _ = map_message(interchange, interchange.messages[0])
    assert isinstance(mapped, Declaration | Payment)
    document = to_xml(mapped)
    root = etree.fromstring(document)
    schema = load_schema()
    assert schema.validate(root), schema.error_log
    assert decode(parse(document)) == mapped


def test_edifact_form_of_declaration_xml_is_the_d96b_example() -> None:
    """from_xml_to_edifact writes examples/edifact/declaration-d96b.edi from
    examples/declaration.xml (syntax 3, D96B, UNOC)."""
    message = decode(parse((EXAMPLES / "declaration.xml").read_bytes()))
    written = from_xml_to_edifact(message, syntax_version=3, directory="D96B",
                                  reference="BRK42E000101")
    assert written == (EDIFACT_EXAMPLES / "declaration-d96b.edi").read_bytes()


def test_edifact_form_defaults_to_syntax_4_and_d21a() -> None:
    """Without options: UNOC:4 and CUSDEC:D:21A, MessageID `{reference}/1` when read back."""
    message = decode(parse((EXAMPLES / "payment.xml").read_bytes()))
    interchange = tokenize(from_xml_to_edifact(message, reference="R1"))
    assert (interchange.syntax_identifier, interchange.syntax_version) == ("UNOC", 4)
    assert interchange.messages[0].version == ("D", "21A")
    mapped, _ = map_message(interchange, interchange.messages[0])
    assert mapped is not None and mapped.header.message_id == "R1/1"


def test_appeals_and_account_requests_have_no_edifact_form() -> None:
    """Only declarations and payments are EDIFACT messages: the others raise ValueError."""
    appeal = decode(parse((EXAMPLES / "appeal.xml").read_bytes()))
    with pytest.raises(ValueError, match="appeal"):
        from_xml_to_edifact(appeal, reference="R1")
    message = decode(parse((EXAMPLES / "payment.xml").read_bytes()))
    with pytest.raises(ValueError, match="D96B or D21A"):
        from_xml_to_edifact(message, reference="R1", directory="D01B")
