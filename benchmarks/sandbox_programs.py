"""Programs run against the shared benchmark's public tests by tests/test_sandbox_parity.py and
benchmarks/sandbox_throughput.py: hand-written correct solutions (by question_id) and wrong programs, with
the public-test reader and LiveCodeBench's output comparison. One copy, imported by both."""

from __future__ import annotations

import json

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
