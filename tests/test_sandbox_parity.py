"""Pooled and one-process-per-job engines give identical verdicts on the shared benchmark's public tests,
for hand-written correct solutions and for wrong ones (wrong answer, crash, time-out)."""

from __future__ import annotations

import json

import pytest

from codetune.sandbox import Job, Limits, get_runner

CORRECT = {
    "abc365_a": "y = int(input())\nprint(366 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 365)\n",
    "abc365_b": "n = int(input())\na = list(map(int, input().split()))\nprint(sorted(range(n), key=lambda i: a[i])[-2] + 1)\n",
    "abc366_a": "n, t, a = map(int, input().split())\nprint('Yes' if max(t, a) > n // 2 else 'No')\n",
    "abc367_a": (
        "a, b, c = map(int, input().split())\n"
        "asleep = b <= a < c if b < c else (a >= b or a < c)\n"
        "print('No' if asleep else 'Yes')\n"
    ),
    "abc368_a": "n, k = map(int, input().split())\na = input().split()\nprint(*(a[n - k:] + a[:n - k]))\n",
    "abc369_a": "a, b = map(int, input().split())\nprint(1 if a == b else 3 if (a + b) % 2 == 0 else 2)\n",
    "abc370_a": "l, r = map(int, input().split())\nprint({(1, 0): 'Yes', (0, 1): 'No'}.get((l, r), 'Invalid'))\n",
    "abc373_a": "print(sum(len(input()) == i for i in range(1, 13)))\n",
    "abc377_a": "print('Yes' if sorted(input()) == ['A', 'B', 'C'] else 'No')\n",
    "abc379_a": "a, b, c = input()\nprint(b + c + a, c + a + b)\n",
    "abc380_a": "print('Yes' if sorted(input()) == sorted('122333') else 'No')\n",
    "abc385_a": (
        "a, b, c = map(int, input().split())\n"
        "print('Yes' if a == b == c or a + b == c or a + c == b or b + c == a else 'No')\n"
    ),
    "abc386_a": (
        "from collections import Counter\n"
        "c = sorted(Counter(input().split()).values())\n"
        "print('Yes' if c in ([1, 3], [2, 2]) else 'No')\n"
    ),
    "abc386_b": ("import re\ns = input()\nprint(len(s) - sum(len(z) // 2 for z in re.findall('0+', s)))\n"),
}
WRONG = {
    "yes": "input()\nprint('Yes')\n",
    "echo": "import sys\nprint(sys.stdin.read())\n",
    "first_int_plus_one": "print(int(input().split()[0]) + 1)\n",
    "crash_on_parse": "n = int(input())\nprint(n)\n",
    "spin": "input()\nwhile True:\n    pass\n",
}

LIMITS = Limits(cpu_time_s=1.0, wall_time_s=4.0, memory_mb=512)


def load_public_tests(path) -> dict[str, list[dict]]:
    tests = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        tests[row["question_id"]] = json.loads(row["public_test_cases"])
    return tests


def same_output(got: str, expected: str) -> bool:
    """LiveCodeBench's comparison: line by line, trailing whitespace ignored."""
    return [x.rstrip() for x in got.rstrip().splitlines()] == [
        x.rstrip() for x in expected.rstrip().splitlines()
    ]


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
