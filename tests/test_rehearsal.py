"""The seed study rehearsed end to end: `codetune study configs/seed-qwen2.5-coder-1.5b.yaml`, sized down with
`--set` only, from hub ids to report.html through the stand-in hub (the real transformers, datasets and
huggingface_hub clients), then again with HF_HUB_OFFLINE=1 and the hub stopped."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from hubserver import StandInHub
from standin import DEEP_ID, DIVERSE_ID, LCB_ID, SEED, build_stand_in, codetune, hub_env

RUNS = {"deep_instruction": DEEP_ID, "diverse_instruction": DIVERSE_ID}
SIZE = [  # only sizes and devices change: model, data, benchmark and filters are the seed's
    "model.device=cpu",
    "model.dtype=float32",
    "training.max_steps=4",
    "training.eval_every=2",
    "training.save_every=2",
    "training.max_eval_samples=4",
    "training.batch_size=2",
    "training.gradient_accumulation_steps=1",
    "benchmark.max_problems=3",
    "benchmark.generation.max_new_tokens=8",
    "compare.max_new_tokens=8",
]


def study(out: Path, env: dict) -> None:
    sets = [a for s in [*SIZE, f"output_dir={json.dumps(str(out))}"] for a in ("--set", s)]
    res = codetune("study", SEED, *sets, env=env, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert (out / "report.html").is_file()


def metrics(out: Path, run: str) -> list[dict]:
    return [json.loads(line) for line in (out / "runs" / run / "metrics.jsonl").read_text().splitlines()]


def evaluated(out: Path) -> dict[str, list[str]]:
    """question_ids scored per evaluated model folder."""
    folders = [out / "eval" / "base", *sorted((out / "runs").glob("*/eval/*"))]
    return {
        str(f.relative_to(out)): [s["question_id"] for s in json.loads((f / "scores.json").read_text())]
        for f in folders
    }


@pytest.mark.slow
def test_seed_study_from_hub_ids_to_report_then_offline(tmp_path, shared_benchmark):
    stand_in = build_stand_in(tmp_path / "hub", shared_benchmark)
    lcb = next(r for r in stand_in.repos if r.repo_id == LCB_ID)
    out, cache, fetched = tmp_path / "study", tmp_path / "hf", tmp_path / "hf-fetched"
    with StandInHub(stand_in.repos) as hub:
        study(out, hub_env(cache, hub.endpoint))
        res = codetune("fetch", SEED, env=hub_env(fetched, hub.endpoint))
        assert res.returncode == 0, res.stderr
        assert all(
            name in res.stdout
            for name in ("Qwen/Qwen2.5-Coder-1.5B-Instruct", DEEP_ID, DIVERSE_ID, "test5.jsonl")
        )
    served = len(hub.requests)

    for run, dataset in RUNS.items():
        rows = metrics(out, run)
        assert [r["step"] for r in rows] == [2, 4]
        assert all(math.isfinite(r[k]) for r in rows for k in ("train_loss", "val_loss", "test_loss"))
        ckpts = sorted(p.name for p in (out / "runs" / run / "checkpoints").iterdir())
        assert ckpts == ["checkpoint-step-2-epoch-0", "checkpoint-step-4-epoch-0"]
        assert all(re.fullmatch(r"checkpoint-step-\d+-epoch-\d+", c) for c in ckpts)
        shape = stand_in.datasets[dataset]
        prof = json.loads((out / "data" / run / "profile.json").read_text())
        assert (prof["rows"], prof["unique_problems"]) == (shape.rows, shape.problems)
        assert (
            prof["solutions_per_problem"]["min"]
            == prof["solutions_per_problem"]["max"]
            == shape.solutions_per_problem
        )
        assert prof["splits"] == shape.splits and prof["split_problems"] == shape.split_problems
        assert prof["duplicate_rows"] == 0 and prof["cross_split_problems"] == 0
        splits = ", ".join(f"{s} {n}" for s, n in shape.splits.items())
        sols = (
            f"{shape.solutions_per_problem} / {shape.solutions_per_problem} / {shape.solutions_per_problem}"
        )
        assert (
            f"| {run} | {dataset} | {shape.rows} | {shape.problems} | {sols} | {splits} |"
            in (out / "report.md").read_text()
        )

    scored = evaluated(out)
    assert len(scored) == 5  # the base model and two checkpoints of each run
    assert all(ids == stand_in.benchmark.seed_selection[:3] for ids in scored.values())
    summary = json.loads((out / "eval" / "base" / "summary.json").read_text())
    assert (
        summary["benchmark_provenance"]["revision"] == lcb.commit
        and len(summary["benchmark_provenance"]["files"]) == 5
    )
    assert summary["total"] == 3

    # The same command with the hub gone: from the first run's cache it completes (work done is kept) ...
    study(out, hub_env(cache, None))
    assert evaluated(out) == scored
    # ... and a fresh study from what `codetune fetch` downloaded redoes everything to the same numbers.
    again = tmp_path / "study-offline"
    study(again, hub_env(fetched, None))
    assert len(hub.requests) == served
    for run in RUNS:
        keys = ("step", "train_loss", "val_loss", "test_loss")
        assert [{k: r[k] for k in keys} for r in metrics(again, run)] == [
            {k: r[k] for k in keys} for r in metrics(out, run)
        ]
    assert evaluated(again) == {k: v for k, v in scored.items()}
    for folder in ("eval/base", "runs/deep_instruction/eval/checkpoint-step-4-epoch-0"):
        gens = [json.loads((o / folder / "generations.json").read_text()) for o in (out, again)]
        assert gens[0] == gens[1]
