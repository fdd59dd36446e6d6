"""The answers codetune's grader is held to LiveCodeBench's grader on, in plain Python (no test imports):
benchmarks/lcb_parity.py runs LiveCodeBench's own extract_code and codegen_metrics on them and writes what it
decided to tests/data/livecodebench_verdicts.json; tests/test_lcb_parity.py holds codetune to that file in CI.

Three sets: `extraction` (raw answers on one real problem, stressing LiveCodeBench's fence rule), `grader`
(programs on an A+B problem, stressing its execution model: standard streams, exits, threads, state) and
`known` (correct and wrong programs for real problems of tests/data). DIFFERENCES lists every sample where
codetune decides otherwise than LiveCodeBench, each with the reason (bench/scoring.py's table)."""

from __future__ import annotations

import json

# Seconds per test, both graders: the programs that sleep 5 s must pass it (page faults for 1.3 GB take ~2 s
# on a small VM).
TIMEOUT_S = 4
TESTS = [
    {"input": "1 2\n", "output": "3\n", "testtype": "stdin"},
    {"input": "10 20\n", "output": "30\n", "testtype": "stdin"},
]
APB_ROW = {
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

# name: (program, whether codetune passes it, codetune's verdict on the failing test). What LiveCodeBench
# decides is measured, in tests/data/livecodebench_verdicts.json; where it differs, DIFFERENCES says why.
GRADER_CASES: dict[str, tuple[str, bool, str | None]] = {
    "plain": ("a, b = map(int, input().split())\nprint(a + b)\n", True, None),
    "for_line_in_stdin": (
        "import sys\nfor line in sys.stdin:\n    a, b = map(int, line.split())\n    print(a + b)\n",
        False,
        "runtime_error",
    ),
    "sleep_past_the_limit": (
        "a, b = map(int, input().split())\nprint(a + b)\nimport time\ntime.sleep(5)\n",
        False,
        "timeout",
    ),
    "sys_exit_1_after_answer": (
        "import sys\na, b = map(int, input().split())\nprint(a + b)\nsys.exit(1)\n",
        True,
        None,
    ),
    "sys_exit_message_after_answer": (
        "import sys\na, b = map(int, input().split())\nprint(a + b)\nsys.exit('bye')\n",
        True,
        None,
    ),
    "exit_0_after_answer": ("a, b = map(int, input().split())\nprint(a + b)\nexit(0)\n", True, None),
    "quit_after_answer": ("a, b = map(int, input().split())\nprint(a + b)\nquit()\n", False, "runtime_error"),
    "module_level_global": (
        "total = 0\ndef add(x):\n    global total\n    total += x\na, b = map(int, input().split())\nadd(a)\nadd(b)\nprint(total)\n",
        False,
        "runtime_error",
    ),
    "main_guard_last": (
        "def main():\n    a, b = map(int, input().split())\n    print(a + b)\nif __name__ == '__main__':\n    main()\n",
        True,
        None,
    ),
    "main_guard_not_last": (
        "def main():\n    a, b = map(int, input().split())\n    print(a + b)\nif __name__ == '__main__':\n    main()\nx = 1\n",
        False,
        "wrong_answer",
    ),
    "class_solution_in_stdin_program": (
        "class Solution:\n    def solve(self):\n        a, b = map(int, input().split())\n        print(a + b)\nSolution().solve()\n",
        False,
        "runtime_error",
    ),
    "buffer_of_1_3_gb": (
        "x = bytearray(1_300_000_000)\na, b = map(int, input().split())\nprint(a + b)\n",
        False,
        "memory_limit",
    ),
    "input_until_eof": (
        "s = 0\nwhile True:\n    try:\n        line = input()\n    except EOFError:\n        break\n    s += sum(map(int, line.split()))\nprint(s)\n",
        True,
        None,
    ),
    "print_end_empty": ("a, b = map(int, input().split())\nprint(a + b, end='')\n", True, None),
    "trailing_spaces_and_cr": ("a, b = map(int, input().split())\nprint(str(a + b) + '  \\r')\n", True, None),
    "stdin_read_twice": (
        "import sys\nsys.stdin.read()\na, b = map(int, sys.stdin.read().split())\nprint(a + b)\n",
        True,
        None,
    ),
    "stdin_buffer_read": (
        "import sys\na, b = map(int, sys.stdin.buffer.read().split())\nprint(a + b)\n",
        True,
        None,
    ),
    "stdin_buffer_readline_repeats_line_1": (
        "import sys\nr = sys.stdin.buffer.readline\nr()\na, b = map(int, r().split())\nprint(a + b)\n",
        True,
        None,
    ),
    "readlines_has_trailing_empty_line": (
        "import sys\nfor line in sys.stdin.readlines():\n    a, b = map(int, line.split())\n    print(a + b)\n",
        False,
        "runtime_error",
    ),
    "open_0": ("a, b = map(int, open(0).read().split())\nprint(a + b)\n", False, "runtime_error"),
    "stdin_fileno": (
        "import os, sys\nd = os.read(sys.stdin.fileno(), 99).split()\nprint(int(d[0]) + int(d[1]))\n",
        False,
        "runtime_error",
    ),
    "from_sys_import_stdin": (
        "from sys import stdin\na, b = map(int, stdin.readline().split())\nprint(a + b)\n",
        True,
        None,
    ),
    "prelude_stdin_readline_has_no_newline": (
        "s = stdin.readline()\nprint(3 if s == '1 2' else 30 if s == '10 20' else -1)\n",
        True,
        None,
    ),
    "from_sys_import_stdout": (
        "from sys import stdout\na, b = map(int, input().split())\nstdout.write(str(a + b) + '\\n')\n",
        False,
        "wrong_answer",
    ),
    "os_write_fd_1": (
        "import os\na, b = map(int, input().split())\nos.write(1, (str(a + b) + '\\n').encode())\n",
        False,
        "wrong_answer",
    ),
    "print_to_dunder_stdout": (
        "import sys\na, b = map(int, input().split())\nprint(a + b, file=sys.__stdout__)\n",
        False,
        "wrong_answer",
    ),
    "stdout_buffer_write": (
        "import sys\na, b = map(int, input().split())\nsys.stdout.buffer.write((str(a + b) + '\\n').encode())\n",
        False,
        "runtime_error",
    ),
    "thread_joined": (
        "import threading\ndef main():\n    a, b = map(int, input().split())\n    print(a + b)\nt = threading.Thread(target=main)\nt.start()\nt.join()\n",
        True,
        None,
    ),
    "thread_not_joined_slow": (
        "import threading, time\ndef main():\n    time.sleep(2)\n    a, b = map(int, input().split())\n    print(a + b)\nthreading.Thread(target=main).start()\n",
        False,
        "wrong_answer",
    ),
    "deep_recursion": (
        "import sys\nsys.setrecursionlimit(10**6)\ndef f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\na, b = map(int, input().split())\nprint(a + b + f(30000) - 30000)\n",
        True,
        None,
    ),
    "os_getcwd_disabled": (
        "import os\nos.getcwd()\na, b = map(int, input().split())\nprint(a + b)\n",
        False,
        "runtime_error",
    ),
    "subprocess_disabled": (
        "import subprocess\nsubprocess.run(['true'])\na, b = map(int, input().split())\nprint(a + b)\n",
        False,
        "runtime_error",
    ),
    "int_of_5000_digits": (
        "a, b = map(int, input().split())\nx = 10 ** 5000\nprint(a + b + len(str(x)) - 5001)\n",
        True,
        None,
    ),
    "os_exit_after_answer": (
        "import os, sys\na, b = map(int, input().split())\nprint(a + b)\nsys.stdout.flush()\nos._exit(0)\n",
        False,
        "runtime_error",
    ),
    "future_import": (
        "from __future__ import annotations\na, b = map(int, input().split())\nprint(a + b)\n",
        False,
        "runtime_error",
    ),
    "empty_code": ("", False, "runtime_error"),
    "time_limit_swallowed": (
        "a, b = map(int, input().split())\nimport time\ntry:\n    time.sleep(5)\nexcept BaseException:\n    pass\nprint(a + b)\n",
        False,
        "timeout",
    ),
    "state_across_tests": (
        "import math\nmath.counter = getattr(math, 'counter', 0) + 1\na, b = map(int, input().split())\nprint(a + b if math.counter == 1 else -1)\n",
        True,
        None,
    ),
    # Standard streams closed, redirected or reopened by the program itself.
    "stdout_closed_after_answer": (
        "a, b = map(int, input().split())\nimport sys\nprint(a + b)\nsys.stdout.close()\n",
        False,
        "runtime_error",
    ),
    "stdout_closed_before_answer": (
        "import sys\nsys.stdout.close()\na, b = map(int, input().split())\nprint(a + b)\n",
        False,
        "runtime_error",
    ),
    "fd_1_closed_before_answer": (
        "import os\nos.close(1)\na, b = map(int, input().split())\nprint(a + b)\n",
        True,
        None,
    ),
    "fd_0_closed_before_input": (
        "import os\nos.close(0)\na, b = map(int, input().split())\nprint(a + b)\n",
        True,
        None,
    ),
    "fd_1_reopened_as_stdout": (
        "import sys\nsys.stdout = open(1, 'w', closefd=False)\na, b = map(int, input().split())\nprint(a + b)\nsys.stdout.flush()\n",
        False,
        "wrong_answer",
    ),
    "devnull_dup2_over_fd_1": (
        "import os\nos.dup2(os.open(os.devnull, os.O_WRONLY), 1)\na, b = map(int, input().split())\nprint(a + b)\n",
        True,
        None,
    ),
    "stdout_swapped_and_restored": (
        "import io, sys\nold = sys.stdout\nsys.stdout = io.StringIO()\nprint('noise')\nsys.stdout = old\na, b = map(int, input().split())\nprint(a + b)\n",
        True,
        None,
    ),
    "stdout_reconfigure": (
        "import sys\nsys.stdout.reconfigure(line_buffering=True)\na, b = map(int, input().split())\nprint(a + b)\n",
        False,
        "runtime_error",
    ),
    "stdout_fileno": (
        "import sys\nsys.stdout.fileno()\na, b = map(int, input().split())\nprint(a + b)\n",
        False,
        "runtime_error",
    ),
    "stderr_written_too": (
        "a, b = map(int, input().split())\nimport sys\nprint('debug', file=sys.stderr)\nprint(a + b)\n",
        True,
        None,
    ),
    "stdout_write_without_newline": (
        "import sys\na, b = map(int, input().split())\nsys.stdout.write(str(a + b))\n",
        True,
        None,
    ),
    "print_flush": ("a, b = map(int, input().split())\nprint(a + b, flush=True)\n", True, None),
    "input_is_stdin_readline": (
        "import sys\ninput = sys.stdin.readline\na, b = map(int, input().split())\nprint(a + b)\n",
        True,
        None,
    ),
    "input_is_stdin_buffer_readline": (
        "import sys\ninput = sys.stdin.buffer.readline\na, b = map(int, input().split())\nprint(a + b)\n",
        True,
        None,
    ),
    "input_read_twice_hits_eof": (
        "a, b = map(int, input().split())\ninput()\nprint(a + b)\n",
        False,
        "runtime_error",
    ),
    "stdin_readline_twice": (
        "import sys\nline = sys.stdin.readline()\nsys.stdin.readline()\na, b = map(int, line.split())\nprint(a + b)\n",
        True,
        None,
    ),
    # Exits at different points.
    "sys_exit_before_answer": (
        "import sys\nsys.exit(0)\na, b = map(int, input().split())\nprint(a + b)\n",
        False,
        "wrong_answer",
    ),
    "sys_exit_in_function_after_answer": (
        "import sys\ndef main():\n    a, b = map(int, input().split())\n    print(a + b)\n    sys.exit()\nmain()\n",
        True,
        None,
    ),
    "os_exit_1_after_answer": (
        "import os, sys\na, b = map(int, input().split())\nprint(a + b)\nsys.stdout.flush()\nos._exit(1)\n",
        False,
        "runtime_error",
    ),
    "exception_after_answer": (
        "a, b = map(int, input().split())\nprint(a + b)\nraise ValueError('late')\n",
        False,
        "runtime_error",
    ),
    "keyboard_interrupt_after_answer": (
        "a, b = map(int, input().split())\nprint(a + b)\nraise KeyboardInterrupt\n",
        False,
        "runtime_error",
    ),
    "exception_before_answer": (
        "raise ValueError('early')\na, b = map(int, input().split())\nprint(a + b)\n",
        False,
        "runtime_error",
    ),
    "atexit_prints_the_answer": (
        "import atexit\na, b = map(int, input().split())\natexit.register(print, a + b)\n",
        False,
        "wrong_answer",
    ),
    # Threads.
    "thread_stack_size_idiom": (
        "import sys, threading\nsys.setrecursionlimit(1 << 25)\nthreading.stack_size(1 << 27)\ndef main():\n    a, b = map(int, input().split())\n    print(a + b)\nt = threading.Thread(target=main)\nt.start()\nt.join()\n",
        True,
        None,
    ),
    "daemon_thread_prints_late": (
        "import threading, time\ndef late():\n    time.sleep(2)\n    print(-1)\nthreading.Thread(target=late, daemon=True).start()\na, b = map(int, input().split())\nprint(a + b)\n",
        True,
        None,
    ),
    "thread_raises_after_answer": (
        "import threading\ndef boom():\n    raise ValueError('in thread')\na, b = map(int, input().split())\nprint(a + b)\nt = threading.Thread(target=boom)\nt.start()\nt.join()\n",
        True,
        None,
    ),
}


# name: (raw answer, the code LiveCodeBench's extract_code takes from it; None: no code)
EXTRACTION_CASES = {
    "no_fence": ("print(1)\n", None),
    "prose_only": ("The answer is to add the numbers.", None),
    "empty": ("", None),
    "one_fence_unclosed": ("Here:\n```python\nprint(1)\n", None),
    "one_block": ("```python\nprint(1)\n```\n", "print(1)"),
    "untagged": ("```\nx = 1\nprint(x)\n```", "x = 1\nprint(x)"),
    "py_tag": ("```py\nprint(3)\n```", "print(3)"),
    "any_tag_counts": ("```python\nprint(3)\n```\n```text\nnot code\n```", "not code"),
    "tilde_is_not_a_fence": ("~~~python\nprint(1)\n~~~\n", None),
    "draft_then_corrected": ("```python\nprint(1)\n```\nBetter:\n```python\nprint(2)\n```\n", "print(2)"),
    "nested_fences": ("````markdown\n```python\nprint(1)\n```\n````\n", ""),
    "fence_inside_string": ("```python\nf = '```'\nprint(f)\n```\n", "print(f)"),
    "inline_fences_on_prose_line": ("Use ```x``` here.\n```python\nprint(1)\n```", "print(1)"),
    "think_before": ("<think>\n```python\nprint(0)\n```\n</think>\n```python\nprint(4)\n```", "print(4)"),
    "block_only_inside_think": ("<think>\n```python\nprint(0)\n```\n</think>\nDone.", "print(0)"),
    "think_after": ("```python\nprint(4)\n```\n<think>\nok\n</think>", "print(4)"),
    "think_same_line": ("<think>```python\nprint(0)\n```</think>\n```python\nprint(4)\n```", "print(4)"),
    "crlf": ("```python\r\nprint(1)\r\nprint(2)\r\n```\r\n", "print(1)\r\nprint(2)\r"),
    "indented_fences": ("  ```python\n  print(1)\n  ```", "  print(1)"),
    "indentation_kept": ("```python\nif x:\n    y()\n\n\n```", "if x:\n    y()\n\n"),
    "text_on_fence_lines": ("Code: ```python print(0)\nprint(1)\n``` done", "print(1)"),
    "empty_block": ("```python\n```", ""),
    "three_fence_lines": ("```python\nprint(1)\n```\n```\n", ""),
}

ADVERSARIAL_PROBLEM = "abc365_a"  # Leap Year: Y -> 365 or 366
_GOOD = "y = int(input())\nprint(366 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 365)"
_BAD = "print(365)"
ADVERSARIAL = {
    "no_fence": _GOOD + "\n",
    "one_fence_unclosed": "Here is the code:\n```python\n" + _GOOD + "\n",
    "one_block": "```python\n" + _GOOD + "\n```\n",
    "untagged_block": "```\n" + _GOOD + "\n```",
    "py_tag": "```py\n" + _GOOD + "\n```\n",
    "tilde_fence": "~~~python\n" + _GOOD + "\n~~~\n",
    "draft_then_corrected": "Draft:\n```python\n"
    + _BAD
    + "\n```\nOops, leap years:\n```python\n"
    + _GOOD
    + "\n```\n",
    "corrected_then_draft": "```python\n"
    + _GOOD
    + "\n```\nA shorter wrong one:\n```python\n"
    + _BAD
    + "\n```\n",
    "nested_fences": "````markdown\n```python\n" + _GOOD + "\n```\n````\n",
    "fence_inside_string": "```python\nfence = '```'\n" + _GOOD + "\n```\n",
    "fence_in_comment_after": "```python\n" + _GOOD + "\n# end of ``` block\n```\n",
    "inline_backticks_before": "Use ```input()``` to read.\n```python\n" + _GOOD + "\n```\n",
    "think_then_block": "<think>\nmaybe ```print(1)``` no\n</think>\n```python\n" + _GOOD + "\n```\n",
    "block_in_think_only": "<think>\n```python\n" + _GOOD + "\n```\n</think>\nThe answer is above.",
    "think_block_then_answer_block": "<think>\n```python\n"
    + _BAD
    + "\n```\n</think>\n```python\n"
    + _GOOD
    + "\n```",
    "crlf": ("```python\r\n" + _GOOD.replace("\n", "\r\n") + "\r\n```\r\n"),
    "indented_fences": "  ```python\n  " + _GOOD.replace("\n", "\n  ") + "\n  ```\n",
    "indented_code_in_block": "```python\nif True:\n    " + _GOOD.replace("\n", "\n    ") + "\n```\n",
    "text_on_fence_lines": "Code: ```python\n" + _GOOD + "\n``` done.\n",
    "empty_block": "```python\n```\n",
    "three_fences": "```python\n" + _GOOD + "\n```\n```\n",
    "main_guard_block": "```python\ndef main():\n    "
    + _GOOD.replace("\n", "\n    ")
    + "\nif __name__ == '__main__':\n    main()\n```\n",
    "empty_answer": "",
}


# Correct programs for some of the first eight problems of tests/data (release_v5, AtCoder easy, in file order).
SOLVED = {
    "abc365_a": "y = int(input())\nprint(366 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 365)",
    "abc365_b": "input()\na = list(map(int, input().split()))\nprint(a.index(sorted(a)[-2]) + 1)",
    "abc366_a": "n, t, a = map(int, input().split())\nprint('Yes' if max(t, a) > n // 2 else 'No')",
    "abc367_a": (
        "a, b, c = map(int, input().split())\n"
        "asleep = b <= a < c if b < c else (a >= b or a < c)\n"
        "print('No' if asleep else 'Yes')"
    ),
    "abc367_b": "x = input().strip()\nprint(x.rstrip('0').rstrip('.') if '.' in x else x)",
    "abc368_a": (
        "n, k = map(int, input().split())\na = input().split()\nprint(' '.join(a[n - k:] + a[:n - k]))"
    ),
}
# How each wrong answer fails, as codetune's verdicts name it.
WRONG = {
    "wrong_answer": "print(0)",
    "runtime_error": "n = len(input())\nprint(n // 0)",
    "timeout": "while True:\n    pass",
}


def known_answers() -> dict[str, dict[str, str]]:
    """question_id -> {what the answer is: program} on the first eight problems of tests/data: the correct
    program where SOLVED has one, each WRONG kind (the time limit on one problem only, it costs the limit),
    and the next problem's correct program, which must fail here."""
    ids = ["abc365_a", "abc365_b", "abc366_a", "abc366_b", "abc367_a", "abc367_b", "abc368_a", "abc368_b"]
    solved = list(SOLVED)
    out = {}
    for qid in ids:
        answers = {"correct": SOLVED[qid]} if qid in SOLVED else {}
        answers |= {k: v for k, v in WRONG.items() if k != "timeout" or qid == "abc366_b"}
        other = solved[(solved.index(qid) + 1) % len(solved)] if qid in SOLVED else solved[0]
        answers[f"program_of_{other}"] = SOLVED[other]
        out[qid] = answers
    return out


# Sample name (as benchmarks/lcb_parity.py names it: extraction and grader by case, known by
# "question_id:answer") -> why codetune decides otherwise than LiveCodeBench; each is a row of the table in
# bench/scoring.py's docstring. Every other sample must agree on the verdict, the failure kind and the code.
DIFFERENCES: dict[str, str] = {
    "buffer_of_1_3_gb": "memory cap: codetune bounds memory (benchmark.memory_mb, 1 GB), LiveCodeBench sets none",
    "time_limit_swallowed": "a time limit the program can catch is no limit: killed at the limit (timeout)",
    # LiveCodeBench runs every test of a sample in one process, codetune each test in a fresh one: what a
    # program changes in its process (module state, its own closed file descriptors) carries over there.
    "state_across_tests": "a fresh process per test: module state does not carry over to the next test",
    "fd_1_closed_before_answer": "a fresh process per test: fd 1 closed by test 1 is open again for test 2",
    "fd_0_closed_before_input": "a fresh process per test: fd 0 closed by test 1 is open again for test 2",
}
