"""Evaluating a study's models: which checkpoints (all, best, or steps), and every pending evaluation through
ONE loaded base model that carries every checkpoint's adapter, one model at a time or all through one engine
call (benchmark.generation.engine). Each model's own evaluation is codetune.bench.evaluate, several at once
codetune.bench.sweep; whether it is done or stale is its stage's (codetune.study.stages)."""

from __future__ import annotations

from pathlib import Path

from codetune import layout
from codetune.config import StudyConfig
from codetune.errors import CodetuneError
from codetune.locks import study_lock
from codetune.progress import say
from codetune.records import EvalSummary
from codetune.sandbox import check_isolation
from codetune.study.stages import (
    Stage,
    StudyContext,
    computing,
    eval_stage,
    eval_targets,
    finish_computing,
    record_config,
    start_computing,
    status,
)


def choose_checkpoints(cfg: StudyConfig, run: str, spec: str) -> list[Path]:
    """`all`, `best` (the run's best evaluated checkpoint by the selection rule), or comma-separated steps
    (`220,240`) -> checkpoint folders of the run."""
    ckpts = layout.list_checkpoints(layout.run_dir(cfg.output_path, run))
    if not ckpts:
        return []
    spec = spec.strip()
    if spec == "all":
        return ckpts
    if spec == "best":
        from codetune.study.select import select_study

        best = select_study(cfg.output_path, cfg=cfg).runs[run].best
        if best is None:
            raise CodetuneError(
                f"run {run}: --checkpoints best needs evaluated checkpoints; evaluate with --checkpoints all first"
            )
        return [p for p in ckpts if p.name == best.checkpoint]
    by_step = {layout.parse_checkpoint_name(p.name)[0]: p for p in ckpts}
    chosen = []
    for part in spec.split(","):
        part = part.strip()
        if not part.isdigit():
            raise CodetuneError(f"--checkpoints: expected all, best or comma-separated steps, got {part!r}")
        if int(part) not in by_step:
            raise CodetuneError(
                f"run {run}: no checkpoint at step {part}; steps saved: {', '.join(map(str, sorted(by_step)))}"
            )
        chosen.append(by_step[int(part)])
    return chosen


def evaluate_stages(ctx: StudyContext, stages: list[Stage]) -> None:
    """Compute the given eval stages: the base model loaded once with every checkpoint's adapter, one sandbox
    pool for all scoring. `benchmark.generation.engine` (codetune.bench.engine.engine_mode) decides how:
    per_checkpoint evaluates one model after the other, one_engine sends every pending model's problems
    through one engine call (codetune.bench.sweep); both write the same files, and each stage's record is
    written started before its work and finished once its summary is there."""
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


def evaluate_study(
    cfg: StudyConfig, *, run: str | None = None, checkpoints: str = "all", include_base: bool = False
) -> list[EvalSummary]:
    """`codetune eval`: evaluate the chosen checkpoints (and the base model) of a study; returns their
    summaries. Evaluations done with the same fingerprint are kept without loading a model; stale ones are
    redone. The study folder is locked throughout (a second eval or study of it is refused)."""
    with study_lock(cfg.output_path):
        return _evaluate_study(cfg, run=run, checkpoints=checkpoints, include_base=include_base)


def _evaluate_study(
    cfg: StudyConfig, *, run: str | None, checkpoints: str, include_base: bool
) -> list[EvalSummary]:
    check_isolation()
    runs = [run] if run else list(cfg.runs)
    for r in runs:
        cfg.run(r)  # unknown run: error naming the runs
    ctx = StudyContext(cfg)
    # The config these evaluations run with (overrides included) becomes the study's config.yaml, with its
    # dated copy that each record names, as `codetune study` does: the report then compares against it.
    ctx.out.mkdir(parents=True, exist_ok=True)
    ctx.config_file = record_config(ctx)
    chosen: dict[str, list[Path]] = {}
    for r in runs:
        chosen[r] = choose_checkpoints(cfg, r, checkpoints)
        if not chosen[r]:
            msg = f"run {r}: no checkpoints in {layout.checkpoints_dir(layout.run_dir(cfg.output_path, r))}"
            if run:
                raise CodetuneError(msg + "; train it first")
            say(msg + ", skipped")
    targets = eval_targets(ctx, runs=runs, checkpoints=chosen, include_base=include_base)
    if not targets:
        raise CodetuneError("nothing to evaluate: no checkpoints found and --include-base not given")
    stages = [eval_stage(ctx, t) for t in targets]
    pending = []
    for s in stages:
        st = status(ctx, s)
        if st.state == "done":
            summary = EvalSummary.complete_in(s.detail.out_dir)
            say(f"{s.detail.label.model}: already evaluated (pass@1 {summary.pass_at_1:.1%}), skipped")
        else:
            if st.state == "stale":
                say(f"{s.detail.label.model}: evaluated with other settings ({st.why}); evaluating afresh")
            pending.append(s)
    evaluate_stages(ctx, pending)
    return [EvalSummary.complete_in(s.detail.out_dir) for s in stages]
