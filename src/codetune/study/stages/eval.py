"""eval, per model: the base model and every checkpoint's adapter on the selected benchmark (codetune.bench):
its fingerprint holds the model, adapter files, benchmark problems and tests, prompts, decoding, extraction
and scoring rules, and limits.

Every pending evaluation goes through ONE loaded base model that carries every checkpoint's adapter, one model
at a time or all through one engine call (benchmark.generation.engine). Each model's own evaluation is
codetune.bench.evaluate, several at once codetune.bench.sweep; `codetune eval` (codetune.study.evaluate)
computes the same stages for the checkpoints it is given."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codetune import layout
from codetune.config import NOT_RESULT_KEYS
from codetune.errors import CodetuneError
from codetune.fingerprint import StageSpec
from codetune.study.stages.base import (
    Stage,
    StageKind,
    checkpoint_identity,
    computing,
    finish_computing,
    start_computing,
)
from codetune.study.stages.context import StudyContext

if TYPE_CHECKING:
    from codetune.bench.evaluate import EvalLabel


@dataclass
class EvalTarget:
    """One model to evaluate: the base model (checkpoint None) or a checkpoint's adapter on it."""

    label: EvalLabel
    out_dir: Path
    checkpoint: Path | None
    adapter: str | None  # the adapter's name on the shared base model
    system_prompt: str | None


def eval_targets(
    ctx: StudyContext,
    *,
    runs: list[str] | None = None,
    checkpoints: dict[str, list[Path]] | None = None,
    include_base: bool = True,
) -> list[EvalTarget]:
    """The base model (when asked) and each checkpoint of each run: every one on disk unless `checkpoints`
    names them per run."""
    from codetune.bench.evaluate import EvalLabel

    cfg = ctx.cfg
    targets = []
    if include_base:
        label = EvalLabel(layout.BASE_MODEL_NAME, None, layout.BASE_MODEL_NAME, None, None)
        targets.append(
            EvalTarget(label, layout.base_eval_dir(ctx.out), None, None, cfg.eval_system_prompt(None))
        )
    for run in runs if runs is not None else list(cfg.runs):
        rdir = layout.run_dir(ctx.out, run)
        chosen = checkpoints[run] if checkpoints is not None else layout.list_checkpoints(rdir)
        for ck in chosen:
            parsed = layout.parse_checkpoint_name(ck.name)
            assert parsed is not None, ck  # every checkpoint listed or chosen has a checkpoint's name
            step, epoch = parsed
            label = EvalLabel(f"{run}_{ck.name}", run, ck.name, step, epoch)
            targets.append(
                EvalTarget(
                    label,
                    layout.eval_dir(rdir, ck.name),
                    ck,
                    f"{run}__step{step}",
                    cfg.eval_system_prompt(run),
                )
            )
    return targets


def eval_stage(ctx: StudyContext, target: EvalTarget) -> Stage:
    """The eval stage of one model."""
    from codetune.bench.evaluate import bench_limits
    from codetune.bench.generate import GENERATION_VERSION
    from codetune.bench.prompts import LCB_COMMIT, PROMPT_VERSION
    from codetune.bench.scoring import SCORING_VERSION
    from codetune.sandbox import SANDBOX_VERSION, isolation_level

    cfg, run = ctx.cfg, target.label.run
    key = layout.BASE_MODEL_NAME if run is None else f"{run}/{target.label.checkpoint}"
    outputs = (layout.eval_summary_path(target.out_dir),)
    bench = ctx.benchmark_identity
    if bench is None:
        return Stage(EVAL, key, None, outputs, waiting="the hub benchmark is not read in a dry run")
    from codetune.bench.engine import resolved_engine_mode

    keys = ["model", "benchmark", "training.seed"] + ([f"runs.{run}.system_prompt"] if run else [])
    # The backend and the engine mode count as what they resolve to (inputs.resolved): `auto` and its
    # spelled-out value are the same evaluation; the settings as written are recorded with the speed settings.
    as_resolved = ["benchmark.generation.backend", "benchmark.generation.engine"]
    backend = ctx.resolved_backend
    spec = StageSpec(
        EVAL.name,
        key,
        config=cfg.subset(keys, exclude=NOT_RESULT_KEYS | {"benchmark.selection", *as_resolved}),
        speed=cfg.speed_subset(keys, also=as_resolved),
        inputs={
            "benchmark": bench,
            "model": ctx.model_identity,
            "resolved": ctx.resolved_model
            | {"backend": backend, "engine": resolved_engine_mode(cfg.benchmark.generation, backend)},
            "checkpoint": checkpoint_identity(target.checkpoint) if target.checkpoint else None,
            "system_prompt": target.system_prompt,
            "limits": bench_limits(cfg.benchmark).to_dict(),
            "isolation": isolation_level(),  # how answers were confined (CODETUNE_SANDBOX_WEAK=1 shows here)
            "versions": {
                "prompt": PROMPT_VERSION,
                "generation": GENERATION_VERSION,
                "scoring": SCORING_VERSION,
                "sandbox": SANDBOX_VERSION,
                "livecodebench": LCB_COMMIT,
            },
        },
    )
    return Stage(EVAL, key, spec, outputs, clean=(target.out_dir,), detail=target)


