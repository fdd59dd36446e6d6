"""codetune's grader against LiveCodeBench's, case by case (the table in bench/scoring.py's docstring).

Each case is a small program on an A+B problem with what codetune must decide and what LiveCodeBench's
grader (commit 28fef95) decides, measured with its run_test. With CODETUNE_LCB_CHECKOUT pointing at a
LiveCodeBench checkout, the slow test also runs every case through LiveCodeBench's own codegen_metrics
(via benchmarks/lcb_parity.py) and checks the LiveCodeBench column.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codetune.bench.lcb import parse_row
from codetune.bench.scoring import grading_limits, score_generations

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 4  # seconds per test, both graders (page faults for 1.3 GB take ~2 s on a small VM)
TESTS = [
    {"input": "1 2\n", "output": "3\n", "testtype": "stdin"},
    {"input": "10 20\n", "output": "30\n", "testtype": "stdin"},
]
ROW = {
    "question_title": "A+B",
    "question_content": "Print A+B.",
    "platform": "atcoder",
    "question_id": "apb_a",
    "contest_id": "apb",
    "contest_date": None,
    "starter_code": "",
    "difficulty": "easy",
    "public_test_cases": json.dumps(TESTS),
    "private_test_cases": "[]",
    "metadata": "{}",
}
READ = "a, b = map(int, input().split())\n"

# name: (program, codetune passes, LiveCodeBench passes, codetune's verdict on the failing test)
CASES: dict[str, tuple[str, bool, bool, str | None]] = {
    "plain": (READ + "print(a + b)\n", True, True, None),
    "for_line_in_stdin": (
        "import sys\nfor line in sys.stdin:\n    a, b = map(int, line.split())\n    print(a + b)\n",
        False,
        False,
        "runtime_error",
    ),
    "sleep_past_the_limit": (READ + "print(a + b)\nimport time\ntime.sleep(5)\n", False, False, "timeout"),
    "sys_exit_1_after_answer": ("import sys\n" + READ + "print(a + b)\nsys.exit(1)\n", True, True, None),
    "sys_exit_message_after_answer": (
        "import sys\n" + READ + "print(a + b)\nsys.exit('bye')\n",
        True,
        True,
        None,
    ),
    "exit_0_after_answer": (READ + "print(a + b)\nexit(0)\n", True, True, None),
    "quit_after_answer": (READ + "print(a + b)\nquit()\n", False, False, "runtime_error"),
    "module_level_global": (
        "total = 0\ndef add(x):\n    global total\n    total += x\n"
        + READ
        + "add(a)\nadd(b)\nprint(total)\n",
        False,
        False,
        "runtime_error",
    ),
    "main_guard_last": (
        "def main():\n    " + READ + "    print(a + b)\nif __name__ == '__main__':\n    main()\n",
        True,
        True,
        None,
    ),
    "main_guard_not_last": (
        "def main():\n    " + READ + "    print(a + b)\nif __name__ == '__main__':\n    main()\nx = 1\n",
        False,
        False,
        "wrong_answer",
    ),
    "class_solution_in_stdin_program": (
        "class Solution:\n    def solve(self):\n        "
        + READ
        + "        print(a + b)\nSolution().solve()\n",
        False,
        False,
        "runtime_error",
    ),
    "buffer_of_1_3_gb": (
        "x = bytearray(1_300_000_000)\n" + READ + "print(a + b)\n",
        False,
        True,
        "memory_limit",
    ),
    "input_until_eof": (
        "s = 0\nwhile True:\n    try:\n        line = input()\n    except EOFError:\n        break\n"
        "    s += sum(map(int, line.split()))\nprint(s)\n",
        True,
        True,
        None,
    ),
    "print_end_empty": (READ + "print(a + b, end='')\n", True, True, None),
    "trailing_spaces_and_cr": (READ + "print(str(a + b) + '  \\r')\n", True, True, None),
    "stdin_read_twice": (
        "import sys\nsys.stdin.read()\na, b = map(int, sys.stdin.read().split())\nprint(a + b)\n",
        True,
        True,
        None,
    ),
    "stdin_buffer_read": (
        "import sys\na, b = map(int, sys.stdin.buffer.read().split())\nprint(a + b)\n",
        True,
        True,
        None,
    ),
    "stdin_buffer_readline_repeats_line_1": (
        "import sys\nr = sys.stdin.buffer.readline\nr()\na, b = map(int, r().split())\nprint(a + b)\n",
        True,
        True,
        None,
    ),
    "readlines_has_trailing_empty_line": (
        "import sys\nfor line in sys.stdin.readlines():\n    a, b = map(int, line.split())\n    print(a + b)\n",
        False,
        False,
        "runtime_error",
    ),
    "open_0": ("a, b = map(int, open(0).read().split())\nprint(a + b)\n", False, False, "runtime_error"),
    "stdin_fileno": (
        "import os, sys\nd = os.read(sys.stdin.fileno(), 99).split()\nprint(int(d[0]) + int(d[1]))\n",
        False,
        False,
        "runtime_error",
    ),
    "from_sys_import_stdin": (
        "from sys import stdin\na, b = map(int, stdin.readline().split())\nprint(a + b)\n",
        True,
        True,
        None,
    ),
    "prelude_stdin_readline_has_no_newline": (
        "s = stdin.readline()\nprint(3 if s == '1 2' else 30 if s == '10 20' else -1)\n",
        True,
        True,
        None,
    ),
    "from_sys_import_stdout": (
        "from sys import stdout\n" + READ + "stdout.write(str(a + b) + '\\n')\n",
        False,
        False,
        "wrong_answer",
    ),
    "os_write_fd_1": (
        "import os\n" + READ + "os.write(1, (str(a + b) + '\\n').encode())\n",
        False,
        False,
        "wrong_answer",
    ),
    "print_to_dunder_stdout": (
        "import sys\n" + READ + "print(a + b, file=sys.__stdout__)\n",
        False,
        False,
        "wrong_answer",
    ),
    "stdout_buffer_write": (
        "import sys\n" + READ + "sys.stdout.buffer.write((str(a + b) + '\\n').encode())\n",
        False,
        False,
        "runtime_error",
    ),
    "thread_joined": (
        "import threading\ndef main():\n    " + READ + "    print(a + b)\n"
        "t = threading.Thread(target=main)\nt.start()\nt.join()\n",
        True,
        True,
        None,
    ),
    "thread_not_joined_slow": (
        "import threading, time\ndef main():\n    time.sleep(0.3)\n    " + READ + "    print(a + b)\n"
        "threading.Thread(target=main).start()\n",
        False,
        False,
        "wrong_answer",
    ),
    "deep_recursion": (
        "import sys\nsys.setrecursionlimit(10**6)\ndef f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\n"
        + READ
        + "print(a + b + f(30000) - 30000)\n",
        True,
        True,
        None,
    ),
    "os_getcwd_disabled": (
        "import os\nos.getcwd()\n" + READ + "print(a + b)\n",
        False,
        False,
        "runtime_error",
    ),
    "subprocess_disabled": (
        "import subprocess\nsubprocess.run(['true'])\n" + READ + "print(a + b)\n",
        False,
        False,
        "runtime_error",
    ),
    "int_of_5000_digits": (READ + "x = 10 ** 5000\nprint(a + b + len(str(x)) - 5001)\n", True, True, None),
    "os_exit_after_answer": (
        "import os, sys\n" + READ + "print(a + b)\nsys.stdout.flush()\nos._exit(0)\n",
        False,
        False,
        "wrong_answer",
    ),
    "future_import": (
        "from __future__ import annotations\n" + READ + "print(a + b)\n",
        False,
        False,
        "runtime_error",
    ),
    "empty_code": ("", False, False, "runtime_error"),
    "time_limit_swallowed": (
        READ + "import time\ntry:\n    time.sleep(5)\nexcept BaseException:\n    pass\nprint(a + b)\n",
        False,
        False,
        "timeout",
    ),
    "state_across_tests": (
        "import math\nmath.counter = getattr(math, 'counter', 0) + 1\n"
        + READ
        + "print(a + b if math.counter == 1 else -1)\n",
        True,
        False,
        None,
    ),
}


@pytest.fixture(scope="module")
def scored():
    from codetune.sandbox import get_runner

    names = list(CASES)
    gens = [{"question_id": ROW["question_id"], "code_list": [CASES[n][0] for n in names]}]
    with get_runner(workers=2) as runner:
        (s,) = score_generations([parse_row(ROW)], gens, limits=grading_limits(TIMEOUT, 1024), runner=runner)
    return {n: (s.graded_list[i], s.verdicts[i], s.metadata[i]) for i, n in enumerate(names)}


@pytest.mark.parametrize("case", list(CASES))
def test_grader_decision(case, scored):
    _, ours, _, verdict = CASES[case]
    passed, verdicts, meta = scored[case]
    assert passed == ours, (verdicts, meta)
    if verdict is not None:
        assert verdicts[-1] == verdict, meta


def test_grading_limits_are_wall_clock_seconds():
    limits = grading_limits(6.0, 1024)
    assert limits.wall_ceiling_s == 6.0 and limits.cpu_time_s == 6.0 and limits.memory_mb == 1024


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("CODETUNE_LCB_CHECKOUT"), reason="set CODETUNE_LCB_CHECKOUT to an LCB checkout"
)
def test_livecodebench_decides_as_the_table_says(tmp_path):
    bench = tmp_path / "apb.jsonl"
    bench.write_text(json.dumps(ROW) + "\n")
    names = list(CASES)
    gens = tmp_path / "generations.json"
    gens.write_text(
        json.dumps([{"question_id": ROW["question_id"], "code_list": [CASES[n][0] for n in names]}])
    )
    details = tmp_path / "details.json"
    cmd = [
        sys.executable,
        str(REPO / "benchmarks" / "lcb_parity.py"),
        "--lcb",
        os.environ["CODETUNE_LCB_CHECKOUT"],
    ]
    cmd += [
        "--benchmark",
        str(bench),
        "--generations",
        str(gens),
        "--timeout",
        str(TIMEOUT),
        "--details",
        str(details),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert res.returncode in (0, 1), res.stderr
    (report,) = json.loads(details.read_text())
    lcb = {s["sample"]: s["livecodebench_passed"] for s in report["per_sample"]}
    assert {n: lcb[i] for i, n in enumerate(names)} == {n: CASES[n][2] for n in names}


# Call-based (LeetCode) problems: the result compared with Python `==` as LiveCodeBench does (its run_test
# on these programs gives the LiveCodeBench column).
CALL_ROW = {
    "question_id": "lc_pairs",
    "question_content": "Pair each number with k.",
    "platform": "leetcode",
    "starter_code": "class Solution:\n    def pairs(self, a: List[int], k: int) -> List[List[int]]:\n        ",
    "public_test_cases": json.dumps(
        [{"input": "[1, 2]\n3", "output": "[[1, 3], [2, 3]]", "testtype": "functional"}]
    ),
    "metadata": json.dumps({"func_name": "pairs"}),
}
CALL_CASES = {
    "lists": ("class Solution:\n    def pairs(self, a, k):\n        return [[x, k] for x in a]\n", True),
    "nested_tuples_differ": (
        "class Solution:\n    def pairs(self, a, k):\n        return [(x, k) for x in a]\n",
        False,
    ),
    "top_level_tuple_is_a_list": (
        "class Solution:\n    def pairs(self, a, k):\n        return tuple([x, k] for x in a)\n",
        True,
    ),
    "floats_equal_ints": (
        "class Solution:\n    def pairs(self, a, k):\n        return [[x * 1.0, k] for x in a]\n",
        True,
    ),
    "module_function": ("def pairs(a, k):\n    return [[x, k] for x in a]\n", True),
    "class_without_the_method": (
        "class Solution:\n    pass\ndef pairs(a, k):\n    return [[x, k] for x in a]\n",
        False,
    ),
    "prints_do_not_matter": (
        "class Solution:\n    def pairs(self, a, k):\n        print('hi')\n        return [[x, k] for x in a]\n",
        True,
    ),
    "sys_exit_in_the_method": (
        "import sys\nclass Solution:\n    def pairs(self, a, k):\n        sys.exit(0)\n",
        False,
    ),
}


@pytest.fixture(scope="module")
def scored_calls():
    from codetune.sandbox import get_runner

    names = list(CALL_CASES)
    gens = [{"question_id": "lc_pairs", "code_list": [CALL_CASES[n][0] for n in names]}]
    with get_runner(workers=2) as runner:
        (s,) = score_generations(
            [parse_row(CALL_ROW)], gens, limits=grading_limits(TIMEOUT, 1024), runner=runner
        )
    return dict(zip(names, s.graded_list, strict=True))


@pytest.mark.parametrize("case", list(CALL_CASES))
def test_call_based_decision(case, scored_calls):
    assert scored_calls[case] == CALL_CASES[case][1]
