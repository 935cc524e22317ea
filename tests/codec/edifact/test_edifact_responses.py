"""CONTRL, CUSRES and APERAK (CONTRACT section 5): complete interchanges in the request's syntax,
sender and recipient swapped, with correct counts, that read back cleanly."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from edifact_samples import (
    DECLARATION_ACCEPTED,
    EDIFACT_EXAMPLES,
    NOW,
    PAYMENT_ACCEPTED,
    RESPONSE_EXAMPLES,
    ResponseExample,
    read,
)

from gateway.codec.edifact import Interchange, Segment, aperak, contrl, cusres, tokenize
from gateway.validation.problems import problem


def read_back(payload: bytes) -> Interchange:
    """The response tokenized: its only problem is that its own type is not accepted input."""
    interchange = tokenize(payload)
    assert [item.code for item in interchange.all_problems] == ["EDI003"]
    assert interchange.sound
    return interchange


def body(interchange: Interchange) -> list[Segment]:
    return list(interchange.messages[0].segments)


@pytest.mark.parametrize("example", RESPONSE_EXAMPLES, ids=[e.file for e in RESPONSE_EXAMPLES])
def test_response_example_is_what_the_writer_gives(example: ResponseExample) -> None:
    """The response examples of examples/edifact/ (and docs/edifact.md) are written again byte
    for byte, and read back with correct UNT and UNZ counts and references."""
    written = example.write()
    assert written == (EDIFACT_EXAMPLES / example.file).read_bytes()
    read_back(written)


def test_responses_swap_sender_and_recipient_and_keep_the_syntax() -> None:
    """From the request's recipient to its sender, in its identifier and version; Eastern
    date and time in the version's format; our own interchange reference."""
    request = read("declaration-d21a.edi")
    response = read_back(contrl(request, {}, reference="GW9", now=NOW))
    unb = response.segments[0]
    assert unb.elements[:5] == (("UNOB", "4"), ("CARMGW",), ("BRK42",), ("20261123", "1406"),
                                ("GW9",))
    assert response.segments[-1].elements == (("1",), ("GW9",))
    v3 = read_back(contrl(read("payment-remadv.edi"), {}, reference="GW9", now=NOW))
    assert v3.segments[0].elements[0] == ("UNOA", "3")
    assert v3.segments[0].component(4, 1) == "261123"


def test_contrl_echoes_the_interchange_and_acknowledges_each_message() -> None:
    """UCI carries the request's reference, sender and recipient; UCM each message's reference
    and identifier with action 7 when sound."""
    segments = body(read_back(contrl(read("declaration-d96b.edi"), {}, reference="GW1",
                                     now=NOW)))
    assert segments[0].elements[1] == ("CONTRL", "D", "3", "UN")
    assert segments[1] == Segment.of("UCI", "BRK42E000101", "BRK42", "CARMGW", "7")
    assert segments[2] == Segment.of("UCM", "1", ("CUSDEC", "D", "96B", "UN"), "7")


def test_contrl_reports_segment_and_element_positions_in_the_message() -> None:
    """A bad character gives UCS with the segment's position in the message (UNH is 1) and UCD
    with the element and component."""
    segments = body(read_back(contrl(read("invalid-edi001-unoa-character.edi"), {},
                                     reference="GW1", now=NOW)))
    assert Segment.of("UCS", "2") in segments
    assert Segment.of("UCD", "21", ("2", "1")) in segments


def test_contrl_passes_on_extra_problems_of_a_message() -> None:
    """Problems handed in for a message reference are reported in its UCM; business problems
    are not CONTRL's."""
    request = read("payment-remadv.edi")
    extra = {"1": [problem("EDI003", "not accepted here", "UNH+2:1", 3),
                   problem("PAY001", "allocations exceed", "/Payment/Amount", 12)]}
    segments = body(read_back(contrl(request, extra, reference="GW1", now=NOW)))
    assert Segment.of("UCM", "1", ("REMADV", "D", "96B", "UN"), "4", "14", "UNH",
                      ("2", "1")) in segments
    assert not any(segment.tag == "UCS" for segment in segments)


def test_cusres_carries_status_reference_ids_deadline_assessment_balance_and_due_date() -> None:
    """Every item of the outcome of an accepted declaration, in CUSRES D96B for a D96B
    request."""
    segments = body(read_back(EDIFACT_EXAMPLES.joinpath("cusres-accepted.edi").read_bytes()))
    assert segments[0].elements[1] == ("CUSRES", "D", "96B", "UN")
    assert Segment.of("BGM", "962", "gw1-000000000042", "9", "AP") in segments
    assert Segment.of("DTM", ("63", "202611251405", "203")) in segments
    assert Segment.of("DTM", ("140", "20261201", "102")) in segments
    assert Segment.of("FTX", "PMT", "", "BALANCE", "1093.07") in segments
    assert Segment.of("RFF", ("ACW", "BRK42E000101/1")) in segments
    assert Segment.of("RFF", ("AAE", "12345000001235", "", "1")) in segments
    assert Segment.of("MOA", ("161", "1093.07", "CAD")) in segments


