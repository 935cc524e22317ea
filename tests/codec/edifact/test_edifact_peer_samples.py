"""Cross-check against pydifact (test-only): every interchange of the peer samples tokenizes to
the same segments and elements as pydifact gives."""

import logging
import warnings
from pathlib import Path

import pytest
from pydifact.exceptions import EDISyntaxError
from pydifact.segmentcollection import RawSegmentCollection
from support.corpus import CORPUS

from gateway.codec.edifact import Element, Interchange, tokenize

PEER_SAMPLES = CORPUS / "edifact" / "peer-samples"
SAMPLES = sorted(PEER_SAMPLES.glob("*.edi")) if PEER_SAMPLES.is_dir() else []

PydifactElement = str | list[str]


def as_pydifact(element: Element) -> PydifactElement:
    """pydifact's form of an element: trailing empty components dropped, a single component
    as a string, several as a list, none as ""."""
    components = list(element)
    while components and components[-1] == "":
        components.pop()
    if not components:
        return ""
    return components[0] if len(components) == 1 else components


def ours(interchange: Interchange) -> list[tuple[str, list[PydifactElement]]]:
    return [(segment.tag, [as_pydifact(element) for element in segment.elements])
            for segment in interchange.segments]


def theirs(text: str) -> list[tuple[str, list[PydifactElement]]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collection = RawSegmentCollection.from_str(text)
    return [(segment.tag, list(segment.elements)) for segment in collection.segments
            if segment.tag != "UNA"]


@pytest.fixture(autouse=True)
def _quiet_pydifact() -> None:
    logging.getLogger("pydifact").setLevel(logging.WARNING)


@pytest.mark.skipif(not SAMPLES, reason="the shared corpus is not available")
@pytest.mark.parametrize("sample", SAMPLES, ids=[sample.name for sample in SAMPLES])
def test_peer_sample_tokenizes_like_pydifact(sample: Path) -> None:
    """Same segment tags and elements (components compared in pydifact's normal form). Where
    pydifact cannot parse the whole file (it breaks off without a terminator), the segments
    before the break are compared and ours reports the break as EDI001."""
    payload = sample.read_bytes()
    text = payload.decode("latin-1")
    interchange = tokenize(payload)
    try:
        expected = theirs(text)
    except EDISyntaxError:
        expected = theirs(text[:text.rindex("'") + 1])
        assert any(problem.code == "EDI001" and "not terminated" in problem.text
                   for problem in interchange.problems)
    assert ours(interchange) == expected
    if text.startswith("UNA"):
        assert interchange.separators.una == text[:9]


@pytest.mark.skipif(not SAMPLES, reason="the shared corpus is not available")
def test_peer_samples_have_their_problems_reported_not_raised() -> None:
    """None of the samples is a CUSDEC or REMADV: each gets EDI003 (or an envelope error),
    never an exception."""
    for sample in SAMPLES:
        interchange = tokenize(sample.read_bytes())
        codes = {problem.code for problem in interchange.all_problems}
        assert codes & {"EDI001", "EDI002", "EDI003"}, sample.name
