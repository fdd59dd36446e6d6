"""Scoring with LiveCodeBench semantics, programs executed through codetune.sandbox."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from codetune.bench.lcb import load_benchmark_file, parse_row
from codetune.bench.scoring import (
    call_output_matches,
    score_generations,
    stdio_output_matches,
    summarize_scores,
)
from codetune.sandbox import Limits, get_runner

LIMITS = Limits(cpu_time_s=1.0, memory_mb=512)

LEAP_OK = "y = int(input())\nprint(366 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 365)\n"
SECOND_OK = "n = int(input())\na = list(map(int, input().split()))\nprint(a.index(sorted(a)[-2]) + 1)\n"
# A main() behind a __name__ guard must still run: programs run as scripts, as AtCoder runs them.
ELECTION_OK = (
    "def main():\n    n, t, a = map(int, input().split())\n    print('Yes' if max(t, a) > n // 2 else 'No')\n"
    "if __name__ == '__main__':\n    main()\n"
)


@pytest.fixture(scope="module")
def runner():
    with get_runner(workers=2) as r:
        yield r


@pytest.fixture(scope="module")
def problems(shared_benchmark):
    return {p.question_id: p for p in load_benchmark_file(shared_benchmark)}


def test_correct_solutions_pass_wrong_ones_fail(problems, runner):
    gens = [
        {"question_id": "abc365_a", "code_list": [LEAP_OK, "print(365)\n"]},  # wrong answer on the 2nd test
        {"question_id": "abc365_b", "code_list": [SECOND_OK, "a = []\nprint(a[3])\n"]},  # crash
        {"question_id": "abc366_a", "code_list": [ELECTION_OK, "while True:\n    pass\n"]},  # timeout
    ]
    scores = score_generations([problems[g["question_id"]] for g in gens], gens, limits=LIMITS, runner=runner)
    by = {s.question_id: s for s in scores}
    assert [s.graded_list for s in scores] == [[True, False]] * 3
    assert by["abc365_a"].verdicts == [["passed"] * 4, ["passed", "wrong_answer"]]
    assert by["abc365_a"].metadata[1]["error_code"] == -2 and by["abc365_a"].metadata[1]["test_index"] == 1
    assert by["abc365_b"].verdicts[1] == ["runtime_error"]
    assert "IndexError" in by["abc365_b"].metadata[1]["error_message"]
    assert by["abc366_a"].verdicts == [["passed"] * 3, ["timeout"]]
    assert all(s.pass_at_1 == 0.5 for s in scores)
    summary = summarize_scores(scores, [1, 2])
    assert summary.pass_at_1 == 0.5 and summary.pass_at_k["pass@2"] == 1.0
    assert summary.solved == 3 and summary.total == 3 and summary.n_samples == 2
    assert summary.sample_verdicts == {"passed": 3, "wrong_answer": 1, "runtime_error": 1, "timeout": 1}


def test_extraction_failure_is_recorded_and_never_run(problems, runner):
    gens = [{"question_id": "abc365_a", "code_list": [""], "extraction_failed": [True]}]
    (s,) = score_generations([problems["abc365_a"]], gens, limits=LIMITS, runner=runner)
    assert s.graded_list == [False] and s.verdicts == [[]] and s.extraction_failed == [True]
    assert summarize_scores([s]).extraction_failures == 1


def test_unknown_question_id_is_an_error(problems, runner):
    from codetune.errors import CodetuneError

    with pytest.raises(CodetuneError, match="not in the benchmark: abc999_x"):
        score_generations(
            [problems["abc365_a"]],
            [{"question_id": "abc999_x", "code_list": ["print(1)"]}],
            limits=LIMITS,
            runner=runner,
        )


def test_output_comparison_follows_livecodebench():
    assert stdio_output_matches("3 \r\n4\n\n", "3\n4\n")
    assert stdio_output_matches("1.0 2.50\n", "1 2.5\n")  # element-wise Decimal equality
    assert not stdio_output_matches("1.0000001\n", "1\n")  # no tolerance beyond exact decimals
    assert not stdio_output_matches("3\n4\n", "3 4\n")  # line structure matters
    assert not stdio_output_matches("Yes\n", "yes\n")
    marker = "\x1e codetune-result "  # the call driver prints its result; codetune compares it
    assert call_output_matches(f"noise\n{marker}= [1, 2]\n", "[1, 2]")
    assert call_output_matches(f"{marker}= [1, 2.0, true]\n", "[1.0, 2, 1]")  # Python ==, as LiveCodeBench
    assert not call_output_matches(f"{marker}= [2, 1]\n", "[1, 2]")
    assert not call_output_matches(f"{marker}= NaN\n", "NaN")  # nan == nan is False there too
    assert not call_output_matches(f"{marker}x {{1, 2}}\n", "[1, 2]")  # a set equals no JSON value
    assert not call_output_matches("= [1, 2]\n", "[1, 2]")  # only the driver's result line counts
    big = "7" * 5000  # over this process's 4300 digits, within LiveCodeBench's 50000
    assert call_output_matches(f"{marker}= {big}\n", big)


def test_call_based_problem_calls_the_starter_function(runner):
    tests = [
        {"input": "[2, 7, 11, 15]\n9", "output": "[0, 1]", "testtype": "functional"},
        {"input": "[3, 2, 4]\n6", "output": "[1, 2]", "testtype": "functional"},
    ]
    row = {
        "question_id": "lc_two_sum",
        "question_content": "Return indices of two numbers adding to target.",
        "platform": "leetcode",
        "starter_code": "class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n        ",
        "public_test_cases": json.dumps(tests),
        "metadata": json.dumps({"func_name": "twoSum"}),
    }
    problem = parse_row(row)
    good = (
        "class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
        "        print('debug output must not matter')\n"
        "        seen = {}\n        for i, x in enumerate(nums):\n"
        "            if target - x in seen:\n                return (seen[target - x], i)\n"
        "            seen[x] = i\n"
    )
    wrong = "class Solution:\n    def twoSum(self, nums, target):\n        return [0, 1]\n"
    no_fn = "def other():\n    return 1\n"
    gens = [{"question_id": "lc_two_sum", "code_list": [good, wrong, no_fn]}]
    (s,) = score_generations([problem], gens, limits=LIMITS, runner=runner)
    assert s.graded_list == [True, False, False]
    assert s.verdicts == [["passed", "passed"], ["passed", "wrong_answer"], ["runtime_error"]]
    # Solved means pass@1 >= 0.5 (records.is_solved), everywhere: one sample of three is not enough.
    assert not s.solved and summarize_scores([s]).solved == 0


def test_call_based_answer_cannot_read_the_expected_value(runner):
    """The expected value never enters the graded program's process: a solution that returns whatever the
    driver's module (or any string in its memory) holds fails, and the one right answer passes."""
    tests = [{"input": "[5, 8]", "output": "[13, 7727]", "testtype": "functional"}]
    row = {
        "question_id": "lc_leak",
        "question_content": "Return the sum and 7727.",
        "platform": "leetcode",
        "starter_code": "class Solution:\n    def f(self, nums: List[int]) -> List[int]:\n        ",
        "public_test_cases": json.dumps(tests),
        "metadata": json.dumps({"func_name": "f"}),
    }
    cheat = (
        "import sys, json\n"
        "class Solution:\n    def f(self, nums):\n"
        "        g = vars(sys.modules['__main__'])\n"
        "        for v in list(g.values()):\n"
        "            if isinstance(v, list) and v != nums and v != [nums]:\n                return v\n"
        "        for k in ('_expected', 'expected'):\n"
        "            if k in g:\n                return g[k]\n"
        "        return [sum(nums), 0]\n"
    )
    scan = (  # the expected text anywhere in the driver's source
        "import sys, re\n"
        "class Solution:\n    def f(self, nums):\n"
        "        src = open(sys.modules['__main__'].__file__).read()\n"
        "        return [sum(nums), max(int(x) for x in re.findall(r'\\d{4}', src) or ['0'])]\n"
    )
    honest = "class Solution:\n    def f(self, nums):\n        return [sum(nums), 7727]\n"
    gens = [{"question_id": "lc_leak", "code_list": [cheat, scan, honest]}]
    (s,) = score_generations([parse_row(row)], gens, limits=LIMITS, runner=runner)
    assert s.graded_list == [False, False, True], s.metadata


