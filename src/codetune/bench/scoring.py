"""Judging programs as LiveCodeBench's grader does; the programs themselves run only in codetune.sandbox.

Followed: lcb_runner/evaluation/testing_util.py and compute_code_generation_metrics.py at LiveCodeBench
commit 28fef95ea8c9f7a547c8329f2cd3d32b92c1fa24. Each test runs a driver (bench.harness) that executes the
solution the way that grader does (wrapped in a function, stdout captured, a mock stdin); `grading_limits`
gives the per-test limits. stdin tests: the output and the expected output are stripped, split into lines
and each line stripped; the line counts must match and each line must be equal, or equal element by element
as Decimal numbers ("1.0" matches "1"; no other tolerance). Call-based tests: the starter-code function is
called on the test's JSON arguments (one per line) and its result compared with `==` against the expected
JSON value inside the sandbox (a returned tuple counts as a list). A sample fails at its first failing test.
Tests run in waves (test 0 of every sample in parallel, then test 1 of the samples still passing, ...).

Where the two graders could differ, probed with small programs on an A+B problem through both (the cases
of tests/parity_cases.py; tests/test_lcb_grader.py checks codetune's decision on each, and
tests/test_lcb_parity.py checks each against LiveCodeBench's own recorded decision, failure kind included):

| case                                        | LiveCodeBench                           | codetune / decision      |
|---------------------------------------------|-----------------------------------------|--------------------------|
| `for line in sys.stdin:`                    | mock stdin not iterable: runtime error  | same (match)             |
| `time.sleep(7)`                             | signal.alarm(6): 6 s of wall clock, TLE | 6 s wall, CPU capped at  |
|                                             |                                         | 6 s too: TLE (match)     |
| `sys.exit(1)` / `exit(0)` / `sys.exit("x")` | SystemExit swallowed: the output so far | same (match)             |
| after a correct answer                      | is judged, passes                       |                          |
| `quit()`                                    | quit is None: runtime error             | same (match)             |
| a function using `global x` on a top-level  | the program is wrapped in a function,   | same (match)             |
| name                                        | x is a local there: NameError           |                          |
| `if __name__ == '__main__':` not the last   | only a last guard is unwrapped, and     | same (match)             |
| statement                                   | __name__ is "tmp_sol": nothing printed  |                          |
| `class Solution` in a stdin program         | tmp_sol.Solution() fails: runtime error | same (match)             |
| 1.3-1.6 GB of memory (a list, a bytearray) | no memory limit (its reliability_guard  | KEPT: benchmark.memory_mb|
|                                             | is called without one): passes          | (1 GB address space):    |
|                                             |                                         | memory_limit. Hostile    |
|                                             |                                         | code must be bounded on  |
|                                             |                                         | a shared machine; 1024   |
|                                             |                                         | MiB is AtCoder's own     |
| `input()` at EOF                            | EOFError                                | same (match)             |
| `print(x, end="")`, trailing spaces, "\r"   | lines stripped: passes                  | same (match)             |
| `sys.stdin.read()` / `.buffer.read()`       | the whole input, every call             | same (match)             |
| `sys.stdin.buffer.readline()`               | always the first line                   | same (match)             |
| `sys.stdin.readlines()`                     | input.split("\n"): no newlines and a    | same (match)             |
|                                             | trailing "" (parsing each line fails)   |                          |
| `open(0)`, `os.read(0, n)`                  | fd 0 is empty: fails                    | same (match)             |
| `sys.stdin.fileno()`                        | unsupported: runtime error              | same (match)             |
| `from sys import stdin` (or the prelude's   | the real stdin: read/readline/readlines | same (match)             |
| `stdin`)                                    | answer from the input, readline without |                          |
|                                             | its newline; iteration yields nothing   |                          |
| `from sys import stdout`, `os.write(1, b)`, | not captured: wrong answer              | same (match)             |
| `print(file=sys.__stdout__)`                |                                         |                          |
| `sys.stdout.buffer.write(b)`                | StringIO has no buffer: runtime error   | same (match)             |
| a thread started and not joined             | only what it printed before the wrapped | same (match; a race in   |
|                                             | function returned counts                | both)                    |
| deep recursion                              | the prelude sets the limit to 50000     | same (match)             |
| `os.getcwd()`, `subprocess.run`, `os.system`| disabled (None): runtime error          | same (match)             |
| an int of more than 4300 digits printed     | the grader raises the limit to 50000    | same (match)             |
| `os._exit(n)` after printing, an uncaught   | the worker dies: TestRunnerError (-5),  | runtime error (match:    |
| `KeyboardInterrupt` after printing          | fails                                   | os._exit is wrapped)     |
| `sys.stdout.close()`, `.reconfigure()`,     | its StringIO's close takes an argument, | same (match)             |
| `.fileno()`                                 | no reconfigure, no fileno: runtime error|                          |
| `os.close(1)` or `os.close(0)` (the         | test 1 passes; test 2 runs in the same  | KEPT: a fresh process per|
| program's own standard descriptors)         | process, where close fails: runtime err | test: passes (as below)  |
| `sys.stdout = open(1, "w")`                 | fd 1 is not captured: wrong answer      | same (match)             |
| `os.dup2(devnull, 1)`, sys.stdout swapped   | the captured sys.stdout is what counts: | same (match)             |
| and restored, writes to stderr              | passes                                  |                          |
| `sys.exit()` before printing                | nothing printed: wrong answer           | same (match)             |
| `atexit.register(print, x)`                 | never runs in the grader: wrong answer  | same (match)             |
| a daemon thread printing after main ends,   | output taken when main returns: passes  | same (match)             |
| an exception in a joined thread             |                                         |                          |
| `from __future__ import ...`                | placed after the prelude: SyntaxError   | same (match)             |
| empty code (extraction found < 2 fences)    | "" is run and fails to compile          | not run, recorded as an  |
|                                             |                                         | extraction failure: fails|
|                                             |                                         | (same outcome)           |
| a program that catches the time-limit       | the alarm's exception is caught; the    | KEPT: killed at the      |
| exception (`except BaseException`)          | handler's "timeout occured" line is in  | limit: timeout. Fails in |
|                                             | the output: wrong answer                | both; a limit a program  |
|                                             |                                         | can catch is no limit    |
| state kept across tests in an imported      | all tests of a sample run in one        | KEPT: a fresh process per|
| module (`math.counter += 1`)                | process: the state carries over         | test; tests independent  |
| call-based: nested tuples in the result    | `==` against the JSON value: fails      | same (match)             |
| call-based: 1.0 for 1, a top-level tuple   | `==`: passes                            | same (match)             |
| call-based: a module-level function        | used when the code has no               | same (match)             |
|                                             | `class Solution`                        |                          |
| call-based: `class Solution` without the    | no function found: fails                | same (match)             |
| method (a module-level one exists)          |                                         |                          |
| call-based: `sys.exit` in the method        | the worker dies: fails                  | runtime error (match)    |

The wall clock is the program's own: the sandbox leaves out the time the program waited for a CPU that other
work held (its run-queue delay, /proc/PID/schedstat), so on a quiet machine it is LiveCodeBench's wall clock
and on a busy one the verdict stays the same (see _starved for where the kernel does not count it).

Not emulated: LiveCodeBench's whole-sample "global timeout" ((timeout + 1) x tests + 5 s), which the
per-test limit already bounds. Bounds LiveCodeBench does not have (stdout size, file size, processes; see
sandbox.Limits) stay: no answer to these problems comes near them.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from codetune.bench.harness import RESULT_MARKER, call_program, stdio_program
from codetune.bench.lcb import Problem, Test, parse_row
from codetune.bench.passk import pass_at_k
from codetune.errors import CodetuneError
from codetune.files import check_writable_file
from codetune.progress import say
from codetune.records import PASSED, ScoreEntry, ScoreStats, write_list

if TYPE_CHECKING:
    from codetune.sandbox import Job, Limits, Result, Runner

__all__ = ["RESULT_MARKER", "call_program", "grading_limits", "score_generations", "stdio_program"]

# Bump when extraction or judging changes what a program scores, so studies re-score their checkpoints.
# 3: os._exit in a solution is a runtime error (LiveCodeBench: TestRunnerError); 4: the time limit counts the
# program's own time (a test starved of CPU is judged on the time it got, not on the machine's load)
SCORING_VERSION = 4  # and call-based results compared in codetune (the expected value left the sandbox)
WRONG_ANSWER = "wrong_answer"
RUNTIME_ERROR = "runtime_error"
TIMEOUT = "timeout"
MEMORY_LIMIT = "memory_limit"
EXTRACTION_FAILED = "extraction_failed"
SANDBOX_ERROR = "sandbox_error"  # the harness failed, not the program: reported, and counted as a failure

# LiveCodeBench's error codes, kept in each sample's metadata so its tools read our files.
_ERROR_CODES = {WRONG_ANSWER: -2, TIMEOUT: -3, RUNTIME_ERROR: -4, MEMORY_LIMIT: -5, SANDBOX_ERROR: -6}
_STATUS_VERDICT = {
    "runtime_error": RUNTIME_ERROR,
    "timeout": TIMEOUT,
    "memory_limit": MEMORY_LIMIT,
    "output_limit": WRONG_ANSWER,  # unbounded output is never a right answer
    "sandbox_error": SANDBOX_ERROR,
}

SCORE_BAD_ROWS_HINT = "score reads every row: fix or remove the broken one"


def grading_limits(timeout_s: float = 6.0, memory_mb: int = 1024) -> Limits:
    """Per-test sandbox limits for LiveCodeBench's time rule: `timeout_s` seconds of wall clock (its
    signal.alarm(timeout)), with CPU time capped at the same, and `memory_mb` of address space."""
    from codetune.sandbox import Limits

    return Limits(cpu_time_s=timeout_s, wall_time_s=timeout_s, memory_mb=memory_mb)


def _stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(x) for x in line.split()]
    except InvalidOperation:
        return None


def stdio_output_matches(output: str, expected: str) -> bool:
    got, want = _stripped_lines(output), _stripped_lines(expected)
    if len(got) != len(want):
        return False
    for g, w in zip(got, want, strict=True):
        if g == w:
            continue
        dg, dw = _decimals(g), _decimals(w)
        if dg is None or dw is None or dg != dw:
            return False
    return True


# LiveCodeBench's grader process allows integers of up to 50000 digits (harness._GUARD does the same).
_MAX_INT_DIGITS = 50_000


def _json_int(text: str) -> int:
    """json's parse_int with LiveCodeBench's digit limit, not this process's (4300 by default)."""
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError(f"an integer of over {_MAX_INT_DIGITS} digits")
    return int(Decimal(text)) if len(text) > 4000 else int(text)