class EvalStage(StageKind):
    name = "eval"
    title = "evaluation"

    def plan(self, ctx: StudyContext, planned: Mapping[str, list[Stage]]) -> list[Stage]:
        """The base model and every checkpoint on disk; a run with no checkpoint yet is one stage to do."""
        stages = [eval_stage(ctx, t) for t in eval_targets(ctx)]
        for run in ctx.cfg.runs:
            if not layout.list_checkpoints(layout.run_dir(ctx.out, run)):
                stages.append(
                    Stage(self, f"{run}/*", None, waiting=f"after training: run {run} has no checkpoint yet")
                )
        return stages

    def compute(self, ctx: StudyContext, stages: list[Stage]) -> None:
        """The base model loaded once with every checkpoint's adapter, one sandbox pool for all scoring.
        `benchmark.generation.engine` (codetune.bench.engine.engine_mode) decides how: per_checkpoint
        evaluates one model after the other, one_engine sends every pending model's problems through one
        engine call (codetune.bench.sweep); both write the same files, and each stage's record is written
        started before its work and finished once its summary is there."""
        stages = [s for s in stages if s.spec is not None]
        if not stages:
            return
        cfg, bench = ctx.cfg, ctx.cfg.benchmark
        if ctx.resolved_backend == "vllm":
            from codetune.bench.vllm_backend import require_vllm

            require_vllm()  # fail before any work when vLLM or CUDA is missing
        from codetune.bench.engine import load_engine

        targets = [s.detail for s in stages]
        adapters = {t.adapter: t.checkpoint for t in targets if t.adapter is not None}
        engine = load_engine(
            cfg.model, bench.generation, adapters, max_lora_rank=cfg.lora.r, seed=cfg.training.seed
        )
        try:
            _evaluate_with(ctx, stages, targets, engine)
        finally:
            # vLLM's engine core and its worker hold a core and the KV cache's RAM until stopped: left to
            # interpreter exit they slowed the comparison and report after it and took ~2 min to exit.
            engine.close()


def _evaluate_with(ctx: StudyContext, stages: list[Stage], targets, engine) -> None:
    from codetune.bench.engine import describe_engine, engine_mode
    from codetune.bench.evaluate import EvalFolder, evaluate_model, say_rules
    from codetune.bench.sweep import evaluate_folders
    from codetune.sandbox import get_runner

    cfg, bench = ctx.cfg, ctx.cfg.benchmark
    if engine.backend != ctx.resolved_backend:  # the fingerprint names the resolved backend
        raise CodetuneError(f"backend {ctx.resolved_backend} resolved, but a {engine.backend} engine loaded")
    mode = engine_mode(bench.generation, engine)
    generated_by = describe_engine(engine, mode)
    provenance = ctx.benchmark.provenance()
    folders = [
        EvalFolder(
            t.out_dir,
            ctx.problems,
            bench=bench,
            system_prompt=t.system_prompt,
            label=t.label,
            base_model=cfg.model.source,
            provenance=provenance,
            seed=cfg.training.seed,
            generated_by=generated_by,
        )
        for t in targets
    ]
    say_rules(folders)
    with get_runner(workers=bench.workers) as runner:
        if mode == "per_checkpoint":
            for stage, target, folder in zip(stages, targets, folders, strict=True):
                with computing(ctx, stage):
                    evaluate_model(
                        engine.for_adapter(target.adapter), engine.tokenizer, folder, runner=runner
                    )
            return
        for stage in stages:
            start_computing(ctx, stage)
        jobs = [(t.adapter, f) for t, f in zip(targets, folders, strict=True)]
        evaluate_folders(
            engine, jobs, runner=runner, on_finished=lambda k, _: finish_computing(ctx, stages[k])
        )


EVAL = EvalStage()
