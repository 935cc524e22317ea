"""`carm-gateway ledger balance|statement|verify` against a database the gateway filled."""

import json
from pathlib import Path

import pytest
from support.pipeline import Harness, example

from gateway.cli import main


@pytest.fixture
def config(tmp_path: Path) -> Path:
    harness = Harness.open(f"sqlite:///{tmp_path}/state/gateway.db", tmp_path / "state")
    harness.submit(example("declaration.xml"))
    harness.submit(example("payment.xml"))
    harness.close()
    path = tmp_path / "gateway.toml"
    repo = Path(__file__).resolve().parents[2]
    path.write_text(f'[gateway]\nstate_directory = "{tmp_path}/state"\n'
                    f'[partners]\nfile = "{repo}/config/partners.toml"\n')
    return path


def test_balance(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What is owed now by item and in total; the overpayment shows as a credit."""
    capsys.readouterr()
    assert main(["ledger", "balance", "123456782RM0001", "--config", str(config), "--json"]) == 0
    balance = json.loads(capsys.readouterr().out)
    assert balance["total"] == "-141.49"
    assert balance["items"] == [{"item": "credit", "due_date": None, "amount": "-141.49"}]


@pytest.mark.parametrize(("fmt", "start"), [("text", b"STATEMENT OF ACCOUNT"),
                                            ("xml", b"<?xml"), ("html", b"<!DOCTYPE html>"),
                                            ("pdf", b"%PDF-1.4")])
def test_statement_formats(config: Path, capsysbinary: pytest.CaptureFixture[bytes], fmt: str,
                           start: bytes) -> None:
    """The statement in each format a person or a program reads."""
    capsysbinary.readouterr()
    assert main(["ledger", "statement", "123456782RM0001", "--period", "2026-12",
                 "--format", fmt, "--config", str(config)]) == 0
    assert capsysbinary.readouterr().out.lstrip().startswith(start)


def test_verify_and_usage_errors(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """verify passes; a malformed account or period is a usage error (exit 2)."""
    assert main(["ledger", "verify", "--config", str(config)]) == 0
    assert main(["ledger", "balance", "123", "--config", str(config)]) == 2
    assert main(["ledger", "statement", "123456782RM0001", "--period", "2026-13",
                 "--config", str(config)]) == 2
