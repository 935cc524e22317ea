"""`carm-gateway validate FILE...` (CONTRACT section 8): one line per problem in the form
`FILE:LINE: SEVERITY CODE PATH: text`, exit statuses, --json, --received and --sender."""

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

import gateway.config
from gateway.cli import main

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLES = PROJECT / "examples"
PARTNERS = PROJECT / "config" / "partners.toml"
EXPECTED: dict[str, Any] = tomllib.loads((EXAMPLES / "expected.toml").read_text("utf-8"))
RECEIVED = EXPECTED["received_at"]
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
PROBLEM_LINE = re.compile(
    r"(?P<file>.+?):(?P<line>\d+): (?P<severity>error|warning|info) (?P<code>[A-Z]+[0-9]{3}) "
    r"(?P<path>\S+): (?P<text>.+)"
)


@pytest.fixture(autouse=True)
def no_machine_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline unless a test names a configuration: no /etc file, no CARM_* variables."""
    monkeypatch.setattr(gateway.config, "SYSTEM_CONFIG", tmp_path / "absent.toml")
    for variable in ("CARM_CONFIG", "CARM_MQTT_URL", "CARM_DATABASE_URL", "CARM_SMTP_URL",
                     "CARM_PARTNERS_FILE"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def explicit_config(tmp_path: Path) -> Path:
    """A configuration file of our own: state in tmp_path, the example partner registry."""
    state = tmp_path / "state"
    state.mkdir()
    path = tmp_path / "gateway.toml"
    path.write_text(
        f'[gateway]\nstate_directory = "{state}"\n[partners]\nfile = "{PARTNERS}"\n',
        encoding="utf-8",
    )
    return path


def example(name: str) -> str:
    return str(EXAMPLES / name)


def validate(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, list[str], str]:
    status = main(["validate", *arguments])
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err


def codes_of(lines: list[str]) -> list[str]:
    matches = [PROBLEM_LINE.fullmatch(line) for line in lines]
    assert all(matches), lines
    return [match["code"] for match in matches if match]


def test_valid_files_exit_0_and_print_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """Valid messages of every kind: no output, exit 0."""
    names = ["declaration.xml", "payment.xml", "appeal.xml", "account-request.xml"]
    status, lines, error = validate(capsys, *map(example, names), "--received", RECEIVED)
    assert (status, lines, error) == (EXIT_OK, [], "")


def test_problem_line_format_is_exact(capsys: pytest.CaptureFixture[str]) -> None:
    """`FILE:LINE: SEVERITY CODE PATH: text`, FILE as given on the command line."""
    path = example("invalid-dec007-cad-exchange-rate.xml")
    status, lines, _ = validate(capsys, path, "--received", RECEIVED)
    assert status == EXIT_FAILED
    assert lines == [
        f"{path}:17: error DEC007 /Declaration/ExchangeRate: Currency CAD needs ExchangeRate 1, "
        f"not 1.2"
    ]


def test_every_invalid_example_is_reported_in_the_line_format(
        capsys: pytest.CaptureFixture[str]) -> None:
    """All invalid examples at once: exit 1, every line in the format, with the expected codes
    of each file."""
    invalid = sorted(
        name for name, entry in EXPECTED.items()
        if isinstance(entry, dict) and set(entry["codes"]) - {"AUTH002"}
    )
    status, lines, error = validate(capsys, *map(example, invalid), "--received", RECEIVED)
    assert status == EXIT_FAILED
    assert error == ""
    found: dict[str, set[str]] = {}
    for text in lines:
        match = PROBLEM_LINE.fullmatch(text)
        assert match is not None, text
        found.setdefault(Path(match["file"]).name, set()).add(match["code"])
    assert found == {name: set(EXPECTED[name]["codes"]) for name in invalid}


def test_line_is_0_where_none_applies(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A problem without a line (too large for the configuration) is reported on line 0."""
    big = tmp_path / "big.xml"
    big.write_bytes(b"<a>" + b"x" * 1_048_577 + b"</a>")
    status, lines, _ = validate(capsys, str(big))
    assert status == EXIT_FAILED
    [only] = lines
    match = PROBLEM_LINE.fullmatch(only)
    assert match is not None
    assert (match["line"], match["code"]) == ("0", "XML003")


