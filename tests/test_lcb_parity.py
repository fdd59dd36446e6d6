"""codetune's grader held to LiveCodeBench's own decisions in CI, without LiveCodeBench.

tests/data/livecodebench_verdicts.json holds what LiveCodeBench (at the commit codetune follows) decided on
every answer of tests/parity_cases.py: the code its extract_code took, pass or fail, and its error code.
Regenerate it with `python benchmarks/lcb_parity.py --lcb CHECKOUT --cases --write-fixture`. Here codetune
scores the same answers through `codetune score`, exactly as that script does, and must agree on the
extraction, the verdict and the failure kind of every answer, except the differences parity_cases.DIFFERENCES
lists (each a decision in bench/scoring.py's table)."""

from __future__ import annotations

import importlib.util
import json
import tempfile
from pathlib import Path

import pytest

from codetune.bench.prompts import LCB_COMMIT

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("lcb_parity", REPO / "benchmarks" / "lcb_parity.py")
lcb_parity = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lcb_parity)
FIXTURE = json.loads(lcb_parity.FIXTURE.read_text(encoding="utf-8"))
CASES = lcb_parity.load_cases()


@pytest.fixture(scope="module")
def sets(shared_benchmark) -> list[dict]:
    rows = [json.loads(line) for line in shared_benchmark.read_text(encoding="utf-8").splitlines()]
    return lcb_parity.case_sets(CASES, rows)


def test_the_fixture_records_the_pinned_commit_and_the_current_answers(sets):
    assert FIXTURE["livecodebench_commit"] == LCB_COMMIT
    assert FIXTURE["timeout_s"] == CASES.TIMEOUT_S
    assert list(FIXTURE["sets"]) == [s["name"] for s in sets]
    for st in sets:
        recorded = FIXTURE["sets"][st["name"]]
        assert [r["name"] for r in recorded] == st["names"], "parity_cases changed: regenerate the fixture"
        for g in st["generations"]:  # programs given as code: the fixture ran these very programs
            mine = [r for r in recorded if r["question_id"] == g["question_id"]]
            if "code_list" in g:
                assert [r["code"] for r in mine] == g["code_list"], "regenerate the fixture"


@pytest.fixture(scope="module")
def compared(sets, shared_benchmark) -> dict[str, dict]:
    rows = [json.loads(line) for line in shared_benchmark.read_text(encoding="utf-8").splitlines()]
    ids = {r["question_id"] for r in rows}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for st in sets:
            bench = lcb_parity._benchmark_file(st["rows"], Path(tmp), shared_benchmark, ids)
            codes, gens = lcb_parity.codetune_generations(st["generations"])
            scores, _ = lcb_parity.codetune_score(bench, gens, FIXTURE["timeout_s"], workers=2)
            out[st["name"]] = lcb_parity.compare(
                st["name"], FIXTURE["sets"][st["name"]], scores, codes, CASES.DIFFERENCES
            )
    return out


@pytest.mark.parametrize("name", ["extraction", "grader", "known"])
def test_verdicts_kinds_and_code_agree_with_livecodebench_except_the_decided_differences(compared, name):
    report = compared[name]
    assert report["extraction_agree"] == report["samples"]
    differing = {d["name"]: d for d in report["disagreements"]}
    expected = {k for k in CASES.DIFFERENCES if k in {s["name"] for s in report["per_sample"]}}
    assert set(differing) == expected, {k: d["reason"] for k, d in differing.items()}
    assert report["agree"] + sum(
        d["livecodebench_passed"] != d["codetune_passed"] for d in differing.values()
    ) == report["samples"]


def test_the_held_back_class_fails_in_livecodebench_on_its_second_test():
    """Programs that close their own standard file descriptors pass test 1 there and fail test 2 with a
    runtime error: all tests of a sample share one process. codetune's fresh process per test passes them
    (a decision: bench/scoring.py's table)."""
    recorded = {r["name"]: r for r in FIXTURE["sets"]["grader"]}
    for name in ("fd_1_closed_before_answer", "fd_0_closed_before_input", "state_across_tests"):
        assert recorded[name]["results"][0] is True and recorded[name]["results"][1] in (-2, -4), name
        assert CASES.GRADER_CASES[name][1] is True


def test_failure_kinds_map_every_livecodebench_error_code():
    assert lcb_parity.lcb_kind(-5, False) == "runtime_error"  # TestRunnerError: the solution ended its process
    assert lcb_parity.lcb_kind(-3, False) == "timeout" and lcb_parity.lcb_kind(-2, False) == "wrong_answer"
    assert lcb_parity.lcb_kind(None, True) == "passed"
    kinds = {s["error_code"] for v in FIXTURE["sets"].values() for s in v if not s["passed"]}
    assert kinds <= set(lcb_parity.LCB_KINDS)
