"""What the `codetune` command shows on its console besides its own output: no library deprecation notices."""

from __future__ import annotations

import os
import subprocess
import sys

# `codetune score` whose scoring is replaced by a library call that warns as transformers does on a deprecated
# attribute, then fails: the command's error line is all its user is to see.
_WARNING_COMMAND = """
import sys, warnings
from codetune.bench import scoring
from codetune.errors import CodetuneError

def deprecated_library_call(*args, **kwargs):
    warnings.warn("`is_gradient_checkpointing` is deprecated", FutureWarning)
    warnings.warn("an old argument", DeprecationWarning)
    raise CodetuneError("scoring stopped here")

scoring.score_files = deprecated_library_call
sys.argv = ["codetune", "score", "--benchmark", "b.jsonl", "--generations", "g.json", "--out", "s.json"]
from codetune.cli import main
main()
"""


def _codetune(tmp_path, *python_options: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    return subprocess.run(
        [sys.executable, *python_options, "-c", _WARNING_COMMAND],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_library_deprecation_warnings_do_not_reach_the_console(tmp_path):
    res = _codetune(tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip() == "codetune: error: scoring stopped here"
    # A user who asks for warnings (-W, PYTHONWARNINGS) gets them.
    shown = _codetune(tmp_path, "-W", "default").stderr
    assert "FutureWarning: `is_gradient_checkpointing` is deprecated" in shown
    assert "DeprecationWarning: an old argument" in shown
