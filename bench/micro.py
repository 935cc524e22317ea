"""Micro-benchmarks, in this process: the gateway's check of a document against bare lxml.

- `check` (gateway.validation.pipeline): size limit, hardened parse, XSD, decode to the typed
  message, sender, account, transaction and stateless business rules;
- baseline: `etree.fromstring` + the compiled schema's `validate` on the same bytes;
- a breakdown of the 10-line case (hardened parse + XSD, decode, rules) to show where the
  difference goes, and the floor of any decoder on lxml: the baseline plus reading every
  element's tag and text;
- the contenders of each figure take turns round by round, and each keeps its fastest round.
- EDIFACT: the project's tokenizer against pydifact, when EDIFACT documents can be made.
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from figures import Figure, Report
from lxml import etree
from traffic import Partners, declaration_of_lines, edifact_converter

from gateway.codec.xml_documents import decode, load_schema, validate_schema
from gateway.codec.xml_parser import parse
from gateway.partners import Registry
from gateway.standards.calendar import BusinessCalendar, CalendarSettings
from gateway.validation.pipeline import CheckSettings, Sending, check, check_message

ROUNDS = 5
DOCUMENT_LINES = (1, 10, 100, 999)
CHECK_TARGET_RATIO = 1.5


def seconds_per_call(work: Callable[[], object], budget_s: float) -> float:
    """The fastest of ROUNDS rounds' mean time of one call; each round lasts budget/ROUNDS."""
    return seconds_per_call_each([work], budget_s)[0]


def seconds_per_call_each(works: Sequence[Callable[[], object]], budget_s: float) -> list[float]:
    """`seconds_per_call` of several contenders taking turns, round by round, so that a slow
    spell of this shared machine falls on all of them rather than on one. Each figure is the
    fastest round's mean: noise only ever adds time."""
    calls = []
    for work in works:
        work()
        started = time.perf_counter()
        work()
        once_s = max(1e-7, time.perf_counter() - started)
        calls.append(max(1, int(budget_s / len(works) / ROUNDS / once_s)))
    fastest = [float("inf")] * len(works)
    for _ in range(ROUNDS):
        for index, work in enumerate(works):
            started = time.perf_counter()
            for _ in range(calls[index]):
                work()
            fastest[index] = min(fastest[index], (time.perf_counter() - started) / calls[index])
    return fastest


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

        stages = _stages(payload, calendar, sending) if lines == 10 else []
        bare_s, gateway_s, *stage_s = seconds_per_call_each(
            [bare, gateway, *(work for _, work in stages)], budget_s * (2 + len(stages) / 2))
        report.add(Figure(
            f"check, {lines}-line declaration ({len(payload):,} bytes)", gateway_s * 1e6, "us",
            bare_s * 1e6, "lxml fromstring + XSD validate of the same bytes",
            target=f"ratio <= {CHECK_TARGET_RATIO}" if lines == 10 else None,
        ))
        for (name, _), seconds in zip(stages, stage_s, strict=True):
            report.add(Figure(f"  stage: {name}", seconds * 1e6, "us", bare_s * 1e6,
                              "lxml fromstring + XSD validate"))


def _stages(payload: bytes, calendar: BusinessCalendar,
            sending: Sending) -> list[tuple[str, Callable[[], object]]]:
    """Where the check's time goes, each part against the same baseline; the floor of a
    decoder: the baseline plus reading every element's tag and text into Python, which any
    decoder built on lxml pays before it types a single value; and the bound of any decoder:
    the whole check with its decoding free (a message decoded beforehand handed to the later
    stages), which leaves a decoder only what remains of the target's 1.5x."""
    root = parse(payload)
    # two equal messages taken in turn: the totals of the message assessed last are kept
    # (the rules, then the handler, assess it), and the rules must pay for their own
    decoded = [decode(root), decode(root)]
    received_at = datetime.now(UTC)
    turn = itertools.cycle(decoded)

    def hardened() -> object:
        return validate_schema(parse(payload))

    def rules() -> object:
        return check_message(next(turn), settings=CheckSettings(), sending=None,
                             received_at=received_at, calendar=calendar)

    def decoding_free() -> object:
        validate_schema(parse(payload))
        return check_message(next(turn), settings=CheckSettings(), sending=sending,
                             received_at=received_at, calendar=calendar)

    return [
        ("hardened parse + XSD (10 lines)", hardened),
        ("decode to typed message (10 lines)", lambda: decode(root)),
        ("account, transaction and business rules (10 lines)", rules),
        ("floor: bare + reading every tag and text (10 lines)", lambda: _read_all(payload)),
        ("bound: the check with its decoding free (10 lines)", decoding_free),
    ]


def _read_all(payload: bytes) -> list[tuple[object, str | None]]:
    root = etree.fromstring(payload)
    load_schema().validate(root)
    return [(element.tag, element.text) for element in root.iter()]


def run_edifact_benchmark(report: Report, partners: Partners, budget_s: float) -> None:
    convert, note = edifact_converter()
    if convert is None:
        report.note(f"EDIFACT micro-benchmark and EDIFACT traffic skipped: {note}")
        return
    from pydifact.segmentcollection import Interchange  # noqa: PLC0415

    from gateway.codec.edifact import tokenize  # noqa: PLC0415

    payload = convert(declaration_of_lines(partners, 10), "E00000000001")
    text = payload.decode("latin-1")

    def pydifact() -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydifact warns that it ships no segment directory
            return Interchange.from_str(text)

    ours, theirs = seconds_per_call_each([lambda: tokenize(payload), pydifact], budget_s * 2)
    report.add(Figure(f"EDIFACT tokenize, 10-line CUSDEC ({len(payload):,} bytes)", ours * 1e6,
                      "us", theirs * 1e6, "pydifact Interchange.from_str of the same text"))
