"""`codetune eval`: a study's chosen checkpoints (all, best, or steps) and the base model, each evaluated as
its eval stage (codetune.study.stages.eval: how, and whether it is done or stale)."""

from __future__ import annotations

from pathlib import Path

from codetune import layout
from codetune.config import StudyConfig
from codetune.errors import CodetuneError
from codetune.locks import study_lock
from codetune.progress import say
from codetune.records import EvalSummary
from codetune.sandbox import check_isolation
from codetune.study.stages.base import Stage
from codetune.study.stages.context import StudyContext, record_config
from codetune.study.stages.eval import EVAL, eval_stage, eval_targets


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
    by_step = {parsed[0]: p for p in ckpts if (parsed := layout.parse_checkpoint_name(p.name))}
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
        st = s.status(ctx)
        if st.state == "done":
            summary = _summary(s)
            say(f"{s.detail.label.model}: already evaluated (pass@1 {summary.pass_at_1:.1%}), skipped")
        else:
            if st.state == "stale":
                say(f"{s.detail.label.model}: evaluated with other settings ({st.why}); evaluating afresh")
            pending.append(s)
    EVAL.compute(ctx, pending)
    return [_summary(s) for s in stages]


def _summary(stage: Stage) -> EvalSummary:
    """The summary of an evaluation done (kept or just computed)."""
    summary = EvalSummary.complete_in(stage.detail.out_dir)
    if summary is None:
        raise CodetuneError(f"{stage.label}: no complete evaluation in {stage.detail.out_dir}")
    return summary
