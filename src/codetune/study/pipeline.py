"""The whole study, stage by stage in the order of codetune.study.stages.STAGES: profile each run's data,
check it against the benchmark, train each run, evaluate the base model and every checkpoint, select,
compare the selected checkpoints, report. What each stage does is its kind's (a module of
codetune.study.stages); this is the loop that runs them.

Before any work, every run's training is checked against its stage record: a run trained with other settings
stops the study with one line naming the keys that differ (--overwrite-stale retrains it; another output_dir
keeps both). Then the config is written (the latest, and a dated copy of each distinct one: codetune.layout),
and each kind's stages are planned from what is on disk: done ones are kept, the others are computed (a stale
output is deleted first). So re-running after an interruption continues where it stopped, and after a config
change recomputes exactly the stages whose settings or inputs changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from codetune import layout
from codetune.config import StudyConfig
from codetune.errors import CodetuneError
from codetune.fingerprint import StageStatus
from codetune.locks import check_study_folder, study_lock
from codetune.progress import console, say
from codetune.sandbox import check_isolation
from codetune.study.environment import write_environment
from codetune.study.stages import STAGES
from codetune.study.stages.base import Stage
from codetune.study.stages.context import StudyContext, check_own_config, record_config
from codetune.study.stages.report import REPORT
from codetune.study.stages.train import OVERWRITE_STALE, TRAIN


def stale_training_message(stale: list[tuple[Stage, StageStatus]]) -> str:
    from codetune.train.run import damaged_run_message

    # A run whose checkpoints are gone or changed says so in its own words.
    damaged = [
        st.why
        for s, st in stale
        if st.why == damaged_run_message(str(s.key), list(st.differences), OVERWRITE_STALE)
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
    stale = [(s, st) for s in TRAIN.plan(ctx, {}) if (st := s.status(ctx)).state == "stale"]
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
        for i, kind in enumerate(STAGES):
            console.rule(f"[bold]{i + 1}/{len(STAGES)} {kind.title}[/bold]")
            planned[kind.name] = stages = kind.plan(ctx, planned)
            pending = []
            for s in stages:
                st = s.status(ctx)
                if st.state == "done":
                    say(f"{s.label}: done, kept")
                elif s.spec is None:
                    say(f"{s.label}: not run ({s.waiting})")
                else:
                    say(f"{s.label}: {st}")
                    pending.append(s)
            if pending:
                kind.compute(ctx, pending)
    except CodetuneError:
        # A report of what exists (and what is missing) is still worth having; then the error is shown.
        if REPORT.name not in planned and (
            layout.base_eval_dir(ctx.out).is_dir() or layout.runs_dir(ctx.out).is_dir()
        ):
            try:
                REPORT.compute(ctx, REPORT.plan(ctx, planned))
            except CodetuneError as e:
                say(f"(no partial report: {e})")
        raise
    return layout.report_html_path(ctx.out), layout.report_md_path(ctx.out)


@dataclass
class StudyStatus:
    """Every stage of a study with its status: what `codetune study --dry-run` prints."""

    stages: list[tuple[Stage, StageStatus]] = field(default_factory=list)

    def stale_training(self) -> list[tuple[Stage, StageStatus]]:
        return [(s, st) for s, st in self.stages if s.kind is TRAIN and st.state == "stale"]


def study_status(ctx: StudyContext) -> StudyStatus:
    """Plan every stage from what is on disk, computing nothing."""
    planned: dict[str, list[Stage]] = {}
    result = StudyStatus()
    for kind in STAGES:
        planned[kind.name] = kind.plan(ctx, planned)
        result.stages += [(s, s.status(ctx)) for s in planned[kind.name]]
    return result


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
