"""The whole study, stage by stage in the order of codetune.study.stages.KINDS: profile each run's data,
check it against the benchmark, train each run, evaluate the base model and every checkpoint, select,
compare the selected checkpoints, report.

Before any work, every run's training is checked against its stage record: a run trained with other settings
stops the study with one line naming the keys that differ (--overwrite-stale retrains it; another output_dir
keeps both). Then the config is written (the latest, and a dated copy of each distinct one: codetune.layout), and each kind's stages are planned from what is on disk: done ones are kept, the others are
computed (a stale output is deleted first). So re-running after an interruption continues where it stopped,
and after a config change recomputes exactly the stages whose settings or inputs changed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from codetune import layout
from codetune.config import StudyConfig
from codetune.errors import CodetuneError
from codetune.locks import check_study_folder, study_lock
from codetune.progress import console, say
from codetune.sandbox import check_isolation
from codetune.study.environment import write_environment
from codetune.study.evaluate import evaluate_stages
from codetune.study.stages import (
    KINDS,
    Stage,
    StudyContext,
    StudyStatus,
    check_own_config,
    computing,
    plan_report,
    plan_training,
    record_config,
    status,
    study_status,
)

OVERWRITE_STALE = "--overwrite-stale"


def compute_profiles(ctx: StudyContext, stages: list[Stage]) -> None:
    from codetune.data.profile import profile_dataset
    from codetune.models import load_tokenizer

    cfg = ctx.cfg
    tokenizer = load_tokenizer(cfg.model)
    for s in stages:
        run = cfg.runs[s.detail]
        with computing(ctx, s):
            prof = profile_dataset(
                run.dataset,
                base_dir=ctx.base_dir,
                tokenizer=tokenizer,
                max_length=cfg.training.max_seq_length,
                seed=cfg.training.seed,
                system_prompt=run.system_prompt,
            )
            path = prof.write(layout.profile_path(ctx.out, s.detail))
        say(f"{s.detail}: {prof.rows:,} rows, {prof.unique_problems:,} unique problems -> {path}")


def compute_overlaps(ctx: StudyContext, stages: list[Stage]) -> None:
    """Per run: benchmark problems whose statement has a near-duplicate in the run's data."""
    from codetune.data.overlap import dataset_overlaps

    bench = [(p.question_id, p.question_content) for p in ctx.problems]
    for s in stages:
        with computing(ctx, s):
            rep = dataset_overlaps(
                ctx.cfg.runs[s.detail].dataset, bench, ctx.base_dir, seed=ctx.cfg.training.seed
            )
            rep.write(layout.overlap_path(ctx.out, s.detail))
        say(f"{s.detail}: {rep.possibly_seen} of {len(bench)} benchmark problems possibly seen in training")


def compute_training(ctx: StudyContext, stages: list[Stage]) -> None:
    from codetune.train.run import train_run

    for s in stages:
        # A stale run reaches here only with --overwrite-stale (refuse_stale_training stopped the study else).
        stale = status(ctx, s).state == "stale"
        train_run(
            ctx.cfg,
            s.detail,
            resume=True,
            overwrite=stale,
            flag=OVERWRITE_STALE,
            spec=s.spec,
            config_file=ctx.config_file,
        )


def compute_selection(ctx: StudyContext, stages: list[Stage]) -> None:
    from codetune.study.select import select_study, write_selection

    (stage,) = stages
    with computing(ctx, stage):
        selection = select_study(ctx.out, cfg=ctx.cfg)
        write_selection(ctx.out, selection)
    for name, rs in selection.runs.items():
        if rs.best is not None:
            say(
                f"best of {name}: {rs.best.checkpoint}, pass@1 {rs.best.pass1:.1%} (decided by {rs.decided_by})"
            )
        else:
            say(f"run {name}: no evaluated checkpoint")
    say(selection.note)


def compute_compare(ctx: StudyContext, stages: list[Stage]) -> None:
    """The selected checkpoint of each run (and the base model) on the config's compare prompts."""
    from codetune.study.compare import run_compare, save_compare

    (stage,) = stages
    cfg = ctx.cfg
    with computing(ctx, stage):
        result = run_compare(
            stage.detail,
            list(cfg.compare.prompts),
            max_new_tokens=cfg.compare.max_new_tokens,
            include_base=True,
            system_prompt=cfg.shared_system_prompt(),
            model_cfg=cfg.model,
            batch_size=cfg.benchmark.generation.batch_size,
        )
        answers, _ = save_compare(result, layout.compare_dir(ctx.out))
    say(f"answers of {len(result.answers.models)} models -> {answers}")


