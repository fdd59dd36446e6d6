"""Intervals, McNemar, paired comparison, selection split, and the compare-scores command."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codetune.cli import app
from codetune.errors import CodetuneError
from codetune.records import ScoreEntry, write_list
from codetune.study.stats import (
    bootstrap_interval,
    load_scores,
    mcnemar_exact,
    mean_pass,
    paired_comparison,
    paired_difference_interval,
    selection_note,
    split_problems,
    wilson_interval,
)

REPO = Path(__file__).resolve().parents[1]
IDS = [f"abc{365 + i // 2}_{'ab'[i % 2]}" for i in range(41)]


def write_scores(path: Path, solved: set[str], ids=IDS, samples: dict[str, list[bool]] | None = None) -> Path:
    """A scores file in LiveCodeBench's eval-all layout (its core fields: what LiveCodeBench itself writes)."""
    rows = []
    for q in ids:
        graded = (samples or {}).get(q, [q in solved])
        rows.append(
            ScoreEntry(
                question_id=q,
                code_list=["print(1)"] * len(graded),
                graded_list=graded,
                pass_at_1=sum(graded) / len(graded),
                metadata=[{}] * len(graded),
            )
        )
    return write_list(path, rows)


# ------------------------------------------------------------------------------------------- intervals


def test_wilson_matches_hand_computation():
    # 14/41, z = 1.95996: centre (p + z²/2n)/(1 + z²/n) = 0.355044, half-width 0.139456.
    lo, hi = wilson_interval(14, 41)
    assert lo == pytest.approx(0.21559, abs=1e-5)
    assert hi == pytest.approx(0.49450, abs=1e-5)
    # 1/2 at 95%: centre 0.5, half-width z*sqrt(0.125 + z²/16)/(1 + z²/2) = 0.405469.
    lo, hi = wilson_interval(1, 2)
    assert (lo, hi) == pytest.approx((0.5 - 0.405469, 0.5 + 0.405469), abs=1e-5)


def test_wilson_ends_and_confidence():
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    # Upper bound of 0/10 at 95%: z²/(n + z²) = 3.8415/13.8415.
    assert wilson_interval(0, 10)[1] == pytest.approx(3.841459 / 13.841459, abs=1e-6)
    w90, w99 = wilson_interval(14, 41, 0.90), wilson_interval(14, 41, 0.99)
    assert w99[0] < w90[0] and w99[1] > w90[1]
    with pytest.raises(CodetuneError, match="n > 0"):
        wilson_interval(0, 0)
    with pytest.raises(CodetuneError, match="successes"):
        wilson_interval(5, 4)


def test_mcnemar_exact_hand_values():
    # 2 * sum_{i<=1} C(6, i) / 2^6 = 2 * 7 / 64
    assert mcnemar_exact(5, 1) == pytest.approx(0.21875)
    assert mcnemar_exact(1, 5) == mcnemar_exact(5, 1)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(2, 0) == pytest.approx(0.5)
    assert mcnemar_exact(8, 1) == pytest.approx(2 * (1 + 9) / 2**9)  # = 0.0390625
    assert mcnemar_exact(3, 3) == 1.0  # capped
    assert mcnemar_exact(4, 2) == pytest.approx(2 * (1 + 6 + 15) / 64)
    # Large tables stay exact and finite.
    assert 0 < mcnemar_exact(600, 400) < 1e-9
    with pytest.raises(CodetuneError):
        mcnemar_exact(-1, 2)


def test_bootstrap_is_seeded_and_contains_the_mean():
    values = [1.0] * 14 + [0.0] * 27
    a = bootstrap_interval(values, seed=3)
    assert a == bootstrap_interval(values, seed=3)
    # Resampled means of 0/1 values sit on a k/41 lattice, so use graded values to see the seed matter.
    graded = [(i * 7 % 11) / 10 for i in range(41)]
    assert bootstrap_interval(graded, seed=3, n_boot=500) != bootstrap_interval(graded, seed=4, n_boot=500)
    lo, hi = a
    assert lo < 14 / 41 < hi
    # The bootstrap of a 0/1 mean is close to the Wilson interval at n = 41.
    w = wilson_interval(14, 41)
    assert abs(lo - w[0]) < 0.05 and abs(hi - w[1]) < 0.05
    # Every resample of a constant sample has the same mean.
    assert bootstrap_interval([0.25] * 7) == (0.25, 0.25)
    with pytest.raises(CodetuneError, match="at least one"):
        bootstrap_interval([])


