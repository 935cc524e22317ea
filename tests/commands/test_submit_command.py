"""`carm-gateway submit FILE... --sender ID` (CONTRACT section 8) against the real daemon and a
mosquitto of the tests' own: an EDIFACT interchange is answered by a CONTRL and then by the
business response (CUSRES or APERAK, section 5), which ends the wait and gives the status."""

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.peers import REPO, Broker, Daemon, write_config

from gateway.codec.edifact import tokenize
from gateway.commands.submit import edifact_status

EXAMPLES = REPO / "examples"
EDIFACT = EXAMPLES / "edifact"
COMMAND_TIMEOUT_S = 60
ANSWER_TIMEOUT_S = "20"
EXIT_OK, EXIT_FAILED, EXIT_TIMEOUT = 0, 1, 4


@dataclass
class Submitted:
    exit_status: int
    stderr: str
    shown: list[dict[str, str | None]]

    @property
    def statuses(self) -> list[str | None]:
        return [item["status"] for item in self.shown]

    def message_types(self, index: int = 0) -> list[str]:
        """The UNH message types of the answers shown for the index-th file, in order (the
        interchanges one after the other: their UNH segments are all found)."""
        answer = self.shown[index]["answer"]
        assert answer is not None
        return [segment.component(2, 1)
                for segment in tokenize(answer.encode("latin-1")).segments
                if segment.tag == "UNH"]


def submit(config: Path, *documents: Path, timeout: str = ANSWER_TIMEOUT_S) -> Submitted:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "submit", "--config", str(config), "--sender", "BRK42",
         "--timeout", timeout, "--json", *map(str, documents)],
        capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, cwd=REPO, check=False)
    shown = json.loads(result.stdout) if result.stdout.strip() else []
    return Submitted(result.returncode, result.stderr, shown)


@pytest.fixture
def gateway(tmp_path: Path, broker: Broker) -> Iterator[Path]:
    """The daemon with a fresh database behind the tests' mosquitto: its configuration."""
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url)
    daemon = Daemon(config, tmp_path / "daemon.log")
    daemon.start()
    try:
        daemon.wait_ready()
        yield config
    finally:
        daemon.stop()


@pytest.mark.slow
def test_an_accepted_cusdec_exits_0_with_the_status_of_its_cusres(gateway: Path) -> None:
    """The CONTRL comes first; the wait goes on to the CUSRES, whose BGM says accepted."""
    result = submit(gateway, EDIFACT / "declaration-d96b.edi")
    assert (result.exit_status, result.statuses) == (EXIT_OK, ["accepted"]), result.stderr
    assert result.message_types() == ["CONTRL", "CUSRES"]


@pytest.mark.slow
def test_an_accepted_remadv_exits_0_with_the_status_of_its_aperak(gateway: Path) -> None:
    """The payment allocates to the declaration's transaction, submitted first (processing
    is in arrival order)."""
    result = submit(gateway, EDIFACT / "declaration-d96b.edi", EDIFACT / "payment-remadv.edi")
    assert (result.exit_status, result.statuses) == (EXIT_OK, ["accepted", "accepted"]), \
        result.stderr
    assert result.message_types(1) == ["CONTRL", "APERAK"]


@pytest.mark.slow
def test_a_business_rejection_in_cusres_exits_1(gateway: Path) -> None:
    result = submit(gateway, EDIFACT / "invalid-dec001-declared-totals.edi")
    assert (result.exit_status, result.statuses) == (EXIT_FAILED, ["rejected"]), result.stderr
    assert result.message_types() == ["CONTRL", "CUSRES"]


@pytest.mark.slow
def test_a_contrl_rejecting_the_interchange_ends_the_wait_with_exit_1(gateway: Path) -> None:
    """UCI action 4: no business response will come, so the CONTRL alone answers."""
    result = submit(gateway, EDIFACT / "invalid-edi002-unz-count.edi")
    assert (result.exit_status, result.statuses) == (EXIT_FAILED, ["rejected"]), result.stderr
    assert result.message_types() == ["CONTRL"]


@pytest.mark.slow
def test_one_broken_message_of_two_rejects_after_the_other_is_answered(
        gateway: Path) -> None:
    """UCI 7 with UCM 4 for the second message: the first still gets its APERAK, which the
    wait includes; the broken one makes the file rejected."""
    result = submit(gateway, EDIFACT / "invalid-edi002-one-of-two-messages.edi")
    assert (result.exit_status, result.statuses) == (EXIT_FAILED, ["rejected"]), result.stderr
    assert result.message_types() == ["CONTRL", "APERAK"]


@pytest.mark.slow
def test_xml_and_edifact_files_in_one_submit(gateway: Path) -> None:
    """An XML file still ends its wait at its Acknowledgement."""
    result = submit(gateway, EXAMPLES / "declaration-test.xml",
                    EDIFACT / "declaration-d21a.edi")
    assert (result.exit_status, result.statuses) == (EXIT_OK, ["accepted", "accepted"]), \
        result.stderr
    assert result.message_types(1) == ["CONTRL", "CUSRES"]


@pytest.mark.slow
def test_no_business_response_in_time_exits_4(tmp_path: Path, broker: Broker) -> None:
    """Without a daemon nothing answers: the timeout, exit 4, as before."""
    config = write_config(tmp_path / "gateway", mqtt_url=broker.url)
    result = submit(config, EDIFACT / "declaration-d96b.edi", timeout="1")
    assert (result.exit_status, result.statuses) == (EXIT_TIMEOUT, [None]), result.stderr


def read(name: str) -> bytes:
    return (EDIFACT / name).read_bytes()


def test_a_contrl_accepting_the_interchange_waits_for_the_business_response() -> None:
    assert edifact_status([read("contrl-accepted.edi")]) is None
    assert edifact_status([read("contrl-rejected-message.edi")]) is None, \
        "one message passed syntax: its APERAK is due"


def test_the_business_response_gives_the_status() -> None:
    assert edifact_status([read("contrl-accepted.edi"), read("cusres-accepted.edi")]) == \
        "accepted"
    assert edifact_status([read("cusres-rejected.edi"), read("contrl-accepted.edi")]) == \
        "rejected", "in whatever order they arrive"
    assert edifact_status([read("cusres-accepted.edi")]) is None, "the CONTRL is still due"


def test_a_contrl_rejection_is_final() -> None:
    assert edifact_status([read("contrl-rejected-interchange.edi")]) == "rejected"
    assert edifact_status([read("contrl-rejected-message.edi"),
                           read("aperak-accepted.edi")]) == "rejected"


def test_a_response_delivered_twice_counts_once() -> None:
    """Responses are at-least-once: the same CUSRES twice answers one message, not two."""
    two_messages = read("contrl-accepted.edi").replace(
        b"UCM+1+CUSDEC:D:96B:UN+7'", b"UCM+1+CUSDEC:D:96B:UN+7'UCM+2+CUSDEC:D:96B:UN+7'")
    answered_once = [two_messages, read("cusres-accepted.edi"), read("cusres-accepted.edi")]
    assert edifact_status(answered_once) is None
