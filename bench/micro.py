"""Micro-benchmarks, in this process: the gateway's check of a document against bare lxml.

- `check` (gateway.validation.pipeline): size limit, hardened parse, XSD, decode to the typed
  message, sender, account, transaction and stateless business rules;
- baseline: `etree.fromstring` + the compiled schema's `validate` on the same bytes;
- a breakdown of the 10-line case (hardened parse + XSD, decode, rules) to show where the
  difference goes;
- EDIFACT: the project's tokenizer against pydifact, when EDIFACT documents can be made.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime

from figures import Figure, Report
from lxml import etree
from traffic import Partners, declaration_of_lines, edifact_converter

from gateway.codec.xml_documents import decode, load_schema, validate_schema
from gateway.codec.xml_parser import parse
from gateway.partners import Registry
from gateway.standards.calendar import BusinessCalendar, CalendarSettings
from gateway.validation.pipeline import CheckSettings, Sending, check

ROUNDS = 5
DOCUMENT_LINES = (1, 10, 100, 999)
CHECK_TARGET_RATIO = 1.5


def seconds_per_call(work: Callable[[], object], budget_s: float) -> float:
    """Median over ROUNDS of the mean time of one call; each round lasts about budget/ROUNDS."""
    work()
    started = time.perf_counter()
    work()
    once_s = max(1e-7, time.perf_counter() - started)
    calls = max(1, int(budget_s / ROUNDS / once_s))
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(calls):
            work()
        rounds.append((time.perf_counter() - started) / calls)
    return statistics.median(rounds)


def run_check_benchmarks(report: Report, partners: Partners, registry: Registry,
                         budget_s: float) -> None:
    calendar = BusinessCalendar(CalendarSettings())
    schema = load_schema()
    settings = CheckSettings()
    sender = partners.senders[0].id
    sending = Sending(sender, registry)
    received_at = datetime.now(UTC)
    for lines in DOCUMENT_LINES:
        payload = declaration_of_lines(partners, lines)
        checked = check(payload, settings=settings, sending=sending, received_at=received_at,
                        calendar=calendar)
        if checked.rejected:
            codes = [p.code for p in checked.problems]
            raise RuntimeError(f"the {lines}-line benchmark document is rejected: {codes}")

        def bare(payload: bytes = payload) -> object:
            return schema.validate(etree.fromstring(payload))

        def gateway(payload: bytes = payload) -> object:
            return check(payload, settings=settings, sending=sending, received_at=received_at,
                         calendar=calendar)

        bare_s = seconds_per_call(bare, budget_s)
        gateway_s = seconds_per_call(gateway, budget_s)
        report.add(Figure(
            f"check, {lines}-line declaration ({len(payload):,} bytes)", gateway_s * 1e6, "us",
            bare_s * 1e6, "lxml fromstring + XSD validate of the same bytes",
            target=f"ratio <= {CHECK_TARGET_RATIO}" if lines == 10 else None,
        ))
        if lines == 10:
            _breakdown(report, payload, bare_s, budget_s)


def _breakdown(report: Report, payload: bytes, bare_s: float, budget_s: float) -> None:
    root = parse(payload)

    def hardened() -> object:
        return validate_schema(parse(payload))

    stages = (
        ("hardened parse + XSD (10 lines)", hardened),
        ("decode to typed message (10 lines)", lambda: decode(root)),
    )
    for name, work in stages:
        report.add(Figure(f"  stage: {name}", seconds_per_call(work, budget_s / 2) * 1e6, "us",
                          bare_s * 1e6, "lxml fromstring + XSD validate"))


def run_edifact_benchmark(report: Report, partners: Partners, budget_s: float) -> None:
    convert, note = edifact_converter()
    if convert is None:
        report.note(f"EDIFACT micro-benchmark and EDIFACT traffic skipped: {note}")
        return
    from pydifact.segmentcollection import Interchange  # noqa: PLC0415

    from gateway.codec.edifact import tokenize  # noqa: PLC0415

    payload = convert(declaration_of_lines(partners, 10), "E00000000001")
    text = payload.decode("latin-1")
    ours = seconds_per_call(lambda: tokenize(payload), budget_s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydifact warns that it ships no segment directory
        theirs = seconds_per_call(lambda: Interchange.from_str(text), budget_s)
    report.add(Figure(f"EDIFACT tokenize, 10-line CUSDEC ({len(payload):,} bytes)", ours * 1e6,
                      "us", theirs * 1e6, "pydifact Interchange.from_str of the same text"))
