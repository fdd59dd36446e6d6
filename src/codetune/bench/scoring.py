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
    from codetune.sandbox import Limits, Result

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

    def __init__(self, runner) -> None:
        self.runner = runner
        self.waited = False

    def run(self, jobs: list) -> list[Result]:
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


def _job_for(problem: Problem, code: str, test: Test, limits: Limits):
    from codetune.sandbox import Job

    if problem.fn_name:
        return Job(program=call_program(code, problem.fn_name, test.input), stdin="", limits=limits)
    return Job(program=stdio_program(code), stdin=test.input, limits=limits)


def score_generations(
    rows: Sequence[Problem | dict],
    generations: Sequence[dict],
    *,
    limits: Limits,
    runner=None,
    progress=None,
) -> list[ScoreEntry]:
    """Score `[{"question_id", "code_list", ...}]` against the problems' tests (LiveCodeBench eval-all layout).

    Each output object: the problem's fields, code_list, graded_list (one bool per sample), pass@1, and per
    sample `verdicts` (one per test run, up to the first failure) and `metadata` (why it failed). A
    question_id not among `rows` is an error naming it. `progress(done_tests, total_started)` is called after
    each wave.
    """
    problems = {p.question_id: p for p in map(_as_problem, rows)}
    for gi, gen in enumerate(generations):
        _check_generation(gen, f"generations: item [{gi}]")
    unknown = [g.get("question_id") for g in generations if g.get("question_id") not in problems]
    if unknown:
        shown = ", ".join(map(str, unknown[:5])) + (" ..." if len(unknown) > 5 else "")
        raise CodetuneError(f"generations name question_id(s) not in the benchmark: {shown}")

    # One entry per sample: (generation index, sample index, problem, code or None).
    samples: list[tuple[int, int, Problem, str | None]] = []
    for gi, gen in enumerate(generations):
        codes = gen["code_list"]
        failed = gen.get("extraction_failed", [False] * len(codes))
        for si, code in enumerate(codes):
            bad = code is None or failed[si]
            samples.append((gi, si, problems[gen["question_id"]], None if bad else code))

    verdicts: list[list[str]] = [[] for _ in samples]
    meta: list[dict] = [{} for _ in samples]
    for i, (_, _, _, code) in enumerate(samples):
        if code is None:
            meta[i] = {"error_code": -1, "error_message": "no code could be extracted from the answer"}

    rerun: dict[int, int] = {}  # per sample: tests re-run alone after a time limit under load
    own_runner = runner is None
    if own_runner:
        from codetune.sandbox import get_runner

        runner = get_runner()
    reruns = _Reruns(runner)
    try:
        done = 0
        wave = 0
        while True:
            active = [
                i
                for i, (_, _, p, code) in enumerate(samples)
                if code is not None
                and wave < len(p.tests)
                and len(verdicts[i]) == wave
                and all(v == PASSED for v in verdicts[i])
            ]
            if not active:
                break
            jobs = [_job_for(samples[i][2], samples[i][3], samples[i][2].tests[wave], limits) for i in active]
            results = runner.run(jobs)
            # LiveCodeBench's wall-clock rule, on the program's own time: a time limit it did not reach
            # itself (starved of CPU) is not its verdict yet: that test runs again alone, and that run decides.
            loaded = functools.cache(
                lambda: oversubscribed() or getattr(runner, "workers", 1) > len(os.sched_getaffinity(0))
            )
            starved = [k for k, res in enumerate(results) if _starved(res, limits, loaded)]
            if starved:
                for k, res in zip(starved, reruns.run([jobs[k] for k in starved]), strict=True):
                    results[k] = res
                    rerun[active[k]] = rerun.get(active[k], 0) + 1
            for i, res in zip(active, results, strict=True):
                problem = samples[i][2]
                test = problem.tests[wave]
                verdict, message = _judge(problem, test, res)
                verdicts[i].append(verdict)
                if verdict != PASSED:
                    meta[i] = {
                        "error_code": _ERROR_CODES[verdict],
                        "error_message": message,
                        "test_index": wave,
                        "inputs": _clip(test.input),
                        "expected": _clip(test.output),
                        "output": _clip(res.stdout),
                    }
            done += len(active)
            wave += 1
            if progress is not None:
                progress(done, len(active))
    finally:
        if own_runner:
            runner.close()

    out: list[ScoreEntry] = []
    by_gen: dict[int, list[int]] = {}
    for i, (gi, _, _, _) in enumerate(samples):
        by_gen.setdefault(gi, []).append(i)
    for gi, gen in enumerate(generations):
        problem = problems[gen["question_id"]]
        idx = by_gen.get(gi, [])
        n_public = len(problem.public_tests)
        graded = [
            samples[i][3] is not None
            and len(verdicts[i]) == len(problem.tests)
            and all(v == PASSED for v in verdicts[i])
            for i in idx
        ]
        public_ok = [
            samples[i][3] is not None
            and len(verdicts[i]) >= n_public
            and all(v == PASSED for v in verdicts[i][:n_public])
            for i in idx
        ]
        out.append(
            ScoreEntry(
                **problem.info(),
                timeouts_rerun=sum(rerun.get(i, 0) for i in idx),
                code_list=list(gen["code_list"]),
                graded_list=graded,
                pass_at_1=sum(graded) / len(graded) if graded else 0.0,
                verdicts=[verdicts[i] for i in idx],
                metadata=[meta[i] or {"execution": "all tests passed"} for i in idx],
                public_passed=public_ok,
                extraction_failed=[samples[i][3] is None for i in idx],
                n_public_tests=n_public,
                n_private_tests=len(problem.private_tests),
                output_list=gen.get("output_list"),
            )
        )
    return out


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
