"""Every built-in solution runs against every test of its problem, outside the codetune process.

Programs run through `_harness.py`: one `python -I` process per chunk of jobs, in a temporary folder, with
a timeout; inside it each (program, input) gets a fresh namespace and its own stdin/stdout. A few chunks
run side by side. Outputs compare as LiveCodeBench compares them: line by line, trailing whitespace
ignored.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HARNESS = Path(__file__).with_name("_harness.py")
CHUNK = 500  # jobs per harness process


class BuiltinDataError(RuntimeError):
    """A built-in solution failed its own tests: a bug in codetune's data, not in the user's input."""


@dataclass(frozen=True)
class Job:
    key: str  # problem id / solution label / test index, for the error message
    code: str
    stdin: str
    expected: str


def code_fingerprint(code: str) -> str:
    """The program's syntax tree with its own variable, argument and function names erased (builtins and
    imports kept): solutions that differ only in naming or layout share a fingerprint, so distinct
    fingerprints mean distinct code."""
    tree = ast.parse(code)
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bound |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    bound |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in bound:
            node.id = "_"
        elif isinstance(node, ast.arg):
            node.arg = "_"
        elif isinstance(node, ast.FunctionDef):
            node.name = "_"
    return ast.dump(tree, annotate_fields=False)


def same_output(got: str, expected: str) -> bool:
    a = [line.rstrip() for line in got.rstrip().split("\n")]
    b = [line.rstrip() for line in expected.rstrip().split("\n")]
    return a == b


def _run_chunk(jobs: list[Job], timeout_s: float) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="codetune-verify-") as tmp:
        jobs_file, results_file = Path(tmp, "jobs.json"), Path(tmp, "results.json")
        jobs_file.write_text(json.dumps([{"code": j.code, "input": j.stdin} for j in jobs]))
        proc = subprocess.run(
            [sys.executable, "-I", str(HARNESS), str(jobs_file), str(results_file), str(timeout_s)],
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30 + timeout_s * len(jobs),
        )
        if proc.returncode != 0 or not results_file.is_file():
            raise BuiltinDataError(
                f"verification harness failed (exit {proc.returncode}): {proc.stderr[-2000:]}"
            )
        return json.loads(results_file.read_text())


def run_jobs(
    jobs: list[Job], *, timeout_s: float = 5.0, workers: int | None = None, progress: bool = True
) -> list[dict]:
    """Each job's result: {"status": "ok" | "timeout" | "exit N" | "signal N", "stdout", "stderr"}."""
    chunks = [jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    results: list[list[dict]] = [[] for _ in chunks]
    from rich.errors import LiveError

    from codetune.progress import progress_bar

    bar = progress_bar("solutions", transient=True, disable=not progress)
    try:
        bar.start()
    except LiveError:  # inside another live display (a study's own progress): stay quiet
        bar = progress_bar(disable=True)
    try:
        task = bar.add_task("verifying built-in solutions", total=len(jobs))
        with ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(_run_chunk, c, timeout_s) for c in chunks]
            for i, fut in enumerate(futures):
                results[i] = fut.result()
                bar.advance(task, len(chunks[i]))
    finally:
        bar.stop()
    return [r for chunk in results for r in chunk]


def failures(jobs: list[Job], results: list[dict]) -> list[str]:
    bad = []
    for job, res in zip(jobs, results, strict=True):
        if res["status"] != "ok" or not same_output(res["stdout"], job.expected):
            bad.append(
                f"{job.key}: {res['status']}, input {job.stdin!r}, expected {job.expected!r}, "
                f"got {res['stdout'][:200]!r} {res['stderr'][-300:]}"
            )
    return bad


def verify(jobs: list[Job], *, progress: bool = True) -> None:
    """Raise BuiltinDataError naming every failing (problem, solution, test)."""
    bad = failures(jobs, run_jobs(jobs, progress=progress))
    if bad:
        shown = "\n  ".join(bad[:10])
        raise BuiltinDataError(f"{len(bad)} of {len(jobs)} built-in solution runs failed:\n  {shown}")
