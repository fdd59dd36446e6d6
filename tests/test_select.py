"""Selection from synthetic study folders: pass@1, then private tests, then validation loss, then the earlier step."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from codetune.cli import app
from codetune.errors import CodetuneError
from codetune.study.results import load_study
from codetune.study.select import best_checkpoint, select_study, write_selection
from helpers import QIDS, write_synthetic_run, write_synthetic_study


def test_highest_pass1_wins(tmp_path):
    study = write_synthetic_study(tmp_path)
    sel = select_study(study)
    deep = sel.runs["deep"]
    assert deep.best.checkpoint == "checkpoint-step-20-epoch-0"
    assert deep.decided_by == "pass@1" and deep.tied == []
    assert deep.best.pass1 == pytest.approx(0.4) and deep.best.solved == 4 and deep.best.total == 10
    lo, hi = deep.best.wilson
    assert lo < 0.4 < hi and 0.1 < lo < 0.2 and 0.65 < hi < 0.7  # Wilson 4/10: 0.168-0.687
    assert sel.base.model == "base" and sel.base.solved == 1
    assert sel.method == "all" and "same 10 problems" in sel.note


def test_missing_and_partial_runs_are_reported_not_invented(tmp_path):
    study = write_synthetic_study(tmp_path)
    sel = select_study(study)
    assert sel.runs["absent"].best is None
    assert any("absent: not started" in m for m in sel.runs["absent"].missing)
    diverse = sel.runs["diverse"]
    assert diverse.best.checkpoint == "checkpoint-step-10-epoch-0"  # the only evaluated one
    assert any("training incomplete" in m for m in diverse.missing)
    assert any("checkpoint-step-20-epoch-0 not evaluated" in m for m in diverse.missing)


def _tie_study(tmp_path, evals=None, *, val=None):
    study = tmp_path / "study"
    study.mkdir()
    same = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    write_synthetic_run(
        study, "r", evals or {10: same, 20: same, 30: same}, val=val or {10: 0.5, 20: 0.5, 30: 0.5}
    )
    return load_study(study).runs["r"].evals


def test_tie_broken_by_private_tests(tmp_path):
    """Two samples per problem: the same pass@1 (2 of 20 samples) spread over more solved problems wins."""
    two = [[True, True]] + [[False, False]] * 9  # pass@1 0.1, one problem solved
    spread = [[True, False], [False, True]] + [[False, False]] * 8  # pass@1 0.1, two solved (>= half)
    best, decided, tied = best_checkpoint(_tie_study(tmp_path, {10: two, 20: two, 30: spread}))
    assert best.step == 30 and decided == "private tests solved"
    assert sorted(e.step for e in tied) == [10, 20]
    assert [e.private_on(None) for e in sorted(tied, key=lambda e: e.step)] == [1, 1]


def test_tie_broken_by_validation_loss(tmp_path):
    best, decided, _ = best_checkpoint(_tie_study(tmp_path, val={10: 0.7, 20: 0.6, 30: 0.65}))
    assert best.step == 20 and decided == "validation loss"


def test_tie_broken_by_earlier_step(tmp_path):
    best, decided, tied = best_checkpoint(_tie_study(tmp_path))
    assert best.step == 10 and decided == "earlier step" and len(tied) == 2


def test_selection_split_selects_on_one_part_reports_on_the_other(tmp_path):
    study = write_synthetic_study(tmp_path, selection="{method: date, select_fraction: 0.5}")
    sel = select_study(study)
    assert sel.method == "date"
    assert sel.select_ids == QIDS[:5] and sel.report_ids == QIDS[5:]
    deep = sel.runs["deep"]
    # On the earlier 5 problems step 20 solves 4 (best); it is reported on the later 5, where it solves 0.
    assert deep.best.checkpoint == "checkpoint-step-20-epoch-0"
    assert deep.best.select_pass1 == pytest.approx(0.8)
    assert deep.best.pass1 == 0.0 and deep.best.total == 5
    assert "selected on 5 problems" in sel.note and "other 5" in sel.note


def test_select_cli_writes_selection_and_prints_table(tmp_path):
    study = write_synthetic_study(tmp_path)
    res = CliRunner().invoke(app, ["select", str(study)], env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    data = json.loads((study / "selection.json").read_text())
    assert data["runs"]["deep"]["best"]["checkpoint"] == "checkpoint-step-20-epoch-0"
    assert data["runs"]["deep"]["best"]["pass@1"] == pytest.approx(0.4)
    assert data["runs"]["absent"]["best"] is None
    assert data["base"]["solved"] == 1
    assert "Model" in res.output and "Pass@1" in res.output and "Solved" in res.output
    assert "deep_checkpoint-step-20-epoch-0" in res.output and "40.0%" in res.output and "4/10" in res.output
    assert "not started" in res.output


def test_select_on_a_folder_that_is_not_a_study(tmp_path):
    with pytest.raises(CodetuneError, match="not a study folder"):
        select_study(tmp_path)
    with pytest.raises(CodetuneError, match="does not exist"):
        select_study(tmp_path / "nope")


def test_write_selection_is_json(tmp_path):
    study = write_synthetic_study(tmp_path, with_missing_run=False)
    path = write_selection(study, select_study(study))
    assert json.loads(path.read_text())["runs"]["diverse"]["best"]["step"] == 10


def test_split_without_per_problem_scores_is_said_not_hidden(tmp_path):
    study = write_synthetic_study(tmp_path, selection="{method: random}")
    for scores in study.rglob("scores.json"):
        scores.unlink()
    sel = select_study(study)
    assert sel.method == "all" and sel.select_ids is None
    assert any("selection split (random) not applied" in g for g in sel.gaps)


def test_random_split_is_seeded_and_disjoint(tmp_path):
    study = write_synthetic_study(tmp_path, selection="{method: random, select_fraction: 0.3, seed: 7}")
    a, b = select_study(study), select_study(study)
    assert a.select_ids == b.select_ids and len(a.select_ids) == 3 and len(a.report_ids) == 7
    assert not set(a.select_ids) & set(a.report_ids)
    assert all(r.total == 7 for r in a.runs["deep"].rows)
