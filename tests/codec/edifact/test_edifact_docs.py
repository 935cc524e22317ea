"""docs/edifact.md and examples/edifact/ agree: every EDIFACT example in the guide is a file of
the folder (byte for byte, line ends aside), and every file of the folder is in the guide."""

import re

from edifact_samples import DOCS, EDIFACT_EXAMPLES

from gateway.codec.edifact import tokenize

_BLOCK = re.compile(r"(<!-- file: (examples/edifact/[^ ]+) -->\n)?```edifact\n(.*?)\n```",
                    re.DOTALL)


def blocks() -> list[tuple[str | None, str]]:
    return [(found[2], found[3]) for found in _BLOCK.finditer(DOCS.read_text("utf-8"))]


def test_every_edifact_example_of_the_guide_is_a_file_of_examples() -> None:
    """Each ```edifact block names its file just before it and equals that file."""
    found = blocks()
    assert len(found) >= 9
    for name, text in found:
        assert name is not None, text[:60]
        on_disk = (DOCS.parents[1] / name).read_bytes().decode("latin-1")
        assert on_disk.replace("\r\n", "\n").rstrip("\n") == text, name


def test_every_example_file_is_described_in_the_guide() -> None:
    """No example without its line in the guide's table or its block."""
    guide = DOCS.read_text("utf-8")
    for path in sorted(EDIFACT_EXAMPLES.glob("*.edi")):
        prefix = path.name.split("-")[0] + "-*.edi"
        assert path.name in guide or prefix in guide, path.name


def test_the_guides_inputs_tokenize_cleanly_and_its_responses_read_back() -> None:
    """The CUSDEC and REMADV examples have no problem; the responses only their own EDI003
    (CONTRL, CUSRES and APERAK are not accepted input)."""
    for name, text in blocks():
        assert name is not None
        interchange = tokenize(text.encode("latin-1"))
        expected = [] if name.split("/")[-1].startswith(("declaration", "payment")) else \
            ["EDI003"]
        assert [problem.code for problem in interchange.all_problems] == expected, name
