"""A plain `pip install .` gives a working carm-gateway, schemas and SQL included."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_installed_package_validates_without_the_checkout(tmp_path: Path) -> None:
    """Installed into a directory of its own (dependencies from the test environment), the
    package validates an example from outside the checkout: the schema is package data."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps",
         "--target", str(target), str(REPO)],
        check=True, timeout=240, capture_output=True,
    )
    assert (target / "gateway" / "schemas" / "messages.xsd").is_file()
    assert (target / "gateway" / "store" / "schema_sqlite.sql").is_file()
    example = tmp_path / "declaration.xml"
    example.write_bytes((REPO / "examples" / "declaration.xml").read_bytes())
    bad = tmp_path / "bad.xml"
    bad.write_bytes((REPO / "examples" / "invalid-sch001-hscode.xml").read_bytes())
    environment = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "validate", str(example), str(bad)],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "SCH001 /Declaration/Line[2]/HSCode" in result.stdout
    assert str(example) not in result.stdout
