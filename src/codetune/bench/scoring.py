"""Judging programs with LiveCodeBench's semantics; the programs themselves run only in codetune.sandbox.

stdin tests: the output and the expected output are stripped, split into lines and each line stripped; the
line counts must match and each line must be equal, or equal element by element as Decimal numbers ("1.0"
matches "1"; LiveCodeBench allows no other tolerance). Call-based tests: a driver program defines the
model's code, calls the starter-code function with the test's JSON arguments (one per line) and prints the
JSON result, which is compared with the expected JSON value (a tuple counts as a list).

A sample fails at its first failing test. Tests run in waves (test 0 of every sample in parallel, then test 1
of the samples still passing, ...), so no time is spent on tests after a failure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from codetune.bench.lcb import Problem, Test, parse_row
from codetune.bench.passk import pass_at_k
from codetune.errors import CodetuneError
from codetune.records import PASSED, ScoreEntry, ScoreStats, write_list

if TYPE_CHECKING:
    from codetune.sandbox import Limits, Result

# Bump when extraction or judging changes what a program scores, so studies re-score their checkpoints.
SCORING_VERSION = 1
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

# What LiveCodeBench puts in front of every solution: a program that uses `sqrt` or `List[int]` without an
# import passes there, so it passes here too.
PRELUDE = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\nfrom random import *\n"
    "from statistics import *\nfrom itertools import *\nfrom functools import *\nfrom operator import *\n"
    "from io import *\nfrom sys import *\nfrom json import *\nfrom builtins import *\nfrom typing import *\n"
    "import string\nimport re\nimport datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\n"
    "import math\nimport random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
    "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n"
)
RESULT_MARKER = "\x1e codetune-result "

_DRIVER = """\
import io as _io, json as _json, sys as _sys
_real_stdout = _sys.stdout
_sys.stdout = _io.StringIO()  # the solution's own prints must not mix with the result line
_ns = {{"__name__": "solution"}}
exec(compile({code!r}, "<solution>", "exec"), _ns)
_target = _ns["Solution"]() if isinstance(_ns.get("Solution"), type) else None
_fn = getattr(_target, {fn!r}, None) if _target is not None else None
if _fn is None:
    _fn = _ns.get({fn!r})
if not callable(_fn):
    raise SystemExit("solution defines no function " + {fn!r})
_args = [_json.loads(line) for line in {args!r}.split("\\n") if line.strip()]
_result = _fn(*_args)
if isinstance(_result, tuple):
    _result = list(_result)
_sys.stdout = _real_stdout
print({marker!r} + _json.dumps(_result, default=lambda o: {{"__unserializable__": repr(o)}}))
"""


def stdio_program(code: str) -> str:
    return PRELUDE + "\n" + code


def call_program(code: str, fn_name: str, test_input: str) -> str:
    """A driver that runs the solution's `fn_name` on one test's JSON arguments and prints the JSON result."""
    return _DRIVER.format(code=PRELUDE + "\n" + code, fn=fn_name, args=test_input, marker=RESULT_MARKER)


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


def call_output_matches(output: str, expected: str) -> bool:
    lines = [ln for ln in output.split("\n") if ln.startswith(RESULT_MARKER)]
    if not lines:
        return False
    try:
        got = json.loads(lines[-1][len(RESULT_MARKER) :])
        want = json.loads(expected)
    except json.JSONDecodeError:
        return False
    return got == want


def _clip(text: str, length: int = 300) -> str:
    return text if len(text) <= length else text[: length // 2] + "...(truncated)..." + text[-length // 2 :]


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
    unknown = [g.get("question_id") for g in generations if g.get("question_id") not in problems]
    if unknown:
        shown = ", ".join(map(str, unknown[:5])) + (" ..." if len(unknown) > 5 else "")
        raise CodetuneError(f"generations name question_id(s) not in the benchmark: {shown}")

    # One entry per sample: (generation index, sample index, problem, code or None).
    samples: list[tuple[int, int, Problem, str | None]] = []
    for gi, gen in enumerate(generations):
        codes = gen.get("code_list")
        if not isinstance(codes, list) or not codes:
            raise CodetuneError(
                f"generations: question_id {gen['question_id']}: code_list must be a non-empty list"
            )
        failed = gen.get("extraction_failed") or [False] * len(codes)
        for si, code in enumerate(codes):
            bad = code is None or (si < len(failed) and failed[si])
            samples.append((gi, si, problems[gen["question_id"]], None if bad else str(code)))

    verdicts: list[list[str]] = [[] for _ in samples]
    meta: list[dict] = [{} for _ in samples]
    for i, (_, _, _, code) in enumerate(samples):
        if code is None:
            meta[i] = {"error_code": -1, "error_message": "no code could be extracted from the answer"}

    own_runner = runner is None
    if own_runner:
        from codetune.sandbox import get_runner

        runner = get_runner()
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
    )


def load_generations(path: Path) -> list[dict]:
    """A LiveCodeBench custom-output file: a JSON list of {"question_id", "code_list": [str, ...]}."""
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
        if not isinstance(g, dict) or "question_id" not in g or not isinstance(g.get("code_list"), list):
            raise CodetuneError(f"{path}: item [{i}] needs question_id and a code_list list")
        if g["question_id"] in seen:
            raise CodetuneError(f"{path}: question_id {g['question_id']} appears twice")
        seen.add(g["question_id"])
        if not all(c is None or isinstance(c, str) for c in g["code_list"]):
            raise CodetuneError(f"{path}: question_id {g['question_id']}: code_list must hold strings")
    return data


def score_files(
    benchmark: Path, generations: Path, out: Path, *, limits: Limits, workers: int | None = None
) -> ScoreStats:
    """`codetune score`: score a generations file against a benchmark file, write the scores, return a summary."""
    from codetune.bench.lcb import load_benchmark_file
    from codetune.sandbox import get_runner

    problems = load_benchmark_file(benchmark)
    gens = load_generations(generations)
    with get_runner(workers=workers) as runner:
        scores = score_generations(problems, gens, limits=limits, runner=runner)
    write_list(out, scores)
    ks = sorted({k for k in (1, 5, 10) if all(len(s.graded_list) >= k for s in scores)})
    return summarize_scores(scores, ks)
