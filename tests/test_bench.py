"""Benchmark path without execution: loading, private-test decoding, filters, prompts, extraction, pass@k."""

from __future__ import annotations

import base64
import json
import pickle
import zlib
from math import comb

import pytest

from codetune.bench.extract import extract_code
from codetune.bench.lcb import (
    decode_private_tests,
    encode_private_tests,
    filter_problems,
    load_benchmark,
    load_benchmark_file,
    parse_row,
)
from codetune.bench.passk import mean_pass_at_k, pass_at_k
from codetune.bench.prompts import FORMAT_WITH_STARTER_CODE, FORMAT_WITHOUT_STARTER_CODE, build_messages
from codetune.config import BenchmarkConfig
from codetune.errors import CodetuneError


def _row(qid: str = "q1", **over) -> dict:
    row = {
        "question_title": "T",
        "question_content": "Print the sum of A and B.",
        "platform": "atcoder",
        "question_id": qid,
        "contest_id": "abc001",
        "contest_date": "2024-09-07T00:00:00",
        "starter_code": "",
        "difficulty": "easy",
        "public_test_cases": json.dumps([{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]),
        "private_test_cases": "",
        "metadata": "{}",
    }
    row.update(over)
    return row


def test_shared_file_loads_41_problems_118_public_tests(shared_benchmark):
    problems = load_benchmark_file(shared_benchmark)
    assert len(problems) == 41
    assert sum(len(p.public_tests) for p in problems) == 118
    assert all(p.private_tests == [] and p.contest_date is None for p in problems)
    assert {p.platform for p in problems} == {"atcoder"} and {p.difficulty for p in problems} == {"easy"}
    assert problems[0].question_id == "abc365_a" and problems[0].fn_name is None


def test_load_benchmark_prints_counts_and_says_no_release_filter(shared_benchmark):
    lines: list[str] = []
    cfg = BenchmarkConfig(
        source=str(shared_benchmark),
        release="release_v5",
        platform="AtCoder",
        difficulty="easy",
        contest_start="2408",
        contest_end="2502",
    )
    problems = load_benchmark(cfg, report=lines.append)
    assert len(problems) == 41
    text = "\n".join(lines)
    assert "41 problems" in text and "no release filter applies to a local file" in text
    assert "platform AtCoder: 41" in text and "difficulty easy: 41" in text
    # The shared file has no contest dates: the date filter says what it did with them.
    assert "41 undated row(s) kept" in text


def test_date_filter_undated_rows_keep_or_drop():
    problems = [
        parse_row(_row("in", contest_date="2024-08-03T00:00:00")),
        parse_row(_row("edge", contest_date="2025-02-28T12:00:00")),
        parse_row(_row("late", contest_date="2025-03-01T00:00:00")),
        parse_row(_row("early", contest_date="2024-07-31T00:00:00")),
        parse_row(_row("undated", contest_date=None)),
    ]
    lines: list[str] = []
    keep = filter_problems(problems, BenchmarkConfig(contest_start="2408", contest_end="2502"), lines.append)
    assert [p.question_id for p in keep] == ["in", "edge", "undated"]
    assert "1 undated row(s) kept" in lines[-1]
    drop = filter_problems(
        problems, BenchmarkConfig(contest_start="2408", contest_end="2502", undated="drop"), lines.append
    )
    assert [p.question_id for p in drop] == ["in", "edge"]
    assert "1 undated row(s) dropped" in lines[-1]


def test_empty_selection_lists_counts_per_filter(shared_benchmark):
    cfg = BenchmarkConfig(source=str(shared_benchmark), platform="atcoder", difficulty="hard")
    with pytest.raises(
        CodetuneError, match=r"empty after filtering \(loaded: 41, platform=atcoder: 41, difficulty=hard: 0\)"
    ):
        load_benchmark(cfg, report=lambda _: None)


def test_private_tests_round_trip_and_hub_row():
    tests = [{"input": "5\n", "output": "10\n", "testtype": "stdin"}]
    blob = encode_private_tests(json.dumps(tests))
    assert json.loads(decode_private_tests(blob)) == tests
    p = parse_row(_row(private_test_cases=blob))
    assert len(p.private_tests) == 1 and p.private_tests[0].output == "10\n"
    assert [t.input for t in p.tests] == ["1 2\n", "5\n"]


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /tmp/codetune-pwned",))


def test_malicious_pickle_is_rejected(tmp_path):
    blob = base64.b64encode(zlib.compress(pickle.dumps(_Evil()))).decode()
    with pytest.raises(ValueError, match="refused to load"):
        decode_private_tests(blob)
    # A pickle of something other than a str (no class needed) is refused too.
    not_str = base64.b64encode(zlib.compress(pickle.dumps([1, 2]))).decode()
    with pytest.raises(ValueError, match="holds a list"):
        decode_private_tests(not_str)
    # Through the loader: an error naming the question_id, or skipped and reported when asked.
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps(_row("good")) + "\n" + json.dumps(_row("evil1", private_test_cases=blob)) + "\n"
    )
    with pytest.raises(CodetuneError, match="question_id evil1: unsafe or broken pickle"):
        load_benchmark_file(bad)
    lines: list[str] = []
    cfg = BenchmarkConfig(source=str(bad), skip_bad_rows=True)
    assert [p.question_id for p in load_benchmark(cfg, report=lines.append)] == ["good"]
    assert "skipped 1 broken row(s): evil1" in lines[0]


