"""scripts/setup-demo.sh installs bubblewrap (only it), or says clearly why not and goes on to the demo.

Run on a copy of the scripts with stand-ins for the slow or privileged steps (the venv install, apt-get,
sudo, id, codetune), so nothing is installed and the test takes a fraction of a second."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BASH = shutil.which("bash")


def _stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!{BASH}\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def checkout(tmp_path):
    """A copy of scripts/ whose install.sh does nothing, and a PATH of stand-ins only (no bwrap on it)."""
    (tmp_path / "repo" / "scripts").mkdir(parents=True)
    for name in ("setup-demo.sh", "install-system-packages.sh"):
        shutil.copy2(REPO / "scripts" / name, tmp_path / "repo" / "scripts" / name)
    (tmp_path / "repo" / "scripts" / "install.sh").write_text("true\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for tool in ("dirname", "bash"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    _stub(bin_dir, "apt-get", f'echo "apt-get $*" >> {log}')
    _stub(bin_dir, "codetune", f'echo "codetune $*" >> {log}')
    return tmp_path / "repo", bin_dir, log


def _run(repo: Path, bin_dir: Path, uid: int) -> subprocess.CompletedProcess:
    _stub(bin_dir, "id", f"echo {uid}")
    return subprocess.run(
        [BASH, str(repo / "scripts" / "setup-demo.sh"), "--out", "x"],
        capture_output=True,
        text=True,
        env={"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/")},
        timeout=60,
    )


def test_setup_demo_installs_bubblewrap_only(checkout):
    repo, bin_dir, log = checkout
    done = _run(repo, bin_dir, uid=0)
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    installs = [c for c in calls if c.startswith("apt-get install")]
    assert len(installs) == 1 and installs[0].split()[-1] == "bubblewrap" and "chromium" not in installs[0]
    assert calls[-1] == "codetune demo --out x"


def test_setup_demo_warns_and_goes_on_without_root_or_sudo(checkout):
    repo, bin_dir, log = checkout
    done = _run(repo, bin_dir, uid=1000)  # not root, and no sudo on PATH
    assert done.returncode == 0, done.stderr
    assert "warning: bubblewrap could not be installed" in done.stderr
    assert "CODETUNE_SANDBOX_WEAK=1" in done.stderr and "apt-get install bubblewrap" in done.stderr
    assert log.read_text().splitlines() == ["codetune demo --out x"]  # nothing installed, the demo still runs
