"""The systemd units in systemd/: they parse, verify, sandbox the daemon, and agree with each other.

`systemd-analyze`, `systemd-sysusers` and `systemd-tmpfiles` come with the Debian package
`systemd` (scripts/setup installs it); without them those tests skip and say so. No systemd
needs to run as PID 1: every check here works on files offline.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "carm-gateway.service"
SYSUSERS = REPO / "systemd" / "carm-gateway.sysusers"
TMPFILES = REPO / "systemd" / "carm-gateway.tmpfiles"
UNIT_NAME = "carm-gateway.service"
EXPOSURE_MAX = 3.0
PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1


def systemd_tool(name: str) -> str:
    path = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/bin") / name, Path("/bin") / name) if p.exists()), None
    )
    if path is None:
        pytest.skip(f"{name} is not installed (the Debian package `systemd` provides it; "
                    "scripts/setup installs it)")
    return path


def run(*command: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "SYSTEMD_LOG_LEVEL"}
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False,
                          env=environment)


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections to keys to every assignment in order (systemd keys may repeat; `Key=` resets)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith(("#", ";"))):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"assignment outside a section: {line}"
        key, separator, value = line.partition("=")
        assert separator, f"not an assignment: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def service() -> dict[str, list[str]]:
    return parse_unit(UNIT.read_text(encoding="utf-8"))["Service"]


def gateway_executable() -> str:
    """An existing carm-gateway for ExecStart= (verify checks that the binary exists)."""
    sibling = Path(sys.executable).with_name("carm-gateway")
    if sibling.exists():
        return str(sibling)
    return shutil.which("carm-gateway") or sys.executable


def unit_copy(directory: Path) -> Path:
    """The unit with ExecStart= pointing at an executable that exists on this machine."""
    text = UNIT.read_text(encoding="utf-8")
    text, count = re.subn(r"(?m)^ExecStart=/usr/bin/carm-gateway ",
                          f"ExecStart={gateway_executable()} ", text)
    assert count == 1
    copy = directory / UNIT_NAME
    copy.write_text(text, encoding="utf-8")
    return copy


def verify(path: Path) -> subprocess.CompletedProcess[str]:
    analyze = systemd_tool("systemd-analyze")
    options = []
    if "--recursive-errors" in run(analyze, "--help").stdout:
        options.append("--recursive-errors=no")  # this unit's problems, not the host's units'
    return run(analyze, "verify", *options, str(path))


def findings_about_unit(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines()
            if UNIT_NAME in line]


# The settings the issue and the operators rely on, read from the file itself.
REQUIRED = {
    "Type": "notify",
    "NotifyAccess": "main",
    "RestartPreventExitStatus": "78",
    "Restart": "on-failure",
    "User": "carm-gateway",
    "Group": "carm-gateway",
    "StateDirectory": "carm-gateway",
    "StateDirectoryMode": "0700",
    "ConfigurationDirectory": "carm-gateway",
    "LogsDirectory": "carm-gateway",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "MemoryDenyWriteExecute": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "SystemCallArchitectures": "native",
    "UMask": "0077",
    "ExecReload": "/bin/kill -HUP $MAINPID",
}


@pytest.mark.parametrize(("key", "value"), sorted(REQUIRED.items()))
def test_unit_sets(key: str, value: str) -> None:
    assert service().get(key) == [value]


def test_unit_runs_the_daemon_with_the_system_configuration() -> None:
    assert service()["ExecStart"] == [
        "/usr/bin/carm-gateway run --config /etc/carm-gateway/gateway.toml"
    ]


def test_unit_names_the_configuration_in_the_environment() -> None:
    assert "CARM_CONFIG=/etc/carm-gateway/gateway.toml" in service()["Environment"]


def test_watchdog_and_stop_timeout_are_set() -> None:
    settings = service()
    assert int(settings["WatchdogSec"][0]) > 0
    assert int(settings["TimeoutStopSec"][0]) >= 30  # room for the drain


def test_unit_has_no_capabilities_and_filters_system_calls() -> None:
    settings = service()
    assert settings["CapabilityBoundingSet"] == [""]
    assert settings["AmbientCapabilities"] == [""]
    assert settings["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]


def test_unit_ordering_and_install() -> None:
    unit = parse_unit(UNIT.read_text(encoding="utf-8"))
    after = " ".join(unit["Unit"]["After"]).split()
    assert {"network-online.target", "mosquitto.service", "postgresql.service"} <= set(after)
    assert unit["Unit"]["Wants"] == ["network-online.target"]
    assert "Requires" not in unit["Unit"]  # broker and database may be remote: ordering only
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    result = verify(unit_copy(tmp_path))
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert findings_about_unit(result) == []


def test_systemd_analyze_verify_accepts_the_documented_venv_drop_in(tmp_path: Path) -> None:
    """docs/install.md: a drop-in that resets ExecStart= to a virtualenv's carm-gateway."""
    shutil.copy(UNIT, tmp_path / UNIT_NAME)
    drop_in = tmp_path / f"{UNIT_NAME}.d"
    drop_in.mkdir()
    (drop_in / "venv.conf").write_text(
        "[Service]\nExecStart=\n"
        f"ExecStart={gateway_executable()} run --config /etc/carm-gateway/gateway.toml\n",
        encoding="utf-8",
    )
    result = verify(tmp_path / UNIT_NAME)
    assert result.returncode == 0, result.stdout + result.stderr
    assert findings_about_unit(result) == []