# ------------------------------------------------------------------------------------------ load_scores


def test_load_scores_file_folder_and_checkpoint(tmp_path):
    f = write_scores(tmp_path / "s.json", {"abc365_a"}, samples={"abc365_b": [True, False, False, True]})
    scores = load_scores(f)
    assert len(scores) == 41 and scores["abc365_a"] == 1.0 and scores["abc365_b"] == 0.5
    assert scores["abc366_a"] == 0.0
    # An eval folder holding scores.json, and a study checkpoint folder whose eval folder holds it.
    run = tmp_path / "study" / "runs" / "deep"
    write_scores(run / "eval" / "checkpoint-step-20-epoch-0" / "scores.json", {"abc366_a"})
    (run / "checkpoints" / "checkpoint-step-20-epoch-0").mkdir(parents=True)
    assert load_scores(run / "eval" / "checkpoint-step-20-epoch-0")["abc366_a"] == 1.0
    assert load_scores(run / "checkpoints" / "checkpoint-step-20-epoch-0")["abc366_a"] == 1.0


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"pass@1": 0.3}', "expected a JSON list"),
        ("[]", "holds no problems"),
        ("[1, 2", "not valid JSON"),
        ('[{"graded_list": [true]}]', r"item \[0\]: not a ScoreEntry record: question_id: Field required"),
        ('[{"question_id": "x", "pass@1": 0.3}]', r"item \[0\]: not a ScoreEntry record: graded_list"),
        (
            '[{"question_id": "x", "graded_list": []}]',
            r"item \[0\]: .*graded_list: List should have at least 1",
        ),
        (
            '[{"question_id": "x", "graded_list": [true, false], "pass@1": 1.0}]',
            r"pass@1 1.0 disagrees with graded_list \(1 of 2 samples passed\)",
        ),
        (
            '[{"question_id": "x", "graded_list": [true]}, {"question_id": "x", "graded_list": [true]}]',
            "twice",
        ),
    ],
)
def test_load_scores_bad_files(tmp_path, content, message):
    f = tmp_path / "scores.json"
    f.write_text(content)
    with pytest.raises(CodetuneError, match=message):
        load_scores(f)


def test_load_scores_missing(tmp_path):
    with pytest.raises(CodetuneError, match="does not exist"):
        load_scores(tmp_path / "nope.json")
    with pytest.raises(CodetuneError, match="without scores.json"):
        load_scores(tmp_path)


# ------------------------------------------------------------------------------------ paired comparison


def test_paired_comparison_of_two_score_files(tmp_path):
    # A solves the first 14 problems, B problems 4..15: both 10, only A 4, only B 2, neither 25.
    a = load_scores(write_scores(tmp_path / "a.json", set(IDS[:14])))
    b = load_scores(write_scores(tmp_path / "b.json", set(IDS[4:16])))
    r = paired_comparison(a, b, name_a="deep", name_b="diverse")
    assert (r.n, r.both, r.only_a, r.only_b, r.neither) == (41, 10, 4, 2, 25)
    assert (r.solved_a, r.solved_b) == (14, 12)
    assert r.pass_a == pytest.approx(14 / 41) and r.pass_b == pytest.approx(12 / 41)
    assert r.diff == pytest.approx(2 / 41)
    assert r.p_value == pytest.approx(44 / 64)
    assert r.verdict == "not distinguishable at 41 problems (p=0.69)"
    assert r.diff_ci[0] < r.diff < r.diff_ci[1] and r.diff_ci[0] < 0
    assert r.wilson_a == pytest.approx(wilson_interval(14, 41))
    assert r.bootstrap_a[0] < r.pass_a < r.bootstrap_a[1]
    d = r.to_dict()
    assert d["diff_ci"] == list(r.diff_ci) and json.loads(json.dumps(d))["only_a"] == 4
    assert d["diff_ci_method"].startswith("exact conditional (Clopper-Pearson")
    # The seed's 14/41 vs 12/41 (4 vs 2 discordant): the exact interval holds 0, as p = 0.69 says.
    assert r.diff_ci[0] < 0 < r.diff_ci[1]


