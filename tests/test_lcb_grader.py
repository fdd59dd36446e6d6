"""codetune's grader against LiveCodeBench's, case by case (the table in bench/scoring.py's docstring).

Each case (tests/parity_cases.py) is a small program on an A+B problem with what codetune must decide;
tests/test_lcb_parity.py holds the same programs to what LiveCodeBench's codegen_metrics (commit 28fef95)
decided on them.
"""

from __future__ import annotations

import json

import pytest

from codetune.bench.lcb import parse_row
from codetune.bench.scoring import grading_limits, score_generations
from parity_cases import APB_ROW as ROW
from parity_cases import GRADER_CASES as CASES
from parity_cases import TIMEOUT_S as TIMEOUT


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
    _, ours, verdict = CASES[case]
    passed, verdicts, meta = scored[case]
    assert passed == ours, (verdicts, meta)
    if verdict is not None:
        assert verdicts[-1] == verdict, meta


def test_grading_limits_are_wall_clock_seconds():
    limits = grading_limits(6.0, 1024)
    assert limits.wall_ceiling_s == 6.0 and limits.cpu_time_s == 6.0 and limits.memory_mb == 1024


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
