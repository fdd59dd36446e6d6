"""The sandbox as an unprivileged user runs it: with bubblewrap (correct programs pass, every job after the
first included), and without (refused unless CODETUNE_SANDBOX_WEAK=1; then codetune's own environment and
memory stay unreadable to a job of the same uid). CI runs as root: the user is made by the test set-up
(tests/unprivileged.py), so these run there too."""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest

from unprivileged import USER, run_as_user, why_not

WHY_NOT = why_not()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=f"cannot run as an unprivileged user: {WHY_NOT}")
BWRAP = shutil.which("bwrap")

# Run as the user: one worker per runner, so every job after the first runs on a server that already ran one.
PROBE = r"""
import json, os, sys
from codetune.errors import CodetuneError
from codetune.sandbox import Job, Limits, get_runner, isolation_level

limits = Limits(cpu_time_s=2.0, wall_time_s=5.0, memory_mb=256)
me = os.getpid()
snoop = (  # what a hostile job of this user's uid tries on the codetune process
    "import os\nfound = []\n"
    f"for p in ('/proc/{me}/environ', '/proc/{me}/mem', '/proc/{me}/cmdline'):\n"
    "    try:\n        with open(p, 'rb') as f:\n            found.append(p + ' ' + f.read(4096).decode('latin-1'))\n"
    "    except OSError as e:\n        found.append(p + ' ' + type(e).__name__)\n"
    "print('\\n'.join(found))\n"
)
out = {"uid": os.getuid()}
for kind in ("pool", "subprocess"):
    jobs = [Job(f"print(sum(map(int, input().split())))", f"{i} {i}\n", limits) for i in range(6)]
    try:
        with get_runner(kind, workers=1) as r:
            out["isolation"] = isolation_level(r.isolation)
            res = r.run(jobs) + r.run([Job(snoop, "", limits)])
    except CodetuneError as e:
        out[kind] = {"refused": str(e)}
        continue
    out[kind] = {"results": [[x.status, x.stdout, x.stderr[-300:]] for x in res]}
print(json.dumps(out))
"""


def _probe(**env) -> dict:
    done = run_as_user(
        [sys.executable, "-c", PROBE],
        {"HF_TOKEN": "hf_probe_secret_31337", **env},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["uid"] != 0
    return out


def _check_ran(found: dict) -> None:
    *correct, snoop = found["results"]
    assert [r[:2] for r in correct] == [["ok", f"{2 * i}\n"] for i in range(6)], correct
    assert snoop[0] == "ok", snoop
    assert "hf_probe_secret_31337" not in snoop[1] and "PROBE" not in snoop[1], snoop[1]


@pytest.mark.skipif(not BWRAP and os.environ.get("CI") != "true", reason="bubblewrap is not installed")
def test_correct_programs_pass_as_an_unprivileged_user_with_bubblewrap():
    """Each correct program passes, on both engines (the fork server once lost its own io dir when it
    cleared /tmp after a job: every later job was a sandbox_error)."""
    out = _probe()
    assert out["isolation"] == "bubblewrap"
    for kind in ("pool", "subprocess"):
        _check_ran(out[kind])


def test_no_isolation_is_refused_unless_accepted():
    """Without bubblewrap and without root nothing isolates a job: refused in one line naming both ways out;
    accepted with CODETUNE_SANDBOX_WEAK=1, codetune's environment and memory stay closed to the job."""
    refused = _probe(CODETUNE_SANDBOX_BWRAP="0")
    for kind in ("pool", "subprocess"):
        line = refused[kind]["refused"]
        assert "\n" not in line and "apt-get install bubblewrap" in line and "CODETUNE_SANDBOX_WEAK=1" in line
    accepted = _probe(CODETUNE_SANDBOX_BWRAP="0", CODETUNE_SANDBOX_WEAK="1")
    assert accepted["isolation"].startswith("none") and "CODETUNE_SANDBOX_WEAK=1" in accepted["isolation"]
    for kind in ("pool", "subprocess"):
        _check_ran(accepted[kind])


@pytest.mark.skipif(not BWRAP and os.environ.get("CI") != "true", reason="bubblewrap is not installed")
def test_sandbox_suite_as_an_unprivileged_user():
    """tests/test_sandbox.py, whole, as the unprivileged user."""
    done = run_as_user(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/test_sandbox.py"],
        timeout=600,
    )
    if done.returncode != 0:
        pytest.fail(f"as {USER}:\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}", pytrace=False)
