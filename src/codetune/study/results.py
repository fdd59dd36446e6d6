"""What a study folder holds, read from its files: runs, losses, checkpoints, evaluations, stage records, and
what is missing.

Nothing here is inferred: a run without its summary is "training incomplete", a checkpoint without an eval
summary is "not evaluated", and each such gap is listed in `RunState.gaps` so the report can say so. Every
file is read through its record (codetune.records); a file that does not parse is an error naming it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from codetune import layout
from codetune.errors import CodetuneError
from codetune.records import (
    EvalSummary,
    ImportRecord,
    MetricsRow,
    RunSummary,
    ScoreEntry,
    StageRecord,
    is_solved,
    read_list,
)
from codetune.train.summary import read_metrics, results_damage

if TYPE_CHECKING:
    from codetune.config import StudyConfig


@dataclass
class EvalResult:
    """One evaluated model (the base or a checkpoint) on the benchmark."""

    model: str  # seed-style label: "base" or "<run>_<checkpoint-name>"
    run: str | None
    checkpoint: str | None
    step: int | None
    eval_dir: Path
    summary: EvalSummary
    scores: list[ScoreEntry]
    val_loss: float | None = None
    checkpoint_dir: Path | None = None  # the checkpoint folder evaluated (None: the base model)

    @property
    def per_problem(self) -> dict[str, float]:
        """question_id -> that problem's pass@1 (empty without a scores file)."""
        return {s.question_id: s.pass_rate for s in self.scores}

    @property
    def dates(self) -> dict[str, str | None]:
        return {s.question_id: s.contest_date for s in self.scores}

    def private_on(self, ids: list[str] | None) -> int | None:
        """Problems solved on private tests (on a subset of problems); None when not recorded."""
        if ids is None:
            return self.summary.private_solved
        wanted = set(ids)
        vals = [s.private_solved for s in self.scores if s.question_id in wanted]
        known = [v for v in vals if v is not None]
        return sum(known) if vals and len(known) == len(vals) else None

    @property
    def pass1(self) -> float:
        return self.summary.pass_at_1

    @property
    def solved(self) -> int:
        return self.summary.solved

    @property
    def total(self) -> int:
        return self.summary.total

    @property
    def n_samples(self) -> int:
        return self.summary.n_samples

    @property
    def wall_time_s(self) -> float:
        return self.summary.wall_time_s

    def on(self, ids: list[str] | None) -> tuple[float, int, int]:
        """(pass@1, solved, total) on a subset of problems; the eval's own summary for all problems."""
        if ids is None:
            return self.pass1, self.solved, self.total
        per = self.per_problem
        vals = [per[q] for q in ids if q in per]
        if not vals:
            return 0.0, 0, 0
        return sum(vals) / len(vals), sum(map(is_solved, vals)), len(vals)


@dataclass
class RunState:
    name: str
    dir: Path
    exists: bool
    summary: RunSummary | None  # present only when training finished
    metrics: list[MetricsRow]
    checkpoints: list[str]  # complete checkpoint folders on disk, by step
    evals: list[EvalResult]  # complete evaluations, by step
    gaps: list[str] = field(default_factory=list)  # what is missing or partial, in words
    # Files training wrote that are no longer as it left them (train.summary.results_damage): its losses
    # are then no result (a truncated metrics file would give another minimum).
    damaged: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.summary is not None


@dataclass
class StudyResults:
    dir: Path
    config: StudyConfig | None  # when the folder's config loads
    config_text: str | None
    config_error: str | None
    runs: dict[str, RunState]
    base: EvalResult | None
    records: dict[tuple[str, str | None], StageRecord] = field(default_factory=dict)  # (stage, key) ->
    gaps: list[str] = field(default_factory=list)  # study-level gaps (base model, config)
    imported: ImportRecord | None = None  # a study imported from LiveCodeBench answers files


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def read_eval(
    eval_dir: Path, *, model: str, run: str | None = None, checkpoint: str | None = None
) -> EvalResult | None:
    """A complete evaluation (its summary present), or None."""
    summary = EvalSummary.complete_in(eval_dir)
    if summary is None:
        return None
    scores = read_list(ScoreEntry, layout.scores_path(eval_dir)) or []
    parsed = layout.parse_checkpoint_name(checkpoint) if checkpoint else None
    return EvalResult(
        model=model,
        run=run,
        checkpoint=checkpoint,
        step=parsed[0] if parsed else None,
        eval_dir=eval_dir,
        summary=summary,
        scores=scores,
    )


def load_config_text(study_dir: Path) -> tuple[StudyConfig | None, str | None, str | None]:
    """(StudyConfig or None, the YAML text or None, an error message or None) of the folder's config file."""
    from codetune.config import load_config

    path = layout.config_path(study_dir)
    if not path.is_file():
        return None, None, f"{path.name} is missing"
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return load_config(path), text, None
    except CodetuneError as e:
        return None, text, str(e)