def test_warnings_only_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    """A late declaration gets the DEC004 warning line, and the exit status is still 0."""
    path = example("declaration.xml")
    status, lines, _ = validate(capsys, path, "--received", "2026-11-28T00:00:00-05:00")
    assert status == EXIT_OK
    [only] = lines
    text = (EXAMPLES / "declaration.xml").read_text("utf-8")
    line = text[: text.index("<ReleaseDate>")].count("\n") + 1
    assert only.startswith(f"{path}:{line}: warning DEC004 /Declaration/ReleaseDate: ")


def test_received_moves_the_late_declaration_boundary(capsys: pytest.CaptureFixture[str]) -> None:
    """--received decides DEC004: the last second of Friday 2026-11-27 is on time."""
    path = example("declaration.xml")
    assert validate(capsys, path, "--received", "2026-11-27T23:59:59-05:00")[1] == []
    assert validate(capsys, path, "--received", "2026-11-28T05:00:00Z")[1] != []


def test_received_decides_the_appeal_window(capsys: pytest.CaptureFixture[str]) -> None:
    """--received decides APL001: decision 2026-11-23, day 90 is 2027-02-21 (Eastern)."""
    path = example("appeal.xml")
    status, lines, _ = validate(capsys, path, "--received", "2027-02-22T04:59:59Z")
    assert (status, lines) == (EXIT_OK, [])
    status, lines, _ = validate(capsys, path, "--received", "2027-02-22T00:00:00-05:00")
    assert status == EXIT_FAILED
    [only] = lines
    assert " error APL001 /Appeal/DecisionDate: " in only


@pytest.mark.parametrize("received", ["2026-11-23T14:05:00", "not-a-time", "2026-11-23"])
def test_received_without_offset_exits_2(capsys: pytest.CaptureFixture[str],
                                         received: str) -> None:
    """A --received without an offset is a usage error (exit 2), said on stderr."""
    status, lines, error = validate(capsys, example("declaration.xml"), "--received", received)
    assert (status, lines) == (EXIT_USAGE, [])
    assert received in error


