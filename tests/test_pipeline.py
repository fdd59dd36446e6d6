"""`codetune study` end to end on a tiny study (the tiny random Llama, built-in data, a 3-problem local
benchmark of built-in rows, 8 new tokens): every stage writes its output and its record, a re-run keeps
them, and each change of a setting a stage reads recomputes exactly the stages that read it, or stops the
study when that stage is training."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from codetune import layout
from codetune.cli import app
from codetune.config import load_config
from codetune.data.builtin import builtin_benchmark_rows
from codetune.errors import CodetuneError
from codetune.fingerprint import content_hashes
from codetune.records import (
    CompareAnswers,
    EvalSummary,
    OverlapReport,
    RunSummary,
    Selection,
    StageRecord,
)
from codetune.study.pipeline import dry_run_status, run_study
from codetune.study.results import load_records
from codetune.train.summary import read_metrics
from helpers import study_doc

CHECKPOINTS = ["checkpoint-step-1-epoch-0", "checkpoint-step-2-epoch-0"]
MODELS = ["base", *(f"deep/{c}" for c in CHECKPOINTS)]


def edit(folder: Path, key: str, value) -> Path:
    """Set one key path of the folder's study.yaml, as a user editing it would."""
    path = folder / "study.yaml"
    doc = yaml.safe_load(path.read_text())
    *parents, last = key.split(".")
    node = doc
    for p in parents:
        node = node[p]
    node[last] = value
    path.write_text(yaml.safe_dump(doc))
    return path


def records(folder: Path) -> dict:
    return {k: r.fingerprint for k, r in load_records(folder / "out").items()}


def out_of(folder: Path) -> Path:
    return folder / "out"


def stamp(path: Path) -> int:
    return path.stat().st_mtime_ns