def test_systemd_analyze_verify_reports_a_broken_copy(tmp_path: Path) -> None:
    """The check above can fail: an unknown key and a bad value are reported on the unit."""
    copy = unit_copy(tmp_path)
    copy.write_text(copy.read_text(encoding="utf-8").replace(
        "ProtectSystem=strict", "ProtectSystem=sideways\nProtectEverything=yes"), encoding="utf-8")
    findings = " ".join(findings_about_unit(verify(copy)))
    assert "Unknown key" in findings
    assert "Failed to parse" in findings


def test_security_exposure_is_low(tmp_path: Path) -> None:
    analyze = systemd_tool("systemd-analyze")
    if "--offline" not in run(analyze, "--help").stdout:
        pytest.skip("this systemd-analyze has no `security --offline` (systemd < 250)")
    result = run(analyze, "security", "--offline=yes", "--no-pager", str(unit_copy(tmp_path)))
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    assert match, result.stdout + result.stderr
    exposure = float(match.group(1))
    print(f"systemd-analyze security: exposure {exposure}")
    assert exposure < EXPOSURE_MAX


def sysusers_into(root: Path) -> subprocess.CompletedProcess[str]:
    (root / "etc").mkdir(parents=True, exist_ok=True)
    return run(systemd_tool("systemd-sysusers"), f"--root={root}", str(SYSUSERS))


def test_sysusers_creates_the_system_user(tmp_path: Path) -> None:
    result = sysusers_into(tmp_path)
    assert result.returncode == 0, result.stderr
    assert SYSUSERS.name not in result.stderr, result.stderr
    users = {line.split(":")[0]: line.split(":")
             for line in (tmp_path / "etc/passwd").read_text(encoding="utf-8").splitlines()}
    groups = {line.split(":")[0]: line.split(":")
              for line in (tmp_path / "etc/group").read_text(encoding="utf-8").splitlines()}
    user = users["carm-gateway"]
    assert int(user[2]) < 1000  # a system user
    assert user[3] == groups["carm-gateway"][2]
    assert user[5] == "/var/lib/carm-gateway"
    assert user[6].endswith("nologin")


def test_tmpfiles_creates_the_directories(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("systemd-tmpfiles --create chowns, which needs root")
    tmpfiles = systemd_tool("systemd-tmpfiles")
    assert sysusers_into(tmp_path).returncode == 0  # tmpfiles resolves names in the root
    result = run(tmpfiles, "--create", f"--root={tmp_path}", str(TMPFILES))
    assert result.returncode == 0, result.stderr
    assert TMPFILES.name not in result.stderr, result.stderr
    passwd = (tmp_path / "etc/passwd").read_text(encoding="utf-8")
    uid, gid = next(line.split(":")[2:4] for line in passwd.splitlines()
                    if line.startswith("carm-gateway:"))
    state = (tmp_path / "var/lib/carm-gateway").stat()
    assert (oct(state.st_mode & 0o7777), state.st_uid, state.st_gid) == ("0o700", int(uid),
                                                                          int(gid))
    config = (tmp_path / "etc/carm-gateway").stat()
    assert (oct(config.st_mode & 0o7777), config.st_uid, config.st_gid) == ("0o750", 0, int(gid))


def test_units_agree_on_directories_and_modes() -> None:
    """tmpfiles.d and the unit's *DirectoryMode= agree (systemd warns at start otherwise)."""
    settings = service()
    lines = [line.split() for line in TMPFILES.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    modes = {fields[1]: fields[2] for fields in lines}
    assert modes["/var/lib/carm-gateway"] == settings["StateDirectoryMode"][0]
    assert modes["/etc/carm-gateway"] == settings["ConfigurationDirectoryMode"][0]
    assert "/var/lib/carm-gateway" in SYSUSERS.read_text(encoding="utf-8")


MDWE_PROBE = f"""
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0:
    sys.exit(77)
import mmap
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    sys.exit("W+X memory was not refused")
except OSError:
    pass
import lxml.etree, psycopg, aiomqtt, aiosmtplib, structlog, prometheus_client, xmlschema
import gateway.daemon, gateway.cli
sys.argv = ["carm-gateway", "validate", *sys.argv[1:]]
sys.exit(gateway.cli.main())
"""


def test_daemon_code_runs_without_writable_executable_memory() -> None:
    """MemoryDenyWriteExecute=yes: the kernel's equivalent (prctl PR_SET_MDWE, Linux 6.3) on a
    process that imports the daemon's modules and validates examples with lxml and the XSD."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_MDWE is Linux's")
    examples = [str(REPO / "examples" / name) for name in ("declaration.xml", "payment.xml")]
    result = subprocess.run([sys.executable, "-c", MDWE_PROBE, *examples], capture_output=True,
                            text=True, timeout=120, check=False, cwd=REPO)
    if result.returncode == 77:
        pytest.skip("prctl(PR_SET_MDWE) refused: Linux < 6.3, or blocked here")
    assert result.returncode == 0, result.stdout + result.stderr
