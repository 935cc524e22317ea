"""`carm-gateway due --kind KIND --received ISO-TIME` (CONTRACT sections 6 and 8): the deadline
with its Eastern offset, then the Eastern wall time in words; usage errors exit 2."""

import json
from pathlib import Path

import pytest

import gateway.config
from gateway.cli import main

EXIT_USAGE = 2


@pytest.fixture(autouse=True)
def embedded_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command runs on the embedded defaults, whatever the machine has."""
    monkeypatch.setattr(gateway.config, "SYSTEM_CONFIG", tmp_path / "absent.toml")
    for variable in ("CARM_CONFIG", "CARM_MQTT_URL", "CARM_DATABASE_URL", "CARM_SMTP_URL",
                     "CARM_PARTNERS_FILE"):
        monkeypatch.delenv(variable, raising=False)


def due(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, list[str], str]:
    status = main(["due", *arguments])
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err


@pytest.mark.parametrize(
    ("kind", "received", "deadline", "words"),
    [
        ("declaration", "2026-11-20T18:00:00-05:00", "2026-11-24T18:00:00-05:00",
         "Tuesday 24 November 2026, 18:00 EST"),
        ("declaration", "2026-11-21T09:00:00-05:00", "2026-11-24T19:00:00-05:00",
         "Tuesday 24 November 2026, 19:00 EST"),
        ("appeal", "2026-10-30T10:00:00-04:00", "2026-11-09T09:00:00-05:00",
         "Monday 9 November 2026, 09:00 EST"),
        ("payment", "2026-11-20T23:00:00Z", "2026-11-24T18:00:00-05:00",
         "Tuesday 24 November 2026, 18:00 EST"),
        ("declaration", "2026-07-02T10:00:00-04:00", "2026-07-06T10:00:00-04:00",
         "Monday 6 July 2026, 10:00 EDT"),
    ],
)
def test_contract_examples(capsys: pytest.CaptureFixture[str], kind: str, received: str,
                           deadline: str, words: str) -> None:
    """Section 6's examples: first line ISO 8601 to the second with the Eastern offset, second
    line the Eastern wall time in words (whatever offset the input was given in)."""
    status, lines, error = due(capsys, "--kind", kind, "--received", received)
    assert (status, lines, error) == (0, [deadline, words], "")


def test_account_request_takes_ten_business_days(capsys: pytest.CaptureFixture[str]) -> None:
    """account-request: 10 business days, skipping the weekend and Remembrance Day."""
    status, lines, _ = due(capsys, "--kind", "account-request",
                           "--received", "2026-11-02T09:00:00-05:00")
    assert status == 0
    assert lines[0] == "2026-11-17T09:00:00-05:00"


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints the same facts as one object."""
    status, lines, _ = due(capsys, "--kind", "appeal", "--received",
                           "2026-10-30T10:00:00-04:00", "--json")
    assert status == 0
    assert json.loads("\n".join(lines)) == {
        "kind": "appeal",
        "standard": "10 calendar days",
        "received": "2026-10-30T10:00:00-04:00",
        "respond_by": "2026-11-09T09:00:00-05:00",
        "respond_by_words": "Monday 9 November 2026, 09:00 EST",
    }


@pytest.mark.parametrize("kind", ["unknown", "Declaration", "appeals", ""])
def test_unknown_kind_exits_2(capsys: pytest.CaptureFixture[str], kind: str) -> None:
    """A kind that is not one of the four is a usage error, said on stderr."""
    status, lines, error = due(capsys, "--kind", kind, "--received", "2026-11-20T18:00:00-05:00")
    assert (status, lines) == (EXIT_USAGE, [])
    assert "unknown kind" in error


@pytest.mark.parametrize("received", ["2026-11-20T18:00:00", "2026-11-20", "yesterday"])
def test_time_without_offset_exits_2(capsys: pytest.CaptureFixture[str], received: str) -> None:
    """A time without an offset (or not a time at all) is a usage error."""
    status, lines, error = due(capsys, "--kind", "declaration", "--received", received)
    assert (status, lines) == (EXIT_USAGE, [])
    assert received in error
