"""Leading blanks before an XML document (CONTRACT section 1, docs/contract-notes.md): the
first non-blank bytes decide the syntax however many blanks come first; the document is then
XML as the XML grammar reads it."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.pipeline import Harness, declaration

BLANKS = b" \t\r\n" * 1250
"""5000 bytes of blanks: more than the classification scan reads."""


@pytest.fixture
def harness(database_url: str, tmp_path: Path) -> Iterator[Harness]:
    opened = Harness.open(database_url, tmp_path / "state")
    yield opened
    opened.close()


def without_xml_declaration(payload: bytes) -> bytes:
    declared, body = payload.split(b"\n", 1)
    assert declared.startswith(b"<?xml ")
    return body


def test_a_document_after_many_blanks_is_processed(harness: Harness) -> None:
    """Blanks before the root element are XML's own whitespace: the declaration is accepted
    and keyed by its MessageID, so a re-send is DUP001."""
    payload = BLANKS + without_xml_declaration(declaration(message_id="BLANK-1"))
    outcome = harness.submit(payload)
    assert (outcome.status, [p.code for p in outcome.problems]) == ("accepted", [])
    assert harness.scalar("SELECT message_key FROM inbox WHERE id = 1") == "BLANK-1"
    again = harness.submit(payload)
    assert [p.code for p in again.problems] == ["DUP001"]


def test_an_xml_declaration_after_blanks_is_not_well_formed(harness: Harness) -> None:
    """An XML declaration must start the document: after blanks it is XML001 saying so, of
    Kind declaration (the document is XML, not "neither XML nor EDIFACT")."""
    outcome = harness.submit(BLANKS + declaration(message_id="BLANK-2"))
    assert outcome.status == "rejected" and outcome.kind == "declaration"
    [refused] = outcome.problems
    assert refused.code == "XML001"
    assert "XML declaration allowed only at the start of the document" in refused.text
