"""Every key in config.NOT_RESULT_KEYS (left out of stage fingerprints) earns its place: changing it leaves
the stage's outputs as they were. A key added there without a test here fails the first test."""

from __future__ import annotations

import pytest

from codetune.config import NOT_RESULT_KEYS, load_config
from codetune.layout import METRICS_FILE
from codetune.train.summary import read_metrics
from helpers import bench_config, write_config

TESTED = {"training.report_to", "training.eval_batch_size", "benchmark.workers"}


def test_every_speed_key_has_a_test_here():
    assert set(NOT_RESULT_KEYS) == TESTED


def _losses(tmp_path, tiny_model_dir, name: str, **training) -> list:
    from codetune.train.run import train_run

    cfg = load_config(write_config(tmp_path / name, tiny_model_dir, max_steps=4, eval_every=2, **training))
    return read_metrics(train_run(cfg, "a") / METRICS_FILE)


def test_eval_batch_size_and_trackers_leave_the_losses_as_they_were(tmp_path, tiny_model_dir):
    base = _losses(tmp_path, tiny_model_dir, "base", eval_batch_size=1, report_to=[])
    other = _losses(tmp_path, tiny_model_dir, "other", eval_batch_size=5, report_to=["tensorboard"])
    assert [r.step for r in base] == [r.step for r in other] == [2, 4]
    for a, b in zip(base, other, strict=True):
        assert a.train_loss == b.train_loss and a.tokens_seen == b.tokens_seen  # training itself is untouched
        # token-weighted means summed in another grouping: equal up to float32 rounding
        assert a.val_loss == pytest.approx(b.val_loss, rel=1e-6)
        assert a.test_loss == pytest.approx(b.test_loss, rel=1e-6)


def test_scoring_workers_leave_every_verdict_as_it_was():
    from codetune.bench.lcb import parse_row
    from codetune.bench.scoring import grading_limits, score_generations
    from codetune.sandbox import get_runner
    from parity_cases import APB_ROW, GRADER_CASES

    fast = {n: c for n, c in GRADER_CASES.items() if "sleep" not in c[0] and "1_300_000_000" not in c[0]}
    gens = [{"question_id": APB_ROW["question_id"], "code_list": [c[0] for c in fast.values()]}]
    out = []
    for workers in (1, 3):
        with get_runner(workers=workers) as runner:
            (entry,) = score_generations(
                [parse_row(APB_ROW)], gens, limits=grading_limits(4, 1024), runner=runner
            )
        out.append((entry.graded_list, entry.verdicts))
    assert out[0] == out[1]
    assert sum(out[0][0]) not in (0, len(fast))  # some pass, some fail: the comparison means something


def test_records_store_the_speed_settings_they_ran_with(tmp_path, tiny_model_dir, shared_benchmark):
    """Not fingerprinted, still recorded: a report then claims "as config.yaml" only when they match too."""
    from codetune.fingerprint import config_disagreement, settings_as_run
    from codetune.study.stages.context import StudyContext
    from codetune.study.stages.eval import eval_stage, eval_targets

    cfg = bench_config(tmp_path, tiny_model_dir, shared_benchmark, workers=3)
    ctx = StudyContext(cfg)
    spec = eval_stage(ctx, eval_targets(ctx, runs=[])[0]).spec
    assert spec.speed == {"benchmark": {"workers": 3, "generation": {"backend": "auto", "engine": "auto"}}}
    assert "workers" not in spec.config["benchmark"]
    # Backend and engine mode count as resolved (no vLLM in this venv: hf, and hf's auto mode).
    assert {"backend": "hf", "engine": "per_checkpoint"}.items() <= spec.inputs["resolved"].items()
    assert "backend" not in spec.config["benchmark"]["generation"]
    record = spec.write_record(tmp_path, finished=True)
    full = cfg.model_dump(mode="json")
    assert config_disagreement(settings_as_run(record), full) == []
    full["benchmark"]["workers"] = 1
    assert config_disagreement(settings_as_run(record), full) == ["benchmark.workers"]
    assert cfg.speed_subset(["model", "lora", "training", "runs.r1"]) == {
        "training": {"eval_batch_size": None, "report_to": cfg.training.report_to}
    }  # what train_spec records
