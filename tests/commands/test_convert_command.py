"""`carm-gateway convert` and `validate` with EDIFACT files."""

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.codec.xml_documents import decode, validate_schema
from gateway.codec.xml_parser import parse

REPO = Path(__file__).resolve().parents[2]
EDIFACT = REPO / "examples" / "edifact"


def test_edifact_to_xml_is_the_xml_twin(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """The XML form of the CUSDEC twin is schema-valid and decodes to the same lines and
    totals as examples/declaration.xml."""
    assert main(["convert", str(EDIFACT / "declaration-d96b.edi")]) == 0
    document = parse(capsysbinary.readouterr().out)
    assert validate_schema(document) == []
    converted = decode(document)
    original = decode(parse((REPO / "examples" / "declaration.xml").read_bytes()))
    assert converted.lines == original.lines  # type: ignore[union-attr]
    assert converted.declared_totals == original.declared_totals  # type: ignore[union-attr]


def test_xml_to_edifact_round_trips(capsysbinary: pytest.CaptureFixture[bytes],
                                    tmp_path: Path) -> None:
    """XML -> EDIFACT -> XML keeps the payment."""
    assert main(["convert", str(REPO / "examples" / "payment.xml")]) == 0
    edifact = tmp_path / "payment.edi"
    edifact.write_bytes(capsysbinary.readouterr().out)
    assert main(["convert", str(edifact)]) == 0
    back = decode(parse(capsysbinary.readouterr().out))
    original = decode(parse((REPO / "examples" / "payment.xml").read_bytes()))
    assert back.allocations == original.allocations  # type: ignore[union-attr]
    assert back.amount == original.amount  # type: ignore[union-attr]


def test_validate_reports_segment_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    """EDIFACT problems are printed with the segment number as LINE; exit 1."""
    assert main(["validate", str(EDIFACT / "invalid-edi002-unt-count.edi"),
                 str(EDIFACT / "declaration-d21a.edi")]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{EDIFACT / 'invalid-edi002-unt-count.edi'}:13: error EDI002 UNT+1: "
                     "UNT gives 10 segments (0074), the message has 11"]


def test_appeals_have_no_edifact_form(capsys: pytest.CaptureFixture[str]) -> None:
    """Only declarations and payments convert to EDIFACT: exit 2 with a reason."""
    assert main(["convert", str(REPO / "examples" / "appeal.xml")]) == 2
    assert "only declarations and payments" in capsys.readouterr().err