def test_cusres_carries_each_problem_code_in_erc_and_its_text_in_ftx() -> None:
    """ERC has the section 3 code; FTX its severity, text, path and line."""
    segments = body(read_back(EDIFACT_EXAMPLES.joinpath("cusres-rejected.edi").read_bytes()))
    assert Segment.of("BGM", "962", "gw1-000000000043", "9", "RE") in segments
    assert [segment.component(1, 1) for segment in segments if segment.tag == "ERC"] == \
           ["DEC001", "DEC001"]
    texts = [segment for segment in segments if segment.tag == "FTX"]
    assert texts[0] == Segment.of("FTX", "AAO", "", "ERROR", (
        "declared 481.72, computed 481.27", "", "", "/Declaration/DeclaredTotals/GST", "40"))
    assert not any(segment.tag == "TAX" for segment in segments)


def test_cusres_answers_in_the_directory_of_the_request() -> None:
    """A D21A CUSDEC gets a D21A CUSRES."""
    request = read("declaration-d21a.edi")
    response = read_back(cusres(request, request.messages[0], DECLARATION_ACCEPTED,
                                reference="GW1", now=NOW))
    assert body(response)[0].elements[1] == ("CUSRES", "D", "21A", "UN")


def test_aperak_carries_the_payment_outcome() -> None:
    """Status, ids, reference, deadline, balance and problems of a payment."""
    request = read("payment-remadv.edi")
    outcome = replace(PAYMENT_ACCEPTED, problems=(problem("DUP001", "a re-send"),))
    segments = body(read_back(aperak(request, request.messages[0], outcome, reference="GW1",
                                     now=NOW)))
    assert segments[0].elements[1] == ("APERAK", "D", "96B", "UN")
    assert Segment.of("RFF", ("PQ", "PAY-2026-000045")) in segments
    assert Segment.of("FTX", "PMT", "", "BALANCE", "-141.49") in segments
    assert Segment.of("ERC", "DUP001") in segments
    assert Segment.of("FTX", "AAO", "", "INFO", "A RE-SEND") in segments


def test_text_is_fitted_to_unoa() -> None:
    """UNOA has no lower case: ids and texts are written in upper case, other characters
    outside the repertoire as spaces; UNOC keeps them."""
    request = read("payment-remadv.edi")
    outcome = replace(PAYMENT_ACCEPTED, problems=(problem("PAY002", "unknown transaction "
                                                                    "éa_b"),))
    segments = body(read_back(aperak(request, request.messages[0], outcome, reference="GW1",
                                     now=NOW)))
    assert Segment.of("BGM", "312", "GW1-000000000044", "9", "AP") in segments
    assert Segment.of("FTX", "AAO", "", "ERROR", "UNKNOWN TRANSACTION  A B") in segments


@pytest.mark.parametrize(("status", "code"), [("accepted", "AP"), ("rejected", "RE"),
                                              ("deferred", "AJ")])
def test_status_is_the_bgm_response_type(status: str, code: str) -> None:
    """BGM 4343: AP accepted, RE rejected, AJ pending (deferred)."""
    request = read("payment-remadv.edi")
    outcome = replace(PAYMENT_ACCEPTED, status=status, balance=None)
    segments = body(read_back(aperak(request, request.messages[0], outcome, reference="GW1",
                                     now=NOW)))
    assert segments[1].component(4, 1) == code


def test_a_test_interchange_gets_test_responses() -> None:
    """The UNB test indicator of the request is repeated on its responses."""
    payload = (EDIFACT_EXAMPLES / "payment-remadv.edi").read_bytes().replace(
        b"BRK42E000201'", b"BRK42E000201++++++1'", 1)
    response = read_back(contrl(tokenize(payload), {}, reference="GW1", now=NOW))
    assert response.test


def test_times_are_eastern_across_daylight_saving() -> None:
    """DTM 203 values are Eastern local time: 14:06 in November, 15:06 in July for 19:06Z."""
    request = read("payment-remadv.edi")
    summer = datetime(2026, 7, 2, 19, 6, tzinfo=UTC)
    outcome = replace(PAYMENT_ACCEPTED, respond_by=None, balance=Decimal(0))
    segments = body(read_back(aperak(request, request.messages[0], outcome, reference="GW1",
                                     now=summer)))
    assert Segment.of("DTM", ("137", "202607021506", "203")) in segments