@pytest.fixture(scope="module")
def base_study(tmp_path_factory, tiny_model_dir) -> Path:
    """A complete tiny study, computed once for the module; tests work on copies of it."""
    import torch

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("tiny-study")
    rows = builtin_benchmark_rows(seed=42)[:3]
    (folder / "bench.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "study.yaml").write_text(yaml.safe_dump(study_doc(tiny_model_dir)))
    run_study(load_config(folder / "study.yaml"))
    return folder


@pytest.fixture
def study(base_study, tmp_path) -> Path:
    folder = tmp_path / "study"
    shutil.copytree(base_study, folder)
    return folder


def test_every_stage_writes_its_output_and_record(base_study):
    out = out_of(base_study)
    assert layout.config_path(out).is_file() and layout.environment_path(out).is_file()
    assert [p.name for p in layout.list_checkpoints(layout.run_dir(out, "deep"))] == CHECKPOINTS
    assert RunSummary.read(layout.run_summary_path(layout.run_dir(out, "deep"))).checkpoints == CHECKPOINTS
    assert OverlapReport.read(layout.overlap_path(out, "deep")).benchmark_problems == 3
    for key in MODELS:
        assert EvalSummary.read(layout.stage_output(out, "eval", key)).total == 3
    best = Selection.read(layout.selection_path(out)).runs["deep"].best.checkpoint
    assert best in CHECKPOINTS
    # The comparison is of the base model and the selected checkpoint. (Two steps of training leave the tiny
    # model's greedy answers as they were, so whether an adapter changes the answers is tests/test_compare's.)
    answers = CompareAnswers.read(layout.compare_answers_path(layout.compare_dir(out)))
    assert [m.name for m in answers.models] == ["base", f"deep/{best}"]
    assert [m.checkpoint for m in answers.models] == [
        None,
        str(layout.checkpoints_dir(layout.run_dir(out, "deep")) / best),
    ]
    recs = load_records(out)
    expected = {("profile", "deep"), ("overlap", "deep"), ("train", "deep"), ("selection", None)}
    expected |= {("eval", k) for k in MODELS} | {("compare", None), ("report", None)}
    assert set(recs) == expected and all(r.finished for r in recs.values())
    history = layout.config_history(out)
    assert len(history) == 1 and all(r.config_file == str(history[0].relative_to(out)) for r in recs.values())
    md = layout.report_md_path(out).read_text()
    assert "What is missing" not in md and "No behaviour comparison yet" not in md
    assert "config.yaml (as every stage above ran it)" in md and "ran with settings other than" not in md


def test_an_interrupted_study_resumes_training_where_its_checkpoint_left_it(
    base_study, tmp_path, tiny_model_dir, training_steps
):
    """Ctrl-C during step 2 (checkpoint at step 1): the rerun trains step 2 only, then every later stage,
    and its metrics equal the uninterrupted study's."""
    folder = tmp_path / "cut"
    folder.mkdir()
    shutil.copy(base_study / "bench.jsonl", folder / "bench.jsonl")
    (folder / "study.yaml").write_text(yaml.safe_dump(study_doc(tiny_model_dir)))
    training_steps.interrupt_at(2)
    with pytest.raises(KeyboardInterrupt):
        run_study(load_config(folder / "study.yaml"))
    training_steps.interrupt_at(None)
    run_study(load_config(folder / "study.yaml"))
    assert training_steps.started == [1]
    metrics = layout.METRICS_FILE
    got = read_metrics(layout.run_dir(out_of(folder), "deep") / metrics)
    want = read_metrics(layout.run_dir(out_of(base_study), "deep") / metrics)
    assert [r.step for r in got] == [r.step for r in want] == [1, 2]
    assert [r.val_loss for r in got] == pytest.approx([r.val_loss for r in want], rel=1e-4)
    assert all(r.finished for r in load_records(out_of(folder)).values())


def test_a_rerun_keeps_every_stage(study):
    out = out_of(study)
    files = [layout.stage_output(out, s, k) for s, k in load_records(out)]
    before = {p: stamp(p) for p in files}
    run_study(load_config(study / "study.yaml"))
    assert {p: stamp(p) for p in files} == before

    # Interrupted after training: an evaluation, the selection and the comparison are gone; only they are redone.
    shutil.rmtree(layout.eval_dir(layout.run_dir(out, "deep"), CHECKPOINTS[1]))
    shutil.rmtree(layout.compare_dir(out))
    layout.selection_path(out).unlink()
    train = layout.run_summary_path(layout.run_dir(out, "deep"))
    run_study(load_config(study / "study.yaml"))
    assert stamp(train) == before[train]
    assert layout.stage_output(out, "eval", f"deep/{CHECKPOINTS[1]}").is_file()
    assert (
        layout.selection_path(out).is_file()
        and layout.compare_answers_path(layout.compare_dir(out)).is_file()
    )


def _refused(study: Path, key: str, value, named: str) -> None:
    before = records(study)
    config_before = layout.config_path(out_of(study)).read_text()
    with pytest.raises(CodetuneError, match=rf"differs in: {named}.*--overwrite-stale.*another output_dir"):
        run_study(load_config(edit(study, key, value)))
    assert records(study) == before  # nothing computed, nothing deleted
    assert layout.config_path(out_of(study)).read_text() == config_before  # config.yaml not rewritten


def test_learning_rate_change_stops_the_study_naming_the_key(study):
    _refused(study, "training.learning_rate", 2e-3, r"training\.learning_rate")


def test_dataset_source_change_stops_the_study(study):
    _refused(study, "runs.deep.dataset.source", "builtin:diverse", r"runs\.deep\.dataset\.source")


def test_system_prompt_change_refuses_training_and_marks_its_readers_stale(study):
    _refused(study, "runs.deep.system_prompt", "You are a careful coder.", r"runs\.deep\.system_prompt")
    status = {s.label: st for s, st in dry_run_status(load_config(study / "study.yaml")).stages}
    for label in ("train deep", "profile deep", "eval deep/" + CHECKPOINTS[0], "eval base"):
        assert status[label].state == "stale" and "system_prompt" in status[label].why, label
    assert status["overlap deep"].state == "done"  # the overlap check reads no system prompt

    run_study(load_config(study / "study.yaml"), overwrite_stale=True)
    out = out_of(study)
    answers = CompareAnswers.read(layout.compare_answers_path(layout.compare_dir(out)))
    assert answers.system_prompt == "You are a careful coder."
    for key in MODELS:
        assert (
            EvalSummary.read(layout.stage_output(out, "eval", key)).system_prompt
            == "You are a careful coder."
        )
    profile = StageRecord.read(layout.stage_record_path(out, "profile", "deep"))
    assert profile.config["runs"]["deep"]["system_prompt"] == "You are a careful coder."


def test_fewer_benchmark_problems_recompute_eval_and_overlap_and_the_report_agrees(study):
    out = out_of(study)
    train = layout.run_summary_path(layout.run_dir(out, "deep"))
    kept = stamp(train), stamp(layout.profile_path(out, "deep"))
    before = records(study)
    run_study(load_config(edit(study, "benchmark.max_problems", 2)))
    after = records(study)
    assert (stamp(train), stamp(layout.profile_path(out, "deep"))) == kept
    assert after[("train", "deep")] == before[("train", "deep")]
    assert after[("overlap", "deep")] != before[("overlap", "deep")]
    assert all(after[("eval", k)] != before[("eval", k)] for k in MODELS)
    overlap = OverlapReport.read(layout.overlap_path(out, "deep"))
    assert overlap.benchmark_problems == 2
    assert all(EvalSummary.read(layout.stage_output(out, "eval", k)).total == 2 for k in MODELS)
    md = layout.report_md_path(out).read_text()
    assert f"| deep | {overlap.possibly_seen} / 2 |" in md and " / 3 |" not in md
    assert "config.yaml (as every stage above ran it)" in md


def test_an_edited_expected_output_reevaluates(study):
    bench = study / "bench.jsonl"
    rows = [json.loads(line) for line in bench.read_text().splitlines()]
    tests = json.loads(rows[1]["private_test_cases"])
    tests[0]["output"] = tests[0]["output"].strip() + "0\n"  # same problems, same number of tests
    rows[1]["private_test_cases"] = json.dumps(tests)
    bench.write_text("".join(json.dumps(r) + "\n" for r in rows))
    before = records(study)
    status = {s.label: st for s, st in dry_run_status(load_config(study / "study.yaml")).stages}
    assert status["eval base"].differences == ("inputs.benchmark.sha256",)
    run_study(load_config(study / "study.yaml"))
    after = records(study)
    assert all(after[("eval", k)] != before[("eval", k)] for k in MODELS)
    assert after[("train", "deep")] == before[("train", "deep")]
    assert after[("profile", "deep")] == before[("profile", "deep")]


def test_overwrite_stale_retrains_with_the_new_setting(study):
    out = out_of(study)
    old = records(study)
    run_study(load_config(edit(study, "training.learning_rate", 2e-3)), overwrite_stale=True)
    new = records(study)
    train = StageRecord.read(layout.stage_record_path(out, "train", "deep"))
    assert train.finished and train.config["training"]["learning_rate"] == 2e-3
    assert new[("train", "deep")] != old[("train", "deep")]
    assert new[("eval", MODELS[-1])] != old[("eval", MODELS[-1])]  # another adapter: evaluated afresh
    # Evaluations are keyed on the adapter files' content: step 1 falls in the LR warm-up (learning rate 0),
    # so its adapter is byte-identical to the old one and its evaluation is kept, as is the base model's.
    assert new[("eval", MODELS[1])] == old[("eval", MODELS[1])]
    assert new[("eval", "base")] == old[("eval", "base")]
    assert new[("profile", "deep")] == old[("profile", "deep")]
    md = layout.report_md_path(out).read_text()
    assert "lr 0.002" in md and "config.yaml (as every stage above ran it)" in md
    assert len(layout.config_history(out)) == 2


def test_dry_run_says_done_stale_or_to_do(study):
    res = CliRunner().invoke(app, ["study", str(study / "study.yaml"), "--dry-run"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    stages = res.output.split("Stages in ", 1)[1].split("\n", 1)[1]  # the table, after the folder's name
    assert all(f"eval {k}" in stages for k in MODELS) and "stale" not in stages and "to do" not in stages
    assert stages.count(" done") == len(MODELS) + 6
    edit(study, "benchmark.max_problems", 2)
    edit(study, "training.learning_rate", 5e-4)
    before = records(study)
    res = CliRunner().invoke(app, ["study", str(study / "study.yaml"), "--dry-run"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    lines = {line.split("  ")[0]: line for line in res.output.splitlines()}
    assert "stale (differs in: training.learning_rate)" in lines["train deep"]
    assert "stale (differs in: benchmark.max_problems" in lines["overlap deep"]
    assert "done" in lines["profile deep"]
    assert "to do (after train deep" in lines["selection"]
    assert "the study would stop before any work" in res.output and "--overwrite-stale" in res.output
    assert records(study) == before  # a dry run computes nothing


def test_report_says_which_results_ran_with_other_settings(study):
    """`codetune eval` with another config in the same folder: the report quotes both, labels neither as
    the config of every result."""
    cfg_path = edit(study, "benchmark.max_problems", 2)
    res = CliRunner().invoke(app, ["eval", str(cfg_path), "--include-base", "--checkpoints", "all"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["report", str(out_of(study))])
    assert res.exit_code == 0, res.output
    md = layout.report_md_path(out_of(study)).read_text()
    assert "config.yaml (the latest config written to this folder)" in md
    assert "as every stage above ran it" not in md
    assert "| overlap deep |" in md and "benchmark.max_problems" in md
    # `codetune eval` recorded its config as config.yaml: the evaluations ran as it says, the earlier stages not.
    assert "(the config of profile deep, overlap deep" in md or "(the config of overlap deep" in md
    assert "the settings eval base ran with" not in md


# --- issue 20: every number the report states is one its stage computed under the stated settings ------------


def test_a_deleted_checkpoint_stops_the_study_in_one_line_and_its_old_evaluation_is_never_used(study):
    """The selected checkpoint deleted to save disk, then a scoring setting changed: the study stops before
    any work, naming the checkpoint and the three ways on; --overwrite-stale retrains and every evaluation
    is made under the new setting."""
    out = out_of(study)
    best = Selection.read(layout.selection_path(out)).runs["deep"].best.checkpoint
    shutil.rmtree(layout.checkpoints_dir(layout.run_dir(out, "deep")) / best)
    before = records(study)
    cfg = load_config(edit(study, "benchmark.timeout_s", 3.0))
    with pytest.raises(CodetuneError) as err:
        run_study(cfg)
    msg = str(err.value)
    assert "\n" not in msg and f"{best} is missing" in msg
    assert "restore" in msg and "--overwrite-stale" in msg and "removing it from `runs`" in msg
    assert records(study) == before  # nothing computed, nothing deleted
    # What is left on disk is not a result: the old evaluation of the deleted checkpoint is left out, said.
    from codetune.study.select import select_study

    sel = select_study(out, cfg=cfg)
    assert best not in [r.checkpoint for r in sel.runs["deep"].rows]
    assert any(
        f"{best} was evaluated but its checkpoint is no longer on disk" in g for g in sel.runs["deep"].missing
    )
    run_study(cfg, overwrite_stale=True)
    for key in MODELS:
        assert EvalSummary.read(layout.stage_output(out, "eval", key)).scoring["timeout_s"] == 3.0
    assert Selection.read(layout.selection_path(out)).runs["deep"].best.checkpoint in CHECKPOINTS


def test_a_changed_checkpoint_counts_as_damaged_training(study):
    out = out_of(study)
    adapter = layout.adapter_paths(layout.checkpoints_dir(layout.run_dir(out, "deep")) / CHECKPOINTS[0])
    weights = next(p for p in adapter if p.suffix == ".safetensors")
    weights.write_bytes(weights.read_bytes() + b"\0")
    status = {s.label: st for s, st in dry_run_status(load_config(study / "study.yaml")).stages}
    assert status["train deep"].state == "stale"
    assert f"{CHECKPOINTS[0]} changed since training" in status["train deep"].why


def test_a_run_taken_out_of_the_config_is_out_of_the_results(study):
    from codetune.study.select import select_study

    out = out_of(study)
    shutil.copytree(layout.run_dir(out, "deep"), layout.run_dir(out, "old"))
    sel = select_study(out, cfg=load_config(study / "study.yaml"))
    assert list(sel.runs) == ["deep"]
    assert any("runs/old is not a run of the config" in g for g in sel.gaps)


def _all_solved(folder: Path) -> None:
    """Edit an evaluation's files to every problem solved, as a user (or a script) editing them would."""
    scores = json.loads(layout.scores_path(folder).read_text())
    summary = json.loads(layout.eval_summary_path(folder).read_text())
    assert summary["solved"] < 3
    for s in scores:
        s["graded_list"] = [True] * len(s["graded_list"])
        s["pass@1"] = 1.0
    summary.update({"solved": 3, "solved_public": 3, "pass@1": 1.0, "pass@k": {"pass@1": 1.0}})
    summary["sample_verdicts"] = {"passed": 3}
    layout.scores_path(folder).write_text(json.dumps(scores))
    layout.eval_summary_path(folder).write_text(json.dumps(summary))


def test_an_evaluation_redone_with_other_numbers_redoes_what_reads_it(study):
    """Same fingerprint, other numbers (as a resumed or sampled re-evaluation gives, which records its files'
    hashes when it finishes): the selection and the report chain on the evaluation's content, so they are
    redone and state the new numbers."""
    out = out_of(study)
    key = f"deep/{CHECKPOINTS[1]}"
    _all_solved(layout.eval_dir(layout.run_dir(out, "deep"), CHECKPOINTS[1]))
    path = layout.stage_record_path(out, "eval", key)
    record = StageRecord.read(path)
    record.model_copy(update={"outputs": content_hashes(out, "eval", key)}).write(path)
    status = {s.label: st for s, st in dry_run_status(load_config(study / "study.yaml")).stages}
    assert status[f"eval {key}"].state == "done"  # the evaluation itself is what its record says
    assert status["selection"].state == "stale" and status["report"].state == "stale"
    run_study(load_config(study / "study.yaml"))
    best = Selection.read(layout.selection_path(out)).runs["deep"].best
    assert best.checkpoint == CHECKPOINTS[1] and best.pass1 == 1.0 and best.solved == 3
    assert "100.0%" in layout.report_md_path(out).read_text()


def test_an_edited_evaluation_is_never_reported_and_the_study_evaluates_again(study):
    """Issue 29.6: the selected checkpoint's scores and summary edited to all-solved. `codetune report` does
    not show them (naming the file); the study's rerun evaluates that checkpoint again instead of selecting
    from the edited files."""
    out = out_of(study)
    best = Selection.read(layout.selection_path(out)).runs["deep"].best.checkpoint
    key = f"deep/{best}"
    _all_solved(layout.eval_dir(layout.run_dir(out, "deep"), best))
    res = CliRunner().invoke(app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    md = layout.report_md_path(out).read_text()
    assert "100.0%" not in md
    edited = f"runs/deep/eval/{best}/scores.json, runs/deep/eval/{best}/summary.json changed after"
    assert f"its selected checkpoint {best} is not reported ({edited} its evaluation finished)" in md

    status = {s.label: st for s, st in dry_run_status(load_config(study / "study.yaml")).stages}
    assert status[f"eval {key}"].state == "stale" and edited in status[f"eval {key}"].why
    run_study(load_config(study / "study.yaml"))
    assert EvalSummary.read(layout.stage_output(out, "eval", key)).solved < 3  # evaluated again
    assert Selection.read(layout.selection_path(out)).runs["deep"].best.pass1 < 1.0
    md = layout.report_md_path(out).read_text()
    assert "100.0%" not in md and "is not reported" not in md


def test_an_evaluation_redone_under_other_settings_after_the_selection_is_not_reported(study):
    """Issue 29.7: the base model evaluated again with another timeout after the selection (same numbers on
    these problems): the report says so instead of showing it as what the selection was made from."""
    res = CliRunner().invoke(
        app, ["eval", str(study / "study.yaml"), "--include-base", "--set", "benchmark.timeout_s=3.0"]
    )
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["report", str(out_of(study))])
    assert res.exit_code == 0, res.output
    md = layout.report_md_path(out_of(study)).read_text()
    assert "The base model is not reported: its evaluation was redone under other settings" in md


def test_a_truncated_metrics_file_is_no_result(study):
    """Issue 29.8: metrics.jsonl of a finished run cut to its first row: the report does not read a minimum
    off it, and the study stops naming the file instead of reporting it."""
    out = out_of(study)
    metrics = layout.metrics_path(layout.run_dir(out, "deep"))
    metrics.write_text(metrics.read_text().splitlines(keepends=True)[0])
    res = CliRunner().invoke(app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    md = layout.report_md_path(out).read_text()
    assert "1 evaluation from step 1 to step 1" not in md and "the last evaluation." not in md
    assert "The losses of deep are not shown: runs/deep/metrics.jsonl changed since training" in md
    assert "Run deep: its losses are not shown, runs/deep/metrics.jsonl changed since training" in md
    with pytest.raises(CodetuneError, match=r"run deep: .*runs/deep/metrics.jsonl changed since training"):
        run_study(load_config(study / "study.yaml"))


def test_auto_is_fingerprinted_as_what_it_became(base_study, tiny_model_dir, monkeypatch, tmp_path):
    """A study on `model.device: auto` / `dtype: auto` moved from a CPU to a bf16 GPU: training and every
    evaluation name the resolved device and dtype that differ, instead of one claim over fp32 and bf16."""
    import torch

    from codetune.fingerprint import record_differences
    from codetune.study.stages.context import StudyContext
    from codetune.study.stages.eval import eval_stage, eval_targets
    from codetune.train.run import train_spec

    doc = study_doc(tiny_model_dir)
    doc["model"].update(device="auto", dtype="auto")
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(doc))
    shutil.copy(base_study / "bench.jsonl", tmp_path / "bench.jsonl")
    cfg = load_config(path)

    def specs():
        ctx = StudyContext(cfg)
        return train_spec(cfg, "deep"), eval_stage(ctx, eval_targets(ctx, runs=[])[0]).spec

    on_cpu = specs()
    assert on_cpu[0].inputs["resolved"]["model"] == {"device": "cpu", "dtype": "float32"}
    assert on_cpu[0].inputs["resolved"]["training"]["gradient_checkpointing"] is False
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))  # bf16: Ampere
    on_gpu = specs()
    assert on_gpu[0].inputs["resolved"]["model"] == {"device": "cuda", "dtype": "bfloat16"}
    prefixes = ("inputs.resolved.model", "inputs.resolved")  # training's, the evaluation's
    for cpu, gpu, prefix in zip(on_cpu, on_gpu, prefixes, strict=True):
        diffs = record_differences(cpu.write_record(tmp_path, finished=True), gpu)
        assert {f"{prefix}.device", f"{prefix}.dtype"} <= set(diffs), diffs


@pytest.mark.parametrize(
    ("module", "name", "stage", "key"),
    [
        ("codetune.bench.generate", "GENERATION_VERSION", "eval base", "inputs.versions.generation"),
        ("codetune.sandbox", "SANDBOX_VERSION", "eval base", "inputs.versions.sandbox"),
        ("codetune.bench.scoring", "SCORING_VERSION", "eval base", "inputs.versions.scoring"),
        ("codetune.data.formatting", "TRAINING_INPUT_VERSION", "train deep", "inputs.version"),
        ("codetune.study.compare", "COMPARE_VERSION", "compare", "inputs.versions.compare"),
        ("codetune.study.select", "SELECTION_VERSION", "selection", "inputs.version"),
        ("codetune.study.report.build", "REPORT_VERSION", "report", "inputs.version"),
    ],
)
def test_code_that_changes_results_is_versioned_in_the_fingerprint(
    base_study, monkeypatch, module, name, stage, key
):
    import importlib

    monkeypatch.setattr(importlib.import_module(module), name, 999)
    status = {s.label: st for s, st in dry_run_status(load_config(base_study / "study.yaml")).stages}
    assert status[stage].state == "stale" and key in status[stage].differences, status[stage]


def test_the_sandbox_isolation_is_recorded_with_every_evaluation(base_study, monkeypatch):
    """Answers run where nothing isolated them (accepted with CODETUNE_SANDBOX_WEAK=1) are another
    evaluation than answers run under bubblewrap: the isolation is in the record, and a change makes it stale."""
    from codetune.sandbox import isolation

    bare = isolation.Isolation(bwrap=None, is_root=False, unshare=False, drop_uid=False, reason="no bwrap")
    monkeypatch.setattr(isolation, "detect", lambda: bare)
    monkeypatch.setenv("CODETUNE_SANDBOX_WEAK", "1")
    status = {s.label: st for s, st in dry_run_status(load_config(base_study / "study.yaml")).stages}
    assert status["eval base"].state == "stale", status["eval base"]
    assert "inputs.isolation" in status["eval base"].differences


def test_the_builtin_model_is_identified_by_the_converted_files_it_loads(tmp_path, monkeypatch):
    from codetune import models
    from codetune.config import ModelConfig

    folder = tmp_path / "converted"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / models.CACHE_MARKER).write_text('{"seconds": 1}')
    monkeypatch.setattr(models, "convert_builtin", lambda alias: folder)
    cfg = ModelConfig(source="smollm2-135m-instruct")
    first = models.model_identity(cfg)
    (folder / models.CACHE_MARKER).write_text('{"seconds": 2}')  # another conversion's timing: same model
    assert models.model_identity(cfg) == first
    (folder / "model.safetensors").write_bytes(b"other weights")  # same package version, other weights
    assert models.model_identity(cfg) != first


def test_a_standalone_compare_refuses_to_overwrite_the_study_s_comparison(study, monkeypatch):
    out = out_of(study)
    answers = layout.compare_answers_path(layout.compare_dir(out))
    before = answers.read_bytes()
    monkeypatch.chdir(out)  # `--out compare`, the default, is the study's own folder here
    ckpt = layout.checkpoints_dir(layout.run_dir(out, "deep")) / CHECKPOINTS[0]
    res = CliRunner().invoke(app, ["compare", "--checkpoint", str(ckpt)])
    assert res.exit_code != 0 and "is the comparison of the study" in str(res.exception)
    assert "--out" in str(res.exception)
    assert answers.read_bytes() == before


def test_eval_with_set_records_the_config_it_ran_with(study):
    out = out_of(study)
    res = CliRunner().invoke(
        app, ["eval", str(study / "study.yaml"), "--include-base", "--set", "benchmark.timeout_s=3.0"]
    )
    assert res.exit_code == 0, res.output
    assert load_config(layout.config_path(out)).benchmark.timeout_s == 3.0
    record = load_records(out)[("eval", "base")]
    assert record.config["benchmark"]["timeout_s"] == 3.0
    assert record.config_file and (out / record.config_file).is_file()
    assert load_config(out / record.config_file).benchmark.timeout_s == 3.0


# --- issue 29: the user's files ------------------------------------------------------------------------------


def _user_folder(folder: Path) -> dict[Path, bytes]:
    """A folder of the user's whose names happen to be a study's."""
    files = {
        folder / "compare" / "notes.txt": b"my notes",
        folder / "eval" / "base" / "notes.txt": b"more notes",
        folder / "report_assets" / "figure.png": b"\x89PNG mine",
        folder / "config.yaml": b"# my config\nlr: 1\n",
        folder / "report.html": b"<p>my report</p>",
        folder / "selection.json": b"{}",
    }
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def test_a_folder_that_holds_no_study_is_refused_and_nothing_in_it_is_touched(tmp_path, tiny_model_dir):
    """Issue 29.9: output_dir pointing at a folder of the user's: the study, its dry run and `codetune eval`
    stop in one line naming it; every file is as it was. `output_dir: /` fails the dry run too."""
    files = _user_folder(tmp_path / "mine")
    rows = builtin_benchmark_rows(seed=42)[:3]
    (tmp_path / "bench.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    doc = study_doc(tiny_model_dir) | {"output_dir": "mine"}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(doc))
    cfg = load_config(tmp_path / "study.yaml")
    for call in (run_study, dry_run_status):
        with pytest.raises(CodetuneError) as err:
            call(cfg)
        msg = str(err.value)
        assert "\n" not in msg and f"{tmp_path / 'mine'} holds files but no codetune study" in msg
    res = CliRunner().invoke(app, ["eval", str(tmp_path / "study.yaml"), "--include-base"])
    assert res.exit_code != 0 and "holds files but no codetune study" in str(res.exception)
    assert {p: p.read_bytes() for p in files} == files
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == sorted(
        ["compare", "eval", "report_assets", "config.yaml", "report.html", "selection.json"]
    )
    res = CliRunner().invoke(
        app, ["study", str(tmp_path / "study.yaml"), "--dry-run", "--set", "output_dir=/"]
    )
    assert res.exit_code != 0 and "output_dir / holds files but no codetune study" in str(res.exception)


def test_the_user_s_config_is_never_overwritten(study):
    """Issue 29.10: a config named config.yaml in the study folder with `output_dir: .` (comments and all):
    refused, the file unchanged; a config of that name in a folder of the user's is refused as not a study."""
    out = out_of(study)
    doc = yaml.safe_load(layout.config_path(out).read_text()) | {"output_dir": "."}
    doc["benchmark"]["source"] = str(study / "bench.jsonl")
    text = "# my study, my comments\n" + yaml.safe_dump(doc)
    layout.config_path(out).write_text(text)
    with pytest.raises(CodetuneError, match="config.yaml is where the study writes the config it ran with"):
        run_study(load_config(layout.config_path(out)))
    assert layout.config_path(out).read_text() == text

    mine = study.parent / "mine"
    mine.mkdir()
    (mine / "config.yaml").write_text(text)
    with pytest.raises(CodetuneError, match="holds files but no codetune study"):
        run_study(load_config(mine / "config.yaml"))
    assert (mine / "config.yaml").read_text() == text
