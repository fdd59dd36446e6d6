"""Pooled and one-process-per-job engines give identical verdicts on the shared benchmark's public tests,
for hand-written correct solutions and for wrong ones (wrong answer, crash, time-out)."""

from __future__ import annotations

import importlib.util

import pytest

from codetune.sandbox import Job, Limits, get_runner
from helpers import REPO

# The programs live with the throughput benchmark that times them (benchmarks/ never imports tests/).
_spec = importlib.util.spec_from_file_location(
    "sandbox_programs", REPO / "benchmarks" / "sandbox_programs.py"
)
_programs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_programs)
CORRECT, WRONG = _programs.CORRECT, _programs.WRONG
load_public_tests, same_output = _programs.load_public_tests, _programs.same_output

LIMITS = Limits(cpu_time_s=1.0, wall_time_s=4.0, memory_mb=512)


@pytest.fixture(scope="module")
def parity_jobs(shared_benchmark):
    tests = load_public_tests(shared_benchmark)
    jobs, meta = [], []
    for qid, src in CORRECT.items():
        for t in tests[qid]:
            jobs.append(Job(src, t["input"], LIMITS))
            meta.append(("correct", qid, t["output"]))
    for name, src in WRONG.items():
        for qid in list(CORRECT)[: 1 if name == "spin" else 5]:
            t = tests[qid][0]
            jobs.append(Job(src, t["input"], LIMITS))
            meta.append((name, qid, t["output"]))
    return jobs, meta


def test_pool_and_subprocess_agree_on_the_shared_benchmark(parity_jobs):
    jobs, meta = parity_jobs
    with get_runner("pool", workers=2) as pool, get_runner("subprocess", workers=2) as single:
        pooled, separate = pool.run(jobs), single.run(jobs)
    for (kind, qid, expected), a, b in zip(meta, pooled, separate, strict=True):
        assert (a.status, a.exit_code, a.stdout) == (b.status, b.exit_code, b.stdout), (kind, qid, a, b)
        passed = a.status == "ok" and same_output(a.stdout, expected)
        if kind == "correct":
            assert passed, (qid, a)
    by_kind: dict[str, list] = {}
    for (kind, _, expected), a in zip(meta, pooled, strict=True):
        by_kind.setdefault(kind, []).append((a, same_output(a.stdout, expected)))
    assert set(by_kind) == {"correct", *WRONG}
    assert "runtime_error" in {a.status for a, _ in by_kind["crash_on_parse"]}
    assert {a.status for a, _ in by_kind["spin"]} == {"timeout"}
    for kind in ("yes", "echo", "first_int_plus_one"):  # wrong answers: run fine, fail the comparison
        assert {a.status for a, _ in by_kind[kind]} == {"ok"}
        assert not all(passed for _, passed in by_kind[kind])
