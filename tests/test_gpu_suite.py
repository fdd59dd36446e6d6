"""benchmarks/gpu_suite.py --dry-run: the GPU suite's code runs on CPU, without TRL, liger-kernel or vLLM,
saying what it skipped, and writes its results file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_suite_dry_run_without_optional_packages(tmp_path):
    blocked = tmp_path / "blocked"
    for pkg in ("trl", "liger_kernel", "vllm"):
        (blocked / pkg).mkdir(parents=True)
        (blocked / pkg / "__init__.py").write_text(f"raise ImportError('{pkg} is not installed here')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(blocked), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "RESULTS.md"
    res = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gpu_suite.py"), "--dry-run", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    skipped = [line for line in res.stdout.splitlines() if line.startswith("skipped: ")]
    assert any(line.startswith("skipped: trl_defaults (trl not importable") for line in skipped)
    assert any("liger" in line for line in skipped) and any("flex_attention" in line for line in skipped)
    assert any(line.startswith("skipped: vLLM") for line in skipped)
    for measured in ("training codetune:", "generation per_checkpoint:", "generation one_engine:"):
        assert measured in res.stdout
    text = out.read_text()
    assert "DRY RUN on CPU" in text and "## Training" in text and "## Generation" in text
    assert "| codetune | 4 x 2 |" in text and "| one_engine |" in text and "failed" not in text