def load_records(study_dir: Path) -> dict[tuple[str, str | None], StageRecord]:
    """Every stage record of the folder, by (stage, key)."""
    root = layout.stages_dir(study_dir)
    out: dict[tuple[str, str | None], StageRecord] = {}
    if root.is_dir():
        for path in sorted(root.rglob("*.json")):
            rec = StageRecord.read(path)
            if rec is not None:  # (removed since the listing)
                out[(rec.stage, rec.key)] = rec
    return out


def load_run(
    study_dir: Path, name: str, record: StageRecord | None = None, *, imported: bool = False
) -> RunState:
    """A run folder as it is; `record` (its train stage record) tells whether its losses are as training
    left them; `imported`: the study holds answers `codetune import` brought in (no training claimed)."""
    d = layout.run_dir(study_dir, name)
    if not d.is_dir():
        return RunState(name, d, False, None, [], [], [], gaps=[f"run {name}: not started (no folder {d})"])
    summary = RunSummary.read(layout.run_summary_path(d))
    gaps: list[str] = []
    metrics = read_metrics(layout.metrics_path(d))
    damaged = results_damage(study_dir, d, record, summary) if summary is not None else []
    if damaged:
        gaps.append(f"run {name}: {'; '.join(damaged)}: its losses are not shown")
        metrics = []
    ckpts = [p.name for p in layout.list_checkpoints(d)]
    val_by_step = {r.step: _finite(r.val_loss) for r in metrics}
    if imported:
        losses = (
            f"losses from the {layout.METRICS_FILE} given"
            if metrics
            else f"no losses (no {layout.METRICS_FILE} given)"
        )
        gaps.append(
            f"run {name}: answers imported from LiveCodeBench files, not trained by codetune; {losses}"
        )
    elif summary is None:
        last = f"the last logged step is {metrics[-1].step}" if metrics else "no losses were logged"
        gaps.append(
            f"run {name}: training incomplete (no {layout.RUN_SUMMARY_FILE}; {last}, {len(ckpts)} checkpoints saved)"
        )
    evals: list[EvalResult] = []
    eval_root = layout.evals_root(d)
    names = set(ckpts)
    if eval_root.is_dir():
        names |= {p.name for p in eval_root.iterdir() if p.is_dir() and layout.parse_checkpoint_name(p.name)}
    for ck in sorted(names, key=lambda n: layout.parse_checkpoint_name(n) or (0, 0)):
        folder = layout.eval_dir(d, ck)
        res = read_eval(folder, model=f"{name}_{ck}", run=name, checkpoint=ck)
        if res is not None and ck not in ckpts and not res.summary.imported:
            # Its checkpoint is gone: the evaluation is of a model the study no longer has, so it is no result.
            gaps.append(f"run {name}: {ck} was evaluated but its checkpoint is no longer on disk: left out")
            continue
        if res is None:
            state = "evaluation incomplete" if folder.is_dir() else "not evaluated"
            gaps.append(f"run {name}: {ck} {state}")
            continue
        res.val_loss = val_by_step.get(res.step) if res.step is not None else None
        res.checkpoint_dir = None if res.summary.imported else layout.checkpoints_dir(d) / ck
        evals.append(res)
    if not ckpts and not evals:
        gaps.append(f"run {name}: no checkpoints saved")
    return RunState(name, d, True, summary, metrics, ckpts, evals, gaps, damaged)


def load_study(study_dir: str | Path, *, cfg: StudyConfig | None = None) -> StudyResults:
    """The study folder's contents; `cfg` (a StudyConfig) stands for the folder's config file when given."""
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise CodetuneError(f"study folder {study_dir} does not exist")
    loaded, text, err = load_config_text(study_dir)
    if cfg is None:
        cfg = loaded
    gaps = [f"config: {err}"] if err and cfg is None else []
    names: list[str] = list(cfg.runs) if cfg is not None else []
    runs_root = layout.runs_dir(study_dir)
    if runs_root.is_dir():
        others = sorted(p.name for p in runs_root.iterdir() if p.is_dir() and p.name not in names)
        if cfg is None:
            names += others
        else:  # a run taken out of the config is out of the study's results, said once
            gaps += [f"run folder {layout.RUNS_DIR}/{n} is not a run of the config: left out" for n in others]
    if not names:
        raise CodetuneError(
            f"{study_dir}: no {layout.CONFIG_FILE} with runs and no {layout.RUNS_DIR}/ folder: not a study folder"
        )
    imported = ImportRecord.read(layout.import_record_path(study_dir))
    records = load_records(study_dir)
    runs = {
        n: load_run(study_dir, n, records.get(("train", n)), imported=imported is not None) for n in names
    }
    base = read_eval(layout.base_eval_dir(study_dir), model=layout.BASE_MODEL_NAME)
    if base is None:
        gaps.append(
            f"base model: not evaluated (no {layout.EVAL_DIR}/{layout.BASE_MODEL_NAME}/{layout.EVAL_SUMMARY_FILE})"
        )
    return StudyResults(study_dir, cfg, text, err, runs, base, records, gaps, imported)