def test_unreadable_file_exits_2_with_a_message(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A file that cannot be read: exit 2 and a message on stderr; other files still checked."""
    missing = tmp_path / "missing.xml"
    invalid = example("invalid-dec007-cad-exchange-rate.xml")
    status, lines, error = validate(capsys, str(missing), invalid, "--received", RECEIVED)
    assert status == EXIT_USAGE
    assert str(missing) in error
    assert [line.split(":")[0] for line in lines] == [invalid]


def test_directory_is_an_unreadable_file(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A directory named as a FILE cannot be read: exit 2."""
    status, _, error = validate(capsys, str(tmp_path))
    assert status == EXIT_USAGE
    assert str(tmp_path) in error


def test_json_output_structure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json: one object per file with file, kind, reference, valid, error and problems."""
    missing = str(tmp_path / "missing.xml")
    files = [example("declaration.xml"), example("invalid-dec001-declared-totals.xml"), missing]
    status, lines, _ = validate(capsys, *files, "--received", RECEIVED, "--json")
    assert status == EXIT_USAGE
    valid, invalid, unreadable = json.loads("\n".join(lines))
    assert valid == {"file": files[0], "kind": "declaration", "reference": "12345000001235/1",
                     "valid": True, "error": None, "problems": []}
    assert (invalid["kind"], invalid["reference"], invalid["valid"], invalid["error"]) == (
        "declaration", "12345000004007/1", False, None
    )
    assert invalid["problems"] == [
        {"line": 55, "severity": "error", "code": "DEC001",
         "path": "/Declaration/DeclaredTotals/GST", "text": "declared 481.72, computed 481.27"},
        {"line": 56, "severity": "error", "code": "DEC001",
         "path": "/Declaration/DeclaredTotals/Total",
         "text": "declared 1093.52, computed 1093.07"},
    ]
    assert unreadable["file"] == missing
    assert unreadable["valid"] is False
    assert unreadable["kind"] is None
    assert unreadable["problems"] == []
    assert unreadable["error"]


def test_json_exit_statuses_match_the_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    """--json exits like the text form: 1 for errors, 0 for warnings only."""
    status, _, _ = validate(capsys, example("invalid-dec007-cad-exchange-rate.xml"), "--json",
                            "--received", RECEIVED)
    assert status == EXIT_FAILED
    status, lines, _ = validate(capsys, example("declaration.xml"), "--json",
                                "--received", "2026-12-01T12:00:00-05:00")
    assert status == EXIT_OK
    [report] = json.loads("\n".join(lines))
    assert report["valid"] is True
    assert [problem["code"] for problem in report["problems"]] == ["DEC004"]


# With an explicit configuration


def test_offline_validation_skips_the_sender_checks(capsys: pytest.CaptureFixture[str]) -> None:
    """Without an explicit configuration there is no topic: the AUTH002 example passes."""
    status, lines, _ = validate(capsys, example("invalid-auth002-sender-mismatch.xml"),
                                "--received", RECEIVED)
    assert (status, lines) == (EXIT_OK, [])


def test_explicit_configuration_reports_auth002_for_the_topic_sender(
        explicit_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --config, `--sender BRK42` stands for the topic: Header/Sender BRK99 is AUTH002."""
    path = example("invalid-auth002-sender-mismatch.xml")
    status, lines, _ = validate(capsys, path, "--config", str(explicit_config),
                                "--sender", "BRK42", "--received", RECEIVED)
    assert status == EXIT_FAILED
    assert lines == [
        f"{path}:7: error AUTH002 /Payment/Header/Sender: Header/Sender BRK99 differs from the "
        f"topic's sender BRK42"
    ]


def test_sender_defaults_to_the_documents_own(explicit_config: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Without --sender the document's own sender is the topic: BRK99 is then not AUTH002 but
    an unregistered sender (AUTH003)."""
    status, lines, _ = validate(capsys, example("invalid-auth002-sender-mismatch.xml"),
                                "--config", str(explicit_config), "--received", RECEIVED)
    assert status == EXIT_FAILED
    assert codes_of(lines) == ["AUTH003"]


def test_sender_changes_the_outcome_of_a_valid_payment(
        explicit_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """payment.xml is valid as BRK42's and AUTH002 when BRK77's topic carries it."""
    path = example("payment.xml")
    arguments = ["--received", RECEIVED, "--config", str(explicit_config)]
    assert validate(capsys, path, *arguments) == (EXIT_OK, [], "")
    status, lines, _ = validate(capsys, path, *arguments, "--sender", "BRK77")
    assert status == EXIT_FAILED
    assert codes_of(lines) == ["AUTH002"]


def test_config_before_the_command_is_explicit_too(
        explicit_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`carm-gateway --config F validate ...` is the same explicit configuration."""
    status = main(["--config", str(explicit_config), "validate",
                   example("invalid-auth002-sender-mismatch.xml"), "--sender", "BRK42",
                   "--received", RECEIVED])
    assert status == EXIT_FAILED
    assert " error AUTH002 " in capsys.readouterr().out


def test_carm_config_is_an_explicit_configuration(
        explicit_config: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """CARM_CONFIG makes the configuration explicit, so the sender checks run."""
    monkeypatch.setenv("CARM_CONFIG", str(explicit_config))
    status, lines, _ = validate(capsys, example("invalid-auth002-sender-mismatch.xml"),
                                "--sender", "BRK42", "--received", RECEIVED)
    assert status == EXIT_FAILED
    assert " error AUTH002 " in lines[0]


def test_validate_creates_no_database(explicit_config: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """validate only reads: with no database in the state directory, none is created."""
    validate(capsys, example("declaration.xml"), "--config", str(explicit_config),
             "--received", RECEIVED)
    assert list((explicit_config.parent / "state").iterdir()) == []


def test_missing_registry_of_an_explicit_configuration_exits_78(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An explicit configuration whose registry is missing is a configuration error."""
    path = tmp_path / "g.toml"
    path.write_text(f'[partners]\nfile = "{tmp_path / "none.toml"}"\n', encoding="utf-8")
    status, _, error = validate(capsys, example("declaration.xml"), "--config", str(path))
    assert status == 78
    assert "none.toml" in error
