"""An appeal over MQTT, then the operator's steps by command: emails at each step, and the
allowed amount credited to the account."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.mail import MailServer
from support.peers import REPO, Broker, Daemon, Listener, mosquitto_pub, write_config

EXAMPLES = REPO / "examples"


def command(config: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *arguments, "--config", str(config)],
        capture_output=True, text=True, timeout=60, cwd=REPO, check=False,
        env={"PATH": "/usr/bin:/bin", "CARM_OPERATOR": "alice"},
    )


@pytest.mark.slow
def test_appeal_received_acknowledged_decided(tmp_path: Path, broker: Broker,
                                             mail_server: MailServer) -> None:
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url, smtp_url=mail_server.url)
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start()
    daemon.wait_ready()
    listener = Listener(broker)
    try:
        mosquitto_pub(broker, "carm/v1/in/BRK42", EXAMPLES / "declaration.xml")
        mosquitto_pub(broker, "carm/v1/in/BRK42", EXAMPLES / "appeal.xml")
        answers = listener.wait_for(2)
        appeal_answer = answers[1].payload
        assert b"<Status>received</Status>" in appeal_answer
        assert b"<CaseNumber>APL-2026-000001</CaseNumber>" in appeal_answer
        received_emails = mail_server.wait_for(3)  # declaration; appeal to sender and importer
        assert sorted(r.recipients[0] for r in received_emails[1:]) == [
            "accounts@importer.example", "edi@broker42.example"]

        for arguments in (["acknowledge", "APL-2026-000001", "--note", "received, thanks"],
                          ["review", "APL-2026-000001"],
                          ["decide", "APL-2026-000001", "--outcome", "allowed", "--reason",
                           "classification accepted", "--amount", "250.00"]):
            result = command(config, "appeals", *arguments)
            assert result.returncode == 0, result.stderr
        illegal = command(config, "appeals", "review", "APL-2026-000001")
        assert illegal.returncode == 1 and "cannot review" in illegal.stderr

        emails = mail_server.wait_for(9, timeout_s=30)
        subjects = [r.message["Subject"] for r in emails[3:]]
        assert subjects.count("[CARM] Acknowledged: appeal APL-2026-000001") == 2
        assert subjects.count("[CARM] Decided: appeal APL-2026-000001") == 2

        shown = json.loads(command(config, "appeals", "show", "APL-2026-000001",
                                   "--json").stdout)
        assert shown["status"] == "decided" and shown["amount"] == "250.00"
        assert [s["actor"] for s in shown["steps"]][1:] == ["operator:alice"] * 3
        balance = json.loads(command(config, "ledger", "balance", "123456782RM0001",
                                     "--json").stdout)
        assert balance["total"] == "843.07"
        assert command(config, "ledger", "verify").returncode == 0
    finally:
        listener.close()
        daemon.stop()