def call_output_matches(output: str, expected: str) -> bool:
    """Whether the call driver's result (its last result line, see bench.harness) equals the test's expected
    JSON value, by Python `==` as LiveCodeBench compares. Done here, outside the sandbox: the expected value
    never enters the graded program's process."""
    lines = [ln for ln in output.split("\n") if ln.startswith(RESULT_MARKER)]
    body = lines[-1][len(RESULT_MARKER) :] if lines else ""
    if not body.startswith("= "):
        return False
    try:
        return json.loads(body[2:], parse_int=_json_int) == json.loads(expected, parse_int=_json_int)
    except (ValueError, RecursionError):
        return False


def _clip(text: str, length: int = 300) -> str:
    return text if len(text) <= length else text[: length // 2] + "...(truncated)..." + text[-length // 2 :]


# Where a starved test (see _starved) waits for the machine to quieten before it runs again alone: once per
# scoring call, however many tests wait, so scoring ends in a time bounded by its work.
RERUN_WAIT_S = 60.0


def runnable_now() -> int:
    """Threads runnable on this machine right now, this one left out (/proc/loadavg; 0 where unreadable)."""
    try:
        return int(Path("/proc/loadavg").read_text().split()[3].split("/")[0]) - 1
    except (OSError, ValueError, IndexError):
        return 0


def oversubscribed() -> bool:
    """More runnable work than cores, now or over the last minute: generation beside scoring, more sandbox
    workers than cores, other jobs. Sampled a few times: one reading of the run queue is noisy."""
    cores = len(os.sched_getaffinity(0))
    if os.getloadavg()[0] > cores:
        return True
    readings = []
    for _ in range(5):
        readings.append(runnable_now())
        time.sleep(0.02)
    return sorted(readings)[2] > cores


def _starved(result: Result, limits: Limits, loaded: Callable[[], bool]) -> bool:
    """A time limit the program's own time did not reach: CPU time to spare, and wall clock net of its waits
    for a CPU (the sandbox leaves those out, up to WALL_STRETCH x the limit in real time) short of the limit.
    Where the kernel does not count those waits, any wall-clock timeout with CPU time to spare while the
    machine is `loaded`."""
    if result.status != "timeout" or result.cpu_time_s >= 0.9 * limits.cpu_time_s:
        return False
    if result.cpu_wait_s is None:
        return loaded()
    return result.wall_time_s - result.cpu_wait_s < 0.9 * limits.wall_ceiling_s


class _Reruns:
    """Starved tests run again alone, one at a time, and that run decides; before the first, one bounded wait
    for the machine to quieten (RERUN_WAIT_S), said on the console."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.waited = False

    def run(self, jobs: list[Job]) -> list[Result]:
        if not self.waited:
            self.waited = True
            if oversubscribed():
                cores = len(os.sched_getaffinity(0))
                say(
                    f"scoring: {len(jobs)} test(s) hit the time limit while starved of CPU (load "
                    f"{os.getloadavg()[0]:.1f} on {cores} cores); waiting up to {RERUN_WAIT_S:.0f} s for the "
                    "machine to quieten, then running each again alone"
                )
                deadline = time.monotonic() + RERUN_WAIT_S
                while oversubscribed() and time.monotonic() < deadline:
                    time.sleep(0.25)
        return [self.runner.run([job])[0] for job in jobs]


def _judge(problem: Problem, test: Test, result: Result) -> tuple[str, str]:
    """(verdict, message) of one executed test."""
    if result.status != "ok":
        verdict = _STATUS_VERDICT.get(result.status, SANDBOX_ERROR)
        detail = result.stderr.strip().splitlines()[-1:] if result.stderr.strip() else []
        return verdict, f"{result.status}" + (f": {_clip(detail[0])}" if detail else "")
    if problem.fn_name:
        ok = call_output_matches(result.stdout, test.output)
    else:
        ok = stdio_output_matches(result.stdout, test.output)
    return (PASSED, "") if ok else (WRONG_ANSWER, "wrong answer")


def _as_problem(row: Problem | dict) -> Problem:
    if isinstance(row, Problem):
        return row
    try:
        return parse_row(row)
    except ValueError as e:
        raise CodetuneError(f"benchmark row {row.get('question_id', '?')}: {e}") from None


@dataclass
class _Sample:
    """One answer of a generation as scoring follows it: its problem, its code (None: extraction found none,
    so nothing runs and it fails), the verdict of each test run so far (up to the first failure) and, once a
    test failed, LiveCodeBench's metadata of that failure."""

    problem: Problem
    code: str | None
    verdicts: list[str] = field(default_factory=list)
    failure: dict = field(default_factory=dict)
    reruns: int = 0  # tests run again alone after a time limit under load

    def passed_first(self, n: int) -> bool:
        """Whether it ran and passed its first `n` tests."""
        return (
            self.code is not None and len(self.verdicts) >= n and all(v == PASSED for v in self.verdicts[:n])
        )

    def runs_test(self, index: int) -> bool:
        """Whether test `index` is its next: it has one, and every test before it passed."""
        return index < len(self.problem.tests) and len(self.verdicts) == index and self.passed_first(index)

    def job(self, index: int, limits: Limits) -> Job:
        """The sandbox job running its code on test `index`."""
        from codetune.sandbox import Job

        assert self.code is not None  # runs_test: a sample without code runs nothing
        test = self.problem.tests[index]
        if self.problem.fn_name:
            return Job(
                program=call_program(self.code, self.problem.fn_name, test.input), stdin="", limits=limits
            )
        return Job(program=stdio_program(self.code), stdin=test.input, limits=limits)

    def record(self, index: int, result: Result) -> None:
        """The verdict of test `index` from its run; a failure keeps what LiveCodeBench's metadata shows."""
        test = self.problem.tests[index]
        verdict, message = _judge(self.problem, test, result)
        self.verdicts.append(verdict)
        if verdict != PASSED:
            self.failure = {
                "error_code": _ERROR_CODES[verdict],
                "error_message": message,
                "test_index": index,
                "inputs": _clip(test.input),
                "expected": _clip(test.output),
                "output": _clip(result.stdout),
            }

    @property
    def metadata(self) -> dict:
        if self.code is None:
            return {"error_code": -1, "error_message": "no code could be extracted from the answer"}
        return self.failure or {"execution": "all tests passed"}


def score_generations(
    rows: Sequence[Problem | dict],
    generations: Sequence[dict],
    *,
    limits: Limits,
    runner: Runner | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[ScoreEntry]:
    """Score `[{"question_id", "code_list", ...}]` against the problems' tests (LiveCodeBench eval-all layout).

    Each output object: the problem's fields, code_list, graded_list (one bool per sample), pass@1, and per
    sample `verdicts` (one per test run, up to the first failure) and `metadata` (why it failed). A
    question_id not among `rows` is an error naming it. `progress(done_tests, total_started)` is called after
    each wave. Without `runner`, a sandbox runner is started for this call and stopped after it.
    """
    problems = _problems_of(rows, generations)
    per_generation = [_samples_of(g, problems[g["question_id"]]) for g in generations]
    samples = [s for group in per_generation for s in group]
    if runner is None:
        from codetune.sandbox import get_runner

        with get_runner() as own:
            _run_waves(samples, limits=limits, runner=own, progress=progress)
    else:
        _run_waves(samples, limits=limits, runner=runner, progress=progress)
    return [
        _entry(g, problems[g["question_id"]], group)
        for g, group in zip(generations, per_generation, strict=True)
    ]


def _problems_of(rows: Sequence[Problem | dict], generations: Sequence[dict]) -> dict[str, Problem]:
    """The benchmark's problems by question_id, once every generation is checked and names one of them."""
    problems = {p.question_id: p for p in map(_as_problem, rows)}
    for gi, gen in enumerate(generations):
        _check_generation(gen, f"generations: item [{gi}]")
    unknown = [g.get("question_id") for g in generations if g.get("question_id") not in problems]
    if unknown:
        shown = ", ".join(map(str, unknown[:5])) + (" ..." if len(unknown) > 5 else "")
        raise CodetuneError(f"generations name question_id(s) not in the benchmark: {shown}")
    return problems


def _samples_of(generation: dict, problem: Problem) -> list[_Sample]:
    """A generation's answers as samples; a null code, or one whose extraction failed, has nothing to run."""
    codes = generation["code_list"]
    failed = generation.get("extraction_failed", [False] * len(codes))
    return [
        _Sample(problem, None if code is None or bad else code)
        for code, bad in zip(codes, failed, strict=True)
    ]


def _run_waves(
    samples: Sequence[_Sample], *, limits: Limits, runner: Runner, progress: Callable[[int, int], None] | None
) -> None:
    """Every sample's tests, in waves: test 0 of every sample in parallel, then test 1 of the samples still
    passing, ... A sample stops at its first failing test."""
    reruns = _Reruns(runner)
    done, wave = 0, 0
    while active := [s for s in samples if s.runs_test(wave)]:
        jobs = [s.job(wave, limits) for s in active]
        for sample, (result, rerun) in zip(active, _run_wave(jobs, runner, reruns, limits), strict=True):
            sample.reruns += rerun
            sample.record(wave, result)
        done += len(active)
        wave += 1
        if progress is not None:
            progress(done, len(active))


def _run_wave(jobs: list[Job], runner: Runner, reruns: _Reruns, limits: Limits) -> list[tuple[Result, bool]]:
    """Each job's deciding result, and whether it was run again. LiveCodeBench's wall-clock rule, on the
    program's own time: a time limit it did not reach itself (starved of CPU) is not its verdict yet: that
    test runs again alone, and that run decides."""
    results = runner.run(jobs)
    loaded = functools.cache(
        lambda: oversubscribed() or getattr(runner, "workers", 1) > len(os.sched_getaffinity(0))
    )
    starved = [k for k, res in enumerate(results) if _starved(res, limits, loaded)]
    if starved:
        for k, res in zip(starved, reruns.run([jobs[k] for k in starved]), strict=True):
            results[k] = res
    return [(res, k in starved) for k, res in enumerate(results)]


def _entry(generation: dict, problem: Problem, samples: Sequence[_Sample]) -> ScoreEntry:
    """One problem's scores from its samples' verdicts (LiveCodeBench's eval-all fields, then codetune's)."""
    n_public = len(problem.public_tests)
    graded = [s.passed_first(len(problem.tests)) for s in samples]
    return ScoreEntry(
        **problem.info(),
        timeouts_rerun=sum(s.reruns for s in samples),
        code_list=list(generation["code_list"]),
        graded_list=graded,
        pass_at_1=sum(graded) / len(graded) if graded else 0.0,
        verdicts=[s.verdicts for s in samples],
        metadata=[s.metadata for s in samples],
        public_passed=[s.passed_first(n_public) for s in samples],
        extraction_failed=[s.code is None for s in samples],
        n_public_tests=n_public,
        n_private_tests=len(problem.private_tests),
        output_list=generation.get("output_list"),
    )


def summarize_scores(scores: Sequence[ScoreEntry], ks: Sequence[int] = (1,)) -> ScoreStats:
    """Overall pass@1, pass@k (k <= samples per problem), problems solved (records.is_solved) and the last
    verdict of every sample."""
    n = [len(s.graded_list) for s in scores]
    c = [sum(s.graded_list) for s in scores]
    total = len(scores)
    pass_k = {}
    for k in sorted(set(ks) | {1}):
        if total and all(ni >= k for ni in n):
            pass_k[f"pass@{k}"] = sum(pass_at_k(ni, ci, k) for ni, ci in zip(n, c, strict=True)) / total
    counts: dict[str, int] = {}
    for s in scores:
        if s.verdicts is None or s.extraction_failed is None:
            raise CodetuneError(f"question_id {s.question_id}: no per-test verdicts (not scored by codetune)")
        for vs, failed in zip(s.verdicts, s.extraction_failed, strict=True):
            last = EXTRACTION_FAILED if failed else vs[-1]
            counts[last] = counts.get(last, 0) + 1
    private = [s.private_solved for s in scores]
    return ScoreStats(
        pass_at_1=pass_k.get("pass@1", 0.0),
        pass_at_k=pass_k,
        solved=sum(s.solved for s in scores),
        solved_public=sum(bool(s.public_solved) for s in scores),
        private_solved=sum(map(bool, private)) if private and None not in private else None,
        total=total,
        n_samples=max(n) if n else 0,
        extraction_failures=counts.get(EXTRACTION_FAILED, 0),
        sample_verdicts=counts,
        timeouts_rerun=sum(s.timeouts_rerun for s in scores),
    )


def _check_generation(g: object, where: str) -> None:
    """One item of a generations file, field by field; CodetuneError naming the item and the field."""
    if not isinstance(g, dict):
        raise CodetuneError(f"{where}: expected an object with question_id and code_list, got {_kind(g)}")
    qid = g.get("question_id")
    if not isinstance(qid, str) or not qid:
        raise CodetuneError(f"{where}: question_id must be a non-empty string, got {_kind(qid)}")
    where = f"{where} (question_id {qid})"
    codes = g.get("code_list")
    if not isinstance(codes, list) or not codes:
        raise CodetuneError(f"{where}: code_list must be a non-empty list of strings, got {_kind(codes)}")
    for j, c in enumerate(codes):
        if c is not None and not isinstance(c, str):
            raise CodetuneError(f"{where}: code_list[{j}] must be a string or null, got {_kind(c)}")
    for key, kind, ok in (
        ("output_list", "strings", lambda v: isinstance(v, str)),
        ("extraction_failed", "true/false values", lambda v: isinstance(v, bool)),
    ):
        if key not in g:
            continue
        value = g[key]
        if not isinstance(value, list) or len(value) != len(codes):
            raise CodetuneError(
                f"{where}: {key} must be a list of {kind}, one per code_list entry ({len(codes)}), "
                f"got {_kind(value)}"
            )
        for j, v in enumerate(value):
            if not ok(v):
                raise CodetuneError(f"{where}: {key}[{j}] must be one of {kind}, got {_kind(v)}")


def _kind(value: object) -> str:
    """How a wrong value reads in an error: its JSON type, and the value itself when short."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    name = names.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)
    if isinstance(value, list):
        return f"a list of {len(value)}"
    shown = json.dumps(value) if isinstance(value, (str, int, float, bool)) else ""
    return f"{name} {shown}" if shown and len(shown) <= 40 else name


def load_generations(path: Path) -> list[dict]:
    """A LiveCodeBench custom-output file: a JSON list of {"question_id": str, "code_list": [str | null, ...]},
    optionally with "output_list" (the raw answers) and "extraction_failed" (bools), one per code_list entry.
    Every field is checked; an error names the item, its question_id and the field."""
    if not path.is_file():
        raise CodetuneError(f"generations file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CodetuneError(f"{path}: invalid JSON ({e.msg} at line {e.lineno})") from None
    except UnicodeDecodeError as e:
        raise CodetuneError(f"{path}: not UTF-8 text ({e.reason})") from None
    if not isinstance(data, list):
        raise CodetuneError(f"{path}: expected a JSON list of {{question_id, code_list}} objects")
    seen: set[str] = set()
    for i, g in enumerate(data):
        _check_generation(g, f"{path}: item [{i}]")
        if g["question_id"] in seen:
            raise CodetuneError(f"{path}: question_id {g['question_id']} appears twice")
        seen.add(g["question_id"])
    return data


def score_files(
    benchmark: Path, generations: Path, out: Path, *, limits: Limits, workers: int | None = None
) -> ScoreStats:
    """`codetune score`: score a generations file against a benchmark file, write the scores, return a summary.

    The output path is checked first (a folder, a path under a file, a folder that takes no new file are
    errors before any test runs); the scores file is written atomically."""
    from codetune.bench.lcb import load_benchmark_file
    from codetune.sandbox import get_runner

    check_writable_file(out, "--out")
    problems = load_benchmark_file(benchmark, bad_rows_hint=SCORE_BAD_ROWS_HINT)
    gens = load_generations(generations)
    with get_runner(workers=workers) as runner:
        scores = score_generations(problems, gens, limits=limits, runner=runner)
    write_list(out, scores)
    ks = sorted({k for k in (1, 5, 10) if all(len(s.graded_list) >= k for s in scores)})
    return summarize_scores(scores, ks)