def test_broken_public_tests_names_question_id(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(_row("abc999_z", public_test_cases="[{oops")) + "\n")
    with pytest.raises(
        CodetuneError, match=r"bad.jsonl:1: question_id abc999_z: public_test_cases: invalid JSON"
    ):
        load_benchmark_file(bad)


def test_builtin_benchmark_loads_through_same_loader():
    lines: list[str] = []
    problems = load_benchmark(BenchmarkConfig(source="builtin", release=None), report=lines.append)
    assert problems and all(p.tests for p in problems)
    assert "no release filter applies to the built-in benchmark" in "\n".join(lines)


def test_prompt_is_livecodebench_format_with_run_system_prompt(shared_benchmark):
    p = load_benchmark_file(shared_benchmark)[0]
    msgs = build_messages(p, "You are an expert Python programmer. Read carefully.")
    assert msgs[0]["role"] == "system" and msgs[0]["content"].startswith(
        "You are an expert Python programmer. Read"
    )
    assert "You will NOT return anything except for the program." in msgs[0]["content"]
    user = msgs[1]["content"]
    assert user.startswith("### Question:\nYou are given an integer Y")
    assert FORMAT_WITHOUT_STARTER_CODE in user and "```python\n# YOUR CODE HERE\n```" in user
    assert user.endswith("### Answer: (use the provided format with backticks)\n\n")
    call = parse_row(_row(starter_code="class Solution:\n    def f(self, x: int) -> int:\n        "))
    user2 = build_messages(call)[1]["content"]
    assert FORMAT_WITH_STARTER_CODE in user2 and "class Solution:" in user2
    assert build_messages(call)[0]["content"].startswith(
        "You are an expert Python programmer. You will be given"
    )


@pytest.mark.parametrize(
    "answer, code",
    [
        ("Here:\n```python\nprint(1)\n```\nand better:\n```python\nprint(2)\n```\n", "print(2)\n"),
        ("```\nx = 1\nprint(x)\n```", "x = 1\nprint(x)\n"),
        ("```py\nprint(3)\n```\n```text\nnot code\n```", "print(3)\n"),
        ("<think>```python\nprint(0)\n```</think>\n```python\nprint(4)\n```", "print(4)\n"),
        (
            "```python\nprint(5)\nfor i in range(3):\n    print(i)\n",
            "print(5)\nfor i in range(3):\n    print(i)\n",
        ),
        ("print(6)", "print(6)\n"),
        ("The answer is to add the numbers.", None),
        ("```python\ndef f(:\n", None),
        ("", None),
    ],
)
def test_extract_code(answer, code):
    assert extract_code(answer) == code


def test_pass_at_k_known_values():
    assert pass_at_k(1, 1, 1) == 1.0 and pass_at_k(1, 0, 1) == 0.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)  # 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 6, 5) == 1.0  # n - c < k: every draw of 5 holds a correct one
    assert pass_at_k(100, 13, 10) == pytest.approx(1 - comb(87, 10) / comb(100, 10))
    assert mean_pass_at_k([5, 5], [2, 0], 2) == pytest.approx(0.35)
    assert mean_pass_at_k([1, 5], [1, 0], 2) is None
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