def test_score_cli_on_tiny_generations_file(shared_benchmark, tmp_path):
    gen = tmp_path / "gen.json"
    gen.write_text(
        json.dumps(
            [
                {"question_id": "abc365_a", "code_list": [LEAP_OK]},
                {"question_id": "abc365_b", "code_list": ["print(1)\n"]},
            ]
        )
    )
    out = tmp_path / "out" / "scores.json"
    cmd = [sys.executable, "-m", "codetune", "score", "--benchmark", str(shared_benchmark)]
    res = subprocess.run(
        [*cmd, "--generations", str(gen), "--out", str(out), "--timeout", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "pass@1 50.0%" in res.stdout and "solved 1/2" in res.stdout
    scores = json.loads(out.read_text())
    assert [s["question_id"] for s in scores] == ["abc365_a", "abc365_b"]
    assert [s["graded_list"] for s in scores] == [[True], [False]]
    assert scores[0]["pass@1"] == 1.0 and scores[0]["code_list"] == [LEAP_OK]
    # A question_id the benchmark lacks: exit 2 with one line naming it.
    gen.write_text(json.dumps([{"question_id": "nope_1", "code_list": ["print(1)"]}]))
    res = subprocess.run(
        [*cmd, "--generations", str(gen), "--out", str(out)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 2 and "nope_1" in res.stderr and "Traceback" not in res.stderr


def test_private_tests_run_after_public_ones(runner):
    from codetune.bench.lcb import encode_private_tests

    public = [{"input": "2\n", "output": "4\n", "testtype": "stdin"}]
    private = [{"input": "3\n", "output": "9\n", "testtype": "stdin"}]
    row = {
        "question_id": "sq",
        "question_content": "Print N squared.",
        "public_test_cases": json.dumps(public),
        "private_test_cases": encode_private_tests(json.dumps(private)),
    }
    gens = [{"question_id": "sq", "code_list": ["n = int(input())\nprint(n * n)\n", "print(4)\n"]}]
    (s,) = score_generations([parse_row(row)], gens, limits=LIMITS, runner=runner)
    assert s.graded_list == [True, False] and s.public_passed == [True, True]
    assert s.verdicts == [["passed", "passed"], ["passed", "wrong_answer"]]
    assert s.n_public_tests == 1 and s.n_private_tests == 1
    assert summarize_scores([s]).solved_public == 1