def test_demo_case_interval_agrees_with_mcnemar():
    # The demo report's case: 12 problems, 4 solved only by A, none only by B. The percentile bootstrap
    # said +8.3 to +58.3 beside p = 0.125; the exact interval must hold 0.
    ids = [f"q{i}" for i in range(12)]
    a = {q: 1.0 if i < 4 else 0.0 for i, q in enumerate(ids)}
    b = dict.fromkeys(ids, 0.0)
    r = paired_comparison(a, b)
    assert (r.only_a, r.only_b) == (4, 0) and r.p_value == pytest.approx(0.125)
    assert r.diff == pytest.approx(4 / 12) and r.solved_diff == pytest.approx(4 / 12)
    # Clopper-Pearson for 4/4: lower bound 0.025 ** (1/4); upper 1. Difference = (2 pi - 1) * 4 / 12.
    assert r.diff_ci == pytest.approx(((2 * 0.025**0.25 - 1) * 4 / 12, 4 / 12), abs=1e-9)
    assert r.diff_ci[0] < 0 < r.diff_ci[1] and r.verdict.startswith("not distinguishable")


def test_exact_interval_excludes_0_exactly_when_mcnemar_rejects():
    for only_a in range(0, 26):
        for only_b in range(0, 26):
            if only_a + only_b == 0:
                assert paired_difference_interval(0, 0, 10) == (0.0, 0.0)
                continue
            lo, hi = paired_difference_interval(only_a, only_b, 60)
            assert (mcnemar_exact(only_a, only_b) < 0.05) == (not lo <= 0 <= hi), (only_a, only_b)
            assert lo <= (only_a - only_b) / 60 <= hi
    with pytest.raises(CodetuneError):
        paired_difference_interval(5, 6, 10)


def test_paired_comparison_significant_and_direction():
    ids = [f"q{i}" for i in range(30)]
    a = {q: 1.0 if i < 12 else 0.0 for i, q in enumerate(ids)}
    b = {q: 1.0 if i < 3 else 0.0 for i, q in enumerate(ids)}
    r = paired_comparison(a, b)
    assert (r.only_a, r.only_b) == (9, 0)
    assert r.p_value == pytest.approx(2 / 2**9)
    assert r.verdict == "A better (p=0.0039)"
    assert r.diff_ci[0] > 0
    assert paired_comparison(b, a, name_a="x", name_b="y").verdict == "y better (p=0.0039)"


def test_paired_comparison_intersection_threshold_and_disjoint():
    a = {"p1": 1.0, "p2": 0.5, "p3": 0.25, "only_a": 1.0}
    b = {"p1": 0.0, "p2": 0.0, "p3": 1.0, "only_b1": 1.0, "only_b2": 0.0}
    r = paired_comparison(a, b)
    # pass@1 0.5 counts as solved, 0.25 does not.
    assert (r.n, r.both, r.only_a, r.only_b, r.neither) == (3, 0, 2, 1, 0)
    assert (r.only_in_a, r.only_in_b) == (1, 2)
    assert r.pass_a == pytest.approx(1.75 / 3)
    with pytest.raises(CodetuneError, match="share no question_id"):
        paired_comparison({"x": 1.0}, {"y": 1.0})


def test_mean_pass_subsets():
    s = {"a": 1.0, "b": 0.0, "c": 0.5}
    assert mean_pass(s) == pytest.approx(0.5)
    assert mean_pass(s, ["a", "c"]) == pytest.approx(0.75)
    with pytest.raises(CodetuneError, match="no score"):
        mean_pass(s, ["z"])


# -------------------------------------------------------------------------------------- selection split


