"""Benchmark path without execution: loading, private-test decoding, filters, pass@k (prompts and extraction:
test_lcb_prompts.py)."""

from __future__ import annotations

import base64
import json
import pickle
import zlib
from math import comb

import pytest

from codetune.bench.lcb import (
    decode_private_tests,
    encode_private_tests,
    filter_problems,
    load_benchmark,
    load_benchmark_file,
    parse_row,
)
from codetune.bench.passk import mean_pass_at_k, pass_at_k
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
    sel = load_benchmark(cfg, report=lines.append)
    assert len(sel.problems) == 41 and sel.release is None and sel.provenance() is None
    assert sel.counts == [
        {"step": "loaded", "count": 41},
        {"step": "platform=AtCoder", "count": 41},
        {"step": "difficulty=easy", "count": 41},
        {"step": "contest 2408-2502", "count": 41},
    ]
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
    # The loader decodes private tests after filtering: the error still names the row's line.
    with pytest.raises(CodetuneError, match=r"bad.jsonl:2: question_id evil1: unsafe or broken pickle"):
        load_benchmark(BenchmarkConfig(source=str(bad)), report=lambda _: None)
    lines: list[str] = []
    cfg = BenchmarkConfig(source=str(bad), skip_bad_rows=True)
    assert load_benchmark(cfg, report=lines.append).question_ids == ["good"]
    assert any(line.startswith("skipped 1 broken row(s): evil1") for line in lines)


def test_broken_public_tests_names_question_id(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(_row("abc999_z", public_test_cases="[{oops")) + "\n")
    with pytest.raises(
        CodetuneError, match=r"bad.jsonl:1: question_id abc999_z: public_test_cases: invalid JSON"
    ):
        load_benchmark_file(bad)


def test_builtin_benchmark_loads_through_same_loader():
    lines: list[str] = []
    problems = load_benchmark(BenchmarkConfig(source="builtin", release=None), report=lines.append).problems
    assert problems and all(p.tests for p in problems)
    assert "no release filter applies to the built-in benchmark" in "\n".join(lines)


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


def test_private_tests_are_decoded_only_for_the_selected_rows(tmp_path):
    """Hub rows carry megabytes of encoded private tests each: rows the filters drop are never decoded."""
    tests = [{"input": "5\n", "output": "10\n", "testtype": "stdin"}]
    path = tmp_path / "rows.jsonl"
    rows = [
        _row("kept", private_test_cases=encode_private_tests(json.dumps(tests))),
        _row("dropped", platform="leetcode", private_test_cases="bm90IHpsaWIgZGF0YQ=="),  # broken
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sel = load_benchmark(BenchmarkConfig(source=str(path), platform="atcoder"), report=lambda _: None)
    assert sel.question_ids == ["kept"] and len(sel.problems[0].private_tests) == 1
    assert sel.to_dict()["tests"] == 2 and sel.to_dict()["private_tests"] == 1
    with pytest.raises(
        CodetuneError, match=r"rows.jsonl:2: question_id dropped: not base64\(zlib\(pickle\)\)"
    ):
        load_benchmark(BenchmarkConfig(source=str(path)), report=lambda _: None)