def compute_report(ctx: StudyContext, stages: list[Stage]) -> None:
    from codetune.study.report import write_report

    (stage,) = stages
    with computing(ctx, stage):
        html, _ = write_report(ctx.out)
    say(f"report -> {html}")


COMPUTE: dict[str, Callable[[StudyContext, list[Stage]], None]] = {
    "profile": compute_profiles,
    "overlap": compute_overlaps,
    "train": compute_training,
    "eval": evaluate_stages,
    "selection": compute_selection,
    "compare": compute_compare,
    "report": compute_report,
}


def stale_training_message(stale: list[tuple[Stage, object]]) -> str:
    from codetune.train.run import damaged_run_message

    # A run whose checkpoints are gone or changed says so in its own words.
    damaged = [
        st.why
        for s, st in stale
        if st.why == damaged_run_message(s.key, list(st.differences), OVERWRITE_STALE)
    ]
    if damaged:
        return "; ".join(damaged)
    runs = "; ".join(f"run {s.key}: {st.why}" for s, st in stale)
    return (
        f"training in this output_dir was done with a different config ({runs}); pass {OVERWRITE_STALE} to "
        "retrain (its checkpoints and evaluations are deleted), or set another output_dir (nothing deleted)"
    )


def refuse_stale_training(ctx: StudyContext) -> None:
    """Stop before any work when a run folder holds training from other settings (unless --overwrite-stale)."""
    stale = [(s, st) for s in plan_training(ctx, {}) if (st := status(ctx, s)).state == "stale"]
    if stale and not ctx.overwrite_stale:
        raise CodetuneError(stale_training_message(stale))


def run_study(cfg: StudyConfig, *, overwrite_stale: bool = False) -> tuple[Path, Path]:
    """Run every stage that is not done; returns the report's (HTML, Markdown) paths.

    The study folder is locked throughout: a second study or eval of the same folder is refused."""
    with study_lock(cfg.output_path):
        return _run_study(cfg, overwrite_stale=overwrite_stale)


def _run_study(cfg: StudyConfig, *, overwrite_stale: bool) -> tuple[Path, Path]:
    check_own_config(cfg)  # before any work: the user's config file is never overwritten
    check_isolation()  # before training: a study that cannot score its answers stops now, in one line
    ctx = StudyContext(cfg, overwrite_stale=overwrite_stale)
    refuse_stale_training(ctx)
    ctx.out.mkdir(parents=True, exist_ok=True)
    ctx.config_file = record_config(ctx)
    write_environment(ctx.out)
    planned: dict[str, list[Stage]] = {}
    try:
        for i, kind in enumerate(KINDS):
            console.rule(f"[bold]{i + 1}/{len(KINDS)} {kind.title}[/bold]")
            planned[kind.kind] = stages = kind.plan(ctx, planned)
            pending = []
            for s in stages:
                st = status(ctx, s)
                if st.state == "done":
                    say(f"{s.label}: done, kept")
                elif s.spec is None:
                    say(f"{s.label}: not run ({s.waiting})")
                else:
                    say(f"{s.label}: {st}")
                    pending.append(s)
            if pending:
                COMPUTE[kind.kind](ctx, pending)
    except CodetuneError:
        # A report of what exists (and what is missing) is still worth having; then the error is shown.
        if "report" not in planned and (
            layout.base_eval_dir(ctx.out).is_dir() or layout.runs_dir(ctx.out).is_dir()
        ):
            try:
                compute_report(ctx, plan_report(ctx, planned))
            except CodetuneError as e:
                say(f"(no partial report: {e})")
        raise
    return layout.report_html_path(ctx.out), layout.report_md_path(ctx.out)


def dry_run_status(cfg: StudyConfig) -> StudyStatus | None:
    """Every stage's status in an existing study folder, computing nothing and reading no network; None when
    the output folder holds no study yet; CodetuneError where it holds someone else's files (the study would
    refuse it)."""
    check_study_folder(cfg.output_path)
    check_own_config(cfg)
    if not layout.holds_study(cfg.output_path):
        return None
    return study_status(StudyContext(cfg, dry_run=True))


def demo_config_path() -> Path:
    """configs/demo.yaml of the codetune checkout (the package is installed from it)."""
    import codetune

    path = Path(codetune.__file__).resolve().parents[2] / "configs" / "demo.yaml"
    if not path.is_file():
        raise CodetuneError(f"the demo config is not at {path}: run codetune demo from a codetune checkout")
    return path