def test_random_split_deterministic_disjoint_order_free():
    problems = [(q, None) for q in IDS]
    sel, rep = split_problems(problems, method="random", seed=7)
    assert (sel, rep) == split_problems(list(reversed(problems)), method="random", seed=7)
    assert not set(sel) & set(rep) and set(sel) | set(rep) == set(IDS)
    assert len(sel) == round(0.5 * 41)
    assert split_problems(problems, method="random", seed=8) != (sel, rep)
    sel30, rep30 = split_problems(problems, method="random", select_fraction=0.3, seed=7)
    assert (len(sel30), len(rep30)) == (12, 29)


def test_date_split_puts_earlier_contests_in_selection():
    # Two problems per contest, dates out of order in the input; one undated problem.
    problems = []
    for c in range(10):
        for t in "ab":
            problems.append((f"abc{400 - c}_{t}", f"2024-{12 - c:02d}-01T00:00:00"))
    problems.append(("mystery", None))
    sel, rep = split_problems(problems, method="date", select_fraction=0.5)
    date = dict(problems)
    assert max(date[q] for q in sel) < min(date[q] for q in rep if date[q])
    assert "mystery" in rep  # undated counts as later than every dated problem
    assert not set(sel) & set(rep) and len(sel) + len(rep) == 21
    # round(10.5) = 10 problems: exactly the five earliest contests.
    assert sorted(sel) == sorted(f"abc{400 - c}_{t}" for c in range(5, 10) for t in "ab")
    # A cut inside a contest moves to its end: 0.45 * 21 = 9 -> 10, both tasks of the 5th contest.
    assert split_problems(problems, method="date", select_fraction=0.45)[0] == sel


def test_date_split_undated_rule_and_errors():
    # No dates (the shared benchmark): ordered by question id, numbers as numbers (abc99 before abc100).
    problems = [("abc100_a", None), ("abc99_b", None), ("abc99_a", None), ("abc101_a", "")]
    sel, rep = split_problems(problems, method="date")
    assert sel == ["abc99_a", "abc99_b"] and rep == ["abc100_a", "abc101_a"]
    with pytest.raises(CodetuneError, match="same contest date"):
        split_problems([("a", "2024-01-01"), ("b", "2024-01-01")], method="date")
    with pytest.raises(CodetuneError, match="at least 2"):
        split_problems([("a", None)], method="random")
    with pytest.raises(CodetuneError, match="between 0 and 1"):
        split_problems(problems, method="random", select_fraction=1.0)
    with pytest.raises(CodetuneError, match="twice"):
        split_problems([("a", None), ("a", None)], method="random")


def test_selection_note():
    assert "same 41 problems" in selection_note(None, 41, 41, n_checkpoints=9)
    assert "best of 9 checkpoints" in selection_note(None, 41, 41, n_checkpoints=9)
    note = selection_note("random", 20, 21, seed=0)
    assert "selected on 20 problems" in note and "seed 0" in note and "other 21" in note


# ----------------------------------------------------------------------------------------------- CLI


def test_compare_scores_cli(tmp_path):
    a = write_scores(tmp_path / "a.json", set(IDS[:14]))
    b = write_scores(tmp_path / "b" / "scores.json", set(IDS[4:16]))
    res = CliRunner().invoke(app, ["compare-scores", str(a), str(b.parent)])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "14/41" in out and "12/41" in out and "34.1%" in out and "29.3%" in out
    assert "[21.6%, 49.5%]" in out  # Wilson of 14/41
    assert "0.6875" in out and "not distinguishable at 41 problems (p=0.69)" in out
    assert "Clopper-Pearson on the discordant problems" in out and "bootstrap 95% [" not in out
    res = CliRunner().invoke(app, ["compare-scores", str(a), str(b), "--json", "--seed", "5"])
    d = json.loads(res.output)
    assert (d["both"], d["only_a"], d["only_b"], d["neither"], d["seed"]) == (10, 4, 2, 25, 5)
    assert math.isclose(d["p_value"], 0.6875)


def test_compare_scores_cli_missing_file(tmp_path):
    a = write_scores(tmp_path / "a.json", set(IDS[:14]))
    res = subprocess.run(
        [sys.executable, "-m", "codetune", "compare-scores", str(a), str(tmp_path / "missing.json")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert "missing.json does not exist" in res.stderr and "Traceback" not in res.stderr
