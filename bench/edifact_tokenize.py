"""Micro-benchmark: tokenizing a 50-segment interchange with the envelope checks, against
pydifact's parse of the same input, measured in one run (DESIGN.md: every figure is a ratio
against a baseline of the same run, because these machines are noisy).

    .venv/bin/python bench/edifact_tokenize.py [--seconds 1.0]

Prints a line per contender, the ratio, and one JSON line for tooling.
"""

import argparse
import json
import logging
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pydifact.segmentcollection import Interchange as PydifactInterchange

from gateway.codec.edifact import from_xml_to_edifact, tokenize
from gateway.codec.messages import Declaration
from gateway.codec.xml_documents import decode
from gateway.codec.xml_parser import parse

ROOT = Path(__file__).resolve().parents[1]
SEGMENTS = 50
TARGET_RATIO = 3.0


def interchange_of_50_segments() -> bytes:
    """examples/declaration.xml as CUSDEC D96B with a fourth line: UNB to UNZ, 50 segments."""
    declaration = decode(parse((ROOT / "examples" / "declaration.xml").read_bytes()))
    assert isinstance(declaration, Declaration)
    extra = replace(declaration.lines[0], number=4)
    payload = from_xml_to_edifact(replace(declaration, lines=(*declaration.lines, extra)),
                                  syntax_version=3, directory="D96B", reference="BENCH1")
    interchange = tokenize(payload)
    assert interchange.all_problems == (), interchange.all_problems
    assert len(interchange.segments) == SEGMENTS, len(interchange.segments)
    return payload


def calls_per_second(work: Callable[[], object], seconds: float) -> float:
    """Best of five rounds, each of about seconds / 5."""
    work()
    best = 0.0
    for _ in range(5):
        count = 0
        started = time.perf_counter()
        deadline = started + seconds / 5
        while time.perf_counter() < deadline:
            work()
            count += 1
        best = max(best, count / (time.perf_counter() - started))
    return best


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__)
    arguments.add_argument("--seconds", type=float, default=1.0,
                           help="time per contender, in seconds (default 1.0)")
    options = arguments.parse_args()
    payload = interchange_of_50_segments()
    text = payload.decode("latin-1")
    logging.getLogger("pydifact").setLevel(logging.WARNING)
    warnings.simplefilter("ignore")

    def ours() -> object:
        return tokenize(payload)

    def pydifact() -> object:
        return PydifactInterchange.from_str(text)

    ours_rate = calls_per_second(ours, options.seconds)
    pydifact_rate = calls_per_second(pydifact, options.seconds)
    ratio = ours_rate / pydifact_rate
    print(f"gateway tokenize + envelope checks: {ours_rate:10.0f} interchanges/s")
    print(f"pydifact Interchange.from_str:      {pydifact_rate:10.0f} interchanges/s")
    print(f"ratio: {ratio:.1f}x (target at least {TARGET_RATIO:.0f}x)")
    print(json.dumps({"bench": "edifact_tokenize", "segments": SEGMENTS,
                      "bytes": len(payload), "gateway_per_s": round(ours_rate),
                      "pydifact_per_s": round(pydifact_rate), "ratio": round(ratio, 2),
                      "target_ratio": TARGET_RATIO}))
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
