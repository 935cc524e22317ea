"""Messages of one EDIFACT interchange: processing per message in a large interchange against
a small one, in-process on a fresh SQLite database each (`bench/run.py --only interchange`).

Each message of an interchange is journalled as a part of it and checked and answered from the
interchange's bytes. The cost per message should not depend on how large the interchange is;
when each message read and compared the whole interchange again, a 1 MB one cost some 1.5 ms
more per message than a small one (docs/performance.md).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from figures import Figure, Report
from growth import Subject
from traffic import Message, Partners, Traffic

CANDIDATES_MAX = 100_000
"""Messages the generator may produce while looking for enough of one sender's."""


@dataclass(frozen=True)
class Interchanges:
    small: int
    large: int
    rounds: int = 2


def interchange_of(partners: Partners, count: int, seed: int) -> Message:
    """One interchange of `count` valid 10-line CUSDEC messages of one sender, each renumbered
    (the generator writes one message per interchange)."""
    traffic = Traffic(partners, seed=seed, stream=70, mix="declaration-10", edifact_share=1.0)
    first: Message | None = None
    bodies: list[str] = []
    for _ in range(CANDIDATES_MAX):
        if len(bodies) == count:
            break
        message = traffic.next_message()
        if message.syntax != "edifact" or (first is not None and message.sender != first.sender):
            continue
        first = first or message
        segments = message.payload.decode("latin-1").split("'\r\n")
        start = next(i for i, text in enumerate(segments) if text.startswith("UNH+"))
        end = next(i for i, text in enumerate(segments) if text.startswith("UNT+"))
        number = len(bodies) + 1
        head = segments[start].split("+", 2)
        tail = segments[end].split("+")
        body = [f"UNH+{number}+{head[2]}", *segments[start + 1:end],
                f"UNT+{tail[1]}+{number}"]
        bodies.append("".join(text + "'\r\n" for text in body))
    if first is None or len(bodies) < count:
        raise RuntimeError(f"{len(bodies)} of {count} messages of one sender generated")
    segments = first.payload.decode("latin-1").split("'\r\n")
    envelope = [text + "'\r\n" for text in segments if text.startswith(("UNA", "UNB+"))]
    reference = next(text for text in segments if text.startswith("UNB+")).rsplit("+", 1)[-1]
    text = "".join(envelope) + "".join(bodies) + f"UNZ+{count}+{reference}'\r\n"
    return Message(first.sequence, first.sender, "declaration", "edifact", 10, None,
                   reference, text.encode("latin-1"))


def run_interchange_benchmark(report: Report, partners: Partners, partners_file: Path,
                              sizes: Interchanges, seed: int) -> None:
    """Each size in a fresh database per round, small and large taking turns."""
    small = interchange_of(partners, sizes.small, seed)
    large = interchange_of(partners, sizes.large, seed)
    spent = {sizes.small: 0.0, sizes.large: 0.0}
    with tempfile.TemporaryDirectory(prefix="carm-interchange-") as directory:
        order = [(sizes.small, small), (sizes.large, large)]
        for round_number in range(sizes.rounds):
            for count, interchange in order:
                subject = Subject(Path(directory) / f"{round_number}-{count}.db", partners_file)
                try:
                    subject.run([interchange])
                    answered = subject.database.transaction_sync(lambda tx: tx.one(
                        "SELECT COUNT(*) FROM outcomes WHERE status = 'accepted'"))
                finally:
                    subject.close()
                if answered is None or int(answered[0]) != count + 1:
                    raise RuntimeError(f"{answered} of {count} messages and the interchange "
                                       "accepted")
                spent[count] += subject.measured.process_s
            order.reverse()
    per_small = spent[sizes.small] / (sizes.small * sizes.rounds) * 1e3
    per_large = spent[sizes.large] / (sizes.large * sizes.rounds) * 1e3
    report.note(f"interchanges: {sizes.small} messages in {len(small.payload) / 1e6:.2f} MB, "
                f"{sizes.large} in {len(large.payload) / 1e6:.2f} MB, rounds: {sizes.rounds}")
    report.add(Figure(f"processing per message, interchange of {sizes.large} messages",
                      per_large, "ms", per_small, f"in an interchange of {sizes.small}",
                      note="the interchange's own CONTRL included"))
