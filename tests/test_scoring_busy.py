"""Scoring on a busy machine: the same verdicts as on a quiet one, in a time bounded by the work."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import pytest

from codetune.bench.lcb import parse_row
from codetune.bench.scoring import grading_limits, score_generations
from codetune.sandbox import get_runner
from fakes import StarvedOnceRunner

LIMITS = grading_limits(timeout_s=1.0, memory_mb=512)  # LiveCodeBench's rule with a 1 s limit: a fast test
CORES = len(os.sched_getaffinity(0))
QUICK, SLOW, LOOPS, SLEEPERS, WRONG = 690, 10, 6, 4, 30  # 740 answers
# About 0.45 s of CPU, then the right answer: under the 1 s limit alone, over it in wall clock when it gets
# a third of a CPU (the old rule then waited for a quiet machine that never came).
SLOW_OK = "s = 0\nfor i in range(12_000_000):\n    s += i\nprint(int(input()) * 2)\n"
ANSWERS = {
    "quick": "print(int(input()) * 2)\n",
    "slow": SLOW_OK,
    "loop": "while True:\n    pass\n",  # its CPU time reaches the limit: a timeout however busy the machine
    "sleeper": "import time\ntime.sleep(3)\nprint(int(input()) * 2)\n",  # its own time passes the limit
    "wrong": "print(int(input()) * 3)\n",
}
EXPECTED = {
    "quick": "passed",
    "slow": "passed",
    "loop": "timeout",
    "sleeper": "timeout",
    "wrong": "wrong_answer",
}


def _problems_and_answers() -> tuple[list, list[dict], list[str]]:
    kinds = (
        ["quick"] * QUICK + ["slow"] * SLOW + ["loop"] * LOOPS + ["sleeper"] * SLEEPERS + ["wrong"] * WRONG
    )
    rows, gens = [], []
    for i, kind in enumerate(kinds):
        tests = [{"input": f"{i}\n", "output": f"{2 * i}\n", "testtype": "stdin"}]
        qid = f"p{i}"
        rows.append(
            parse_row(
                {"question_id": qid, "question_content": "Twice N.", "public_test_cases": json.dumps(tests)}
            )
        )
        gens.append({"question_id": qid, "code_list": [ANSWERS[kind]]})
    return rows, gens, kinds


def _busy_process() -> subprocess.Popen:
    """A CPU-bound process that never stops by itself (bounded: 300 s of CPU at most; killed by the test)."""

    def bound() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (300, 300))

    # Its own session, as another user's job or a compile in another terminal: with the kernel's autogroup
    # scheduling, processes of one session share one CPU share.
    return subprocess.Popen(
        [sys.executable, "-c", "while True:\n    pass\n"], preexec_fn=bound, start_new_session=True
    )


def _score(rows, gens) -> tuple[float, list]:
    t0 = time.monotonic()
    with get_runner(workers=CORES) as runner:
        scores = score_generations(rows, gens, limits=LIMITS, runner=runner)
    return time.monotonic() - t0, scores


@pytest.mark.slow
def test_scoring_beside_busy_processes_keeps_every_verdict_and_ends(capsys):
    """740 answers (slow-but-correct ones, infinite loops, sleepers) scored quietly, then beside two CPU-bound
    processes per core that never stop: the same verdict for every answer, no re-run, and at most 4x the
    quiet time (measured on 2 cores shared with other work: about 20 s quiet, 25-35 s busy)."""
    rows, gens, kinds = _problems_and_answers()
    quiet_s, quiet = _score(rows, gens)
    busy = [_busy_process() for _ in range(2 * CORES)]
    try:
        time.sleep(1.0)  # the machine counts as oversubscribed from here on
        busy_s, loaded = _score(rows, gens)
        assert all(p.poll() is None for p in busy), "the busy processes stopped before scoring ended"
    finally:
        for p in busy:
            p.kill()
            p.wait()
    print(f"quiet {quiet_s:.1f} s, busy {busy_s:.1f} s")
    got = {
        kind: {s.verdicts[0][-1] for s, k in zip(quiet, kinds, strict=True) if k == kind} for kind in EXPECTED
    }
    assert got == {kind: {v} for kind, v in EXPECTED.items()}
    assert [s.verdicts for s in loaded] == [s.verdicts for s in quiet]
    assert sum(s.timeouts_rerun for s in loaded) == 0
    assert busy_s < 4 * quiet_s + 10, (quiet_s, busy_s)


class _SleepClock:
    """The scoring module's clock, with time passing only as it sleeps: a wait measured in its own sleeps,
    whatever else keeps the machine busy."""

    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def __getattr__(self, name):
        return getattr(time, name)


def test_starved_tests_wait_once_in_all_say_so_and_run_again_alone(monkeypatch, capsys):
    """Where the sandbox could not leave a test's waits for a CPU out (a kernel without schedstat, or a test
    that ended at the real-time ceiling), a timeout with CPU time to spare on a busy machine is re-run alone:
    after one bounded wait per scoring call (not one per test), said on the console."""
    from codetune.bench import scoring
    from codetune.sandbox import Result

    starved = Result("timeout", None, "", "", False, 0.01, 1.0, None)
    calls: list[int] = []
    monkeypatch.setattr(scoring, "oversubscribed", lambda: True)  # the machine never quietens
    monkeypatch.setattr(scoring, "RERUN_WAIT_S", 1.0)
    clock = _SleepClock()
    monkeypatch.setattr(scoring, "time", clock)
    rows, gens, _ = _problems_and_answers()
    scores = score_generations(rows[:5], gens[:5], limits=LIMITS, runner=StarvedOnceRunner(starved, calls))
    assert sum(clock.slept) == pytest.approx(1.0)  # one wait of RERUN_WAIT_S, not one per starved test
    assert calls == [5, 1, 1, 1, 1, 1]  # all five at once, then each again alone
    assert [s.graded_list for s in scores] == [[True]] * 5 and [s.timeouts_rerun for s in scores] == [1] * 5
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("waiting up to 1 s for the machine to quieten") == 1, err
    assert "5 test(s) hit the time limit while starved of CPU" in err
