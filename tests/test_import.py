"""`codetune import` (issue 30, item 3): a folder of LiveCodeBench answers files on the 41 real problems of
tests/data, one per checkpoint, becomes a study folder that `codetune select` and `codetune report` read.
Correct programs come from tests/parity_cases.py; every other answer is `print(0)`. The expected selection and
pass@1 below are counted by hand from which problems each file solves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codetune import layout
from codetune.bench.lcb import load_benchmark_file
from codetune.cli import app
from codetune.errors import CodetuneError
from codetune.records import EvalSummary, ImportRecord, Selection
from codetune.study.importing import import_answers, pattern_regex
from codetune.study.select import select_study
from parity_cases import SOLVED

NAME = "{run}_checkpoint-step-{step}-epoch-0_Scenario.codegeneration_1_0.2.json"
# file -> the problems its answers solve (SOLVED's programs); 41 problems in all
FILES = {
    ("deep", 10): ["abc365_a", "abc365_b"],
    ("deep", 20): ["abc365_a", "abc365_b", "abc366_a", "abc367_a"],  # 4/41
    ("deep", 30): ["abc365_a", "abc367_b", "abc368_a", "abc366_a"],  # 4/41 too: validation loss decides
    ("wide", 10): ["abc368_a"],  # 1/41
    ("wide", 20): [],
}
BASE = ["abc365_a"]
# deep's losses: step 30 has the lower validation loss, so it wins the tie with step 20
METRICS = [
    {"step": s, "epoch": 0.1 * s, "train_loss": 1.0, "val_loss": v, "test_loss": v + 0.1}
    | {"learning_rate": 1e-4, "tokens_seen": 1000 * s, "wall_time": float(s)}
    for s, v in ((10, 1.5), (20, 1.3), (30, 1.2))
]


def _answers(ids: list[str], solved: list[str]) -> list[dict]:
    return [{"question_id": q, "code_list": [SOLVED[q] if q in solved else "print(0)"]} for q in ids]


@pytest.fixture(scope="module")
def imported(tmp_path_factory, shared_benchmark) -> Path:
    ids = [p.question_id for p in load_benchmark_file(shared_benchmark)]
    assert len(ids) == 41
    root = tmp_path_factory.mktemp("lcb-import")
    answers = root / "answers"
    answers.mkdir()
    for (run, step), solved in FILES.items():
        (answers / NAME.format(run=run, step=step)).write_text(json.dumps(_answers(ids, solved)))
    (answers / "base_model.json").write_text(json.dumps(_answers(ids, BASE)))
    (answers / "notes.txt").write_text("not an answers file")
    metrics = root / "metrics.jsonl"
    metrics.write_text("".join(json.dumps(m) + "\n" for m in METRICS))
    out = root / "study"
    res = CliRunner().invoke(
        app,
        [
            "import",
            str(answers),
            "--out",
            str(out),
            "--model",
            "Qwen/Qwen2.5-Coder-1.5B-Instruct",
            "--benchmark",
            str(shared_benchmark),
            "--base",
            str(answers / "base_model.json"),
            "--metrics",
            f"deep={metrics}",
            "--set",
            "benchmark.timeout_s=4",
        ],
    )
    assert res.exit_code == 0, res.output
    return out


def test_import_selects_and_reports_the_hand_counted_results(imported):
    sel = Selection.read(layout.selection_path(imported))
    deep, wide = sel.runs["deep"], sel.runs["wide"]
    assert deep.best.checkpoint == "checkpoint-step-30-epoch-0" and deep.decided_by == "validation loss"
    assert (deep.best.solved, deep.best.total) == (4, 41) and deep.best.pass1 == pytest.approx(4 / 41)
    assert [r.solved for r in deep.rows] == [2, 4, 4]
    assert wide.best.checkpoint == "checkpoint-step-10-epoch-0" and wide.decided_by == "pass@1"
    assert (wide.best.solved, sel.base.solved) == (1, 1)
    md = layout.report_md_path(imported).read_text()
    assert "| **deep** | **step 30** | **9.8%** | **4/41** |" in md
    assert "| wide | step 10 | 2.4% | 1/41 |" in md
    assert "run wide: answers imported from LiveCodeBench files, not trained by codetune; no losses" in md
    assert "LiveCodeBench's own runner (imported answers files" in md
    assert "Run wide was not trained by codetune (imported answers); losses: no metrics.jsonl was given" in md
    assert "incomplete" not in md  # nothing says training was cut short: there was none
    assert "Every evaluation on disk is one the selection record (selection.json) names and is shown." in md


def test_import_records_each_file_s_hash_and_claims_no_training(imported):
    from codetune.fingerprint import file_sha256

    rec = ImportRecord.read(layout.import_record_path(imported))
    answers = Path(rec.answers_dir)
    assert len(rec.files) == 6 and {f.run for f in rec.files} == {None, "deep", "wide"}
    for f in rec.files:
        assert f.sha256 == file_sha256(answers / f.file)
    s = EvalSummary.read(
        layout.eval_summary_path(
            layout.eval_dir(layout.run_dir(imported, "deep"), "checkpoint-step-30-epoch-0")
        )
    )
    assert s.imported and s.generated_by["file"] == NAME.format(run="deep", step=30)
    assert not layout.stages_dir(imported).exists()  # no stage claims training (or generation)
    for run in ("deep", "wide"):
        rdir = layout.run_dir(imported, run)
        assert not layout.checkpoints_dir(rdir).exists() and not layout.run_summary_path(rdir).exists()
    assert layout.metrics_path(layout.run_dir(imported, "deep")).is_file()


def test_imported_pass_at_1_matches_codetune_score_on_the_same_file(imported, shared_benchmark, tmp_path):
    rec = ImportRecord.read(layout.import_record_path(imported))
    path = Path(rec.answers_dir) / NAME.format(run="deep", step=30)
    res = CliRunner().invoke(
        app,
        [
            "score",
            "--benchmark",
            str(shared_benchmark),
            "--generations",
            str(path),
            "--out",
            str(tmp_path / "s.json"),
            "--timeout",
            "4",
        ],
    )
    assert res.exit_code == 0, res.output
    scored = json.loads((tmp_path / "s.json").read_text())
    best = Selection.read(layout.selection_path(imported)).runs["deep"].best
    assert sum(s["pass@1"] for s in scored) / len(scored) == pytest.approx(best.pass1)
    assert select_study(imported) == Selection.read(
        layout.selection_path(imported)
    )  # `codetune select` agrees


def test_pattern_maps_names_and_refuses_ambiguity(tmp_path):
    rx = pattern_regex("{run}_checkpoint-step-{step}-epoch-{epoch}_*.json")
    m = rx.match("deep_instruction_checkpoint-step-540-epoch-1_Scenario.codegeneration_10_0.2.json")
    assert (m.group("run"), m.group("step"), m.group("epoch")) == ("deep_instruction", "540", "1")
    with pytest.raises(CodetuneError, match=r"needs \{step\} exactly once"):
        pattern_regex("{run}_*.json")
    (tmp_path / "a").mkdir()
    for name in ("deep_s5_x.json", "deep_s5_y.json"):
        (tmp_path / "a" / name).write_text("[]")
    with pytest.raises(CodetuneError, match="both map to run deep checkpoint-step-5-epoch-0"):
        import_answers(
            tmp_path / "a",
            tmp_path / "out",
            model="m",
            benchmark={"source": "x.jsonl"},
            pattern="{run}_s{step}_*.json",
        )


def test_a_rerun_keeps_what_is_unchanged_and_redoes_what_changed(tmp_path, shared_benchmark):
    ids = [p.question_id for p in load_benchmark_file(shared_benchmark)]
    answers, out = tmp_path / "answers", tmp_path / "study"
    answers.mkdir()
    for step, solved in ((10, ["abc365_a"]), (20, [])):
        (answers / NAME.format(run="deep", step=step)).write_text(json.dumps(_answers(ids, solved)))

    def run(*overrides: str) -> dict[int, tuple[int, int]]:
        import_answers(
            answers, out, model="m", benchmark={"source": str(shared_benchmark)}, overrides=list(overrides)
        )
        rdir = layout.run_dir(out, "deep")
        found = {}
        for e in sorted(layout.evals_root(rdir).iterdir()):
            path = layout.eval_summary_path(e)
            found[layout.parse_checkpoint_name(e.name)[0]] = (
                EvalSummary.read(path).solved,
                path.stat().st_mtime_ns,
            )
        return found

    first = run()
    assert {s: v[0] for s, v in first.items()} == {10: 1, 20: 0}
    (answers / NAME.format(run="deep", step=20)).write_text(
        json.dumps(_answers(ids, ["abc365_b", "abc366_a"]))
    )
    second = run()
    assert second[10] == first[10]  # same bytes, same rules: kept
    assert second[20][0] == 2 and second[20][1] != first[20][1]
    third = run("benchmark.timeout_s=3")  # other rules: everything is scored again
    assert all(third[s][1] != second[s][1] for s in third)
    (answers / NAME.format(run="deep", step=10)).unlink()
    assert set(run("benchmark.timeout_s=3")) == {20}  # a file no longer there leaves no evaluation behind


def test_an_interrupted_import_continues_where_it_stopped(tmp_path, shared_benchmark, monkeypatch):
    from codetune.study import importing

    ids = [p.question_id for p in load_benchmark_file(shared_benchmark)]
    answers, out = tmp_path / "answers", tmp_path / "study"
    answers.mkdir()
    for step in (10, 20):
        (answers / NAME.format(run="deep", step=step)).write_text(json.dumps(_answers(ids, ["abc365_a"])))
    real, calls = importing._score_one, []

    def stop_at_second(*a, **k):
        calls.append(a[0].name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(importing, "_score_one", stop_at_second)
    kw = {"model": "m", "benchmark": {"source": str(shared_benchmark)}}
    with pytest.raises(KeyboardInterrupt):
        import_answers(answers, out, **kw)
    first = layout.eval_summary_path(
        layout.eval_dir(layout.run_dir(out, "deep"), "checkpoint-step-10-epoch-0")
    )
    stamp = first.stat().st_mtime_ns
    monkeypatch.setattr(importing, "_score_one", real)
    import_answers(answers, out, **kw)  # not refused as "a study codetune trained": it is this import
    assert first.stat().st_mtime_ns == stamp
    assert Selection.parse(select_study(out).to_json(), "x").runs["deep"].best.solved == 1


def test_import_never_writes_among_a_user_s_files(tmp_path, shared_benchmark):
    ids = [p.question_id for p in load_benchmark_file(shared_benchmark)]
    answers, out = tmp_path / "answers", tmp_path / "mine"
    answers.mkdir()
    (answers / NAME.format(run="deep", step=10)).write_text(json.dumps(_answers(ids, [])))
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(CodetuneError, match=r"mine is not empty and holds no study \(notes.txt\)"):
        import_answers(answers, out, model="m", benchmark={"source": str(shared_benchmark)})
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
