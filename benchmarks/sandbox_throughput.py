"""Sandbox throughput: tests/s of codetune's pooled sandbox vs `subprocess.run([python, "-c", code])` per test.

Workload: the shared 41-problem LiveCodeBench file (public tests), each problem's tests run by its hand-written
correct solution where there is one and by wrong programs (wrong answer, crash) for every problem; both sides
run the same jobs with the same number of parallel workers (default: all cores), alternating in chunks so both
see the same machine load. The sandbox's time includes starting its workers. Also reports CPU per test (the
sandbox's includes its workers and the jobs; the baseline's its interpreters), and the same measurement on the
programs as codetune's scorer runs them (behind LiveCodeBench's import prelude) under "as_scored".
Last line: one JSON object; "speedup" is the plain programs' tests/s ratio.

    python benchmarks/sandbox_throughput.py [--benchmark FILE] [--workers N] [--plain-only] [--with-fallback]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sandbox_programs import CORRECT, WRONG, load_public_tests, same_output  # next to this script

from codetune.sandbox import Job, Limits, get_runner, protections

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BENCHMARK = REPO / "tests" / "data" / "lcb_release_v5_atcoder_easy_2408_2502.jsonl"
WRONG_KINDS = ("yes", "echo", "crash_on_parse")


def _cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def baseline_one(job: Job) -> tuple[bool, str]:
    """The naive way: a fresh interpreter per test, with a wall-clock timeout only."""
    try:
        p = subprocess.run(
            [sys.executable, "-c", job.program],
            input=job.stdin,
            capture_output=True,
            text=True,
            timeout=job.limits.wall_ceiling_s,
        )
        return p.returncode == 0, p.stdout
    except subprocess.TimeoutExpired:
        return False, ""


def measure(jobs: list[Job], expected: list[str], same_output, workers: int, chunk: int) -> dict:
    """Both engines on the same jobs, alternating in chunks so that both see the same machine load.

    CPU: the baseline's children as they are reaped; the sandbox's workers (jobs included) as they report it,
    plus this process's CPU while the sandbox runs."""

    def passed(ok: bool, out: str, exp: str) -> bool:
        return ok and same_output(out, exp)

    chunks = [range(i, min(i + chunk, len(jobs))) for i in range(0, len(jobs), chunk)]
    base: list[tuple[bool, str]] = []
    results = []
    base_s = base_cpu = host_cpu = 0.0
    t0 = time.perf_counter()
    runner = get_runner("auto", workers=workers)
    startup_s = sandbox_s = time.perf_counter() - t0
    with ThreadPoolExecutor(workers) as pool:
        for part in chunks:
            t0, c0 = time.perf_counter(), _cpu(resource.RUSAGE_CHILDREN)
            base += pool.map(baseline_one, [jobs[i] for i in part])
            base_s += time.perf_counter() - t0
            base_cpu += _cpu(resource.RUSAGE_CHILDREN) - c0
            t0, s0 = time.perf_counter(), _cpu(resource.RUSAGE_SELF)
            results += runner.run([jobs[i] for i in part])
            sandbox_s += time.perf_counter() - t0
            host_cpu += _cpu(resource.RUSAGE_SELF) - s0
    sandbox_cpu = runner.cpu_seconds() + host_cpu
    engine = type(runner).__name__
    runner.close()
    base_pass = [passed(ok, out, e) for (ok, out), e in zip(base, expected, strict=True)]
    sandbox_pass = [passed(r.status == "ok", r.stdout, e) for r, e in zip(results, expected, strict=True)]
    print(
        f"  baseline {base_s:.2f} s ({base_cpu:.2f} CPU s); sandbox ({engine}) {sandbox_s:.2f} s "
        f"(start-up {startup_s:.2f} s; {sandbox_cpu:.2f} CPU s)",
        file=sys.stderr,
    )
    return {
        "speedup": round(base_s / sandbox_s, 2),
        "sandbox_tests_per_s": round(len(jobs) / sandbox_s, 1),
        "baseline_tests_per_s": round(len(jobs) / base_s, 1),
        "speedup_excluding_startup": round(base_s / (sandbox_s - startup_s), 2),
        "cpu_ms_per_test": {
            "sandbox": round(1000 * sandbox_cpu / len(jobs), 2),
            "baseline": round(1000 * base_cpu / len(jobs), 2),
        },
        "cpu_speedup": round(base_cpu / sandbox_cpu, 2),
        "engine": engine,
        "passed": sum(sandbox_pass),
        "verdicts_agree": sandbox_pass == base_pass,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", type=Path, default=DEFAULT_BENCHMARK)
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--chunk", type=int, default=40, help="tests per alternation between the two")
    ap.add_argument("--plain-only", action="store_true", help="skip the as-scored (prelude) workload")
    ap.add_argument("--with-fallback", action="store_true", help="also time the one-process-per-job engine")
    args = ap.parse_args()

    tests = load_public_tests(args.benchmark)
    limits = Limits(cpu_time_s=2.0)
    programs, stdins, expected = [], [], []
    for qid, cases in tests.items():
        for src in ([CORRECT[qid]] if qid in CORRECT else []) + [WRONG[k] for k in WRONG_KINDS]:
            for case in cases:
                programs.append(src)
                stdins.append(case["input"])
                expected.append(case["output"])
    print(f"{len(tests)} problems, {len(programs)} tests, {args.workers} workers", file=sys.stderr)

    def jobs_for(sources: list[str]) -> list[Job]:
        return [Job(src, stdin, limits) for src, stdin in zip(sources, stdins, strict=True)]

    print("plain programs:", file=sys.stderr)
    out = {"name": "sandbox_throughput"}
    out.update(measure(jobs_for(programs), expected, same_output, args.workers, args.chunk))
    out.update(tests=len(programs), problems=len(tests), workers=args.workers)
    out["baseline"] = "subprocess.run([python, '-c', code]) per test, same worker count"
    if not args.plain_only:
        # The same programs as codetune's scorer runs them: behind LiveCodeBench's import prelude.
        from codetune.bench.scoring import stdio_program

        print("as scored (LiveCodeBench prelude):", file=sys.stderr)
        scored = measure(
            jobs_for([stdio_program(p) for p in programs]), expected, same_output, args.workers, args.chunk
        )
        keep = ("speedup", "sandbox_tests_per_s", "baseline_tests_per_s", "cpu_ms_per_test", "cpu_speedup")
        out["as_scored"] = {k: scored[k] for k in (*keep, "verdicts_agree")}
    if args.with_fallback:
        t0 = time.perf_counter()
        with get_runner("subprocess", workers=args.workers) as runner:
            runner.run(jobs_for(programs))
        out["fallback_tests_per_s"] = round(len(programs) / (time.perf_counter() - t0), 1)
    out["protections"] = {k: v for k, v in protections().items() if isinstance(v, bool)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
