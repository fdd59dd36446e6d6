"""The best checkpoint of each run, from the study's own evaluation files; writes STUDY_DIR/selection.json.

Per run: the highest pass@1; ties broken by more problems solved on private tests (when the evaluation
recorded them), then the lower validation loss at that step, then the earlier step. The base model is a
reference row. With `benchmark.selection.method` random or date, pass@1 that picks the checkpoint is measured
on one part of the benchmark and the pass@1 reported is measured on the other part.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from codetune.errors import CodetuneError
from codetune.files import write_json_atomic
from codetune.study.layout import checkpoints_dir
from codetune.study.results import EvalResult, StudyResults, load_study
from codetune.study.stats import bootstrap_interval, selection_note, split_problems, wilson_interval

SELECTION_FILE = "selection.json"
TIE_BREAKS = ("pass@1", "private tests solved", "validation loss", "earlier step")


@dataclass
class ModelRow:
    """One model's benchmark result as the tables show it (fractions, not percents)."""

    model: str
    run: str | None
    checkpoint: str | None
    step: int | None
    pass1: float
    solved: int
    total: int
    wilson: tuple[float, float] | None
    bootstrap: tuple[float, float] | None
    n_samples: int = 1
    val_loss: float | None = None
    private_solved: int | None = None
    select_pass1: float | None = None  # pass@1 on the selection problems, when they differ from the reported
    eval_dir: str = ""
    checkpoint_dir: str | None = None
    wall_time_s: float | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["pass@1"] = d.pop("pass1")
        d["select_pass@1"] = d.pop("select_pass1")
        return d


@dataclass
class RunSelection:
    run: str
    best: ModelRow | None
    decided_by: str | None  # which tie-break picked the best ("pass@1" when it was unique)
    tied: list[str] = field(default_factory=list)  # other checkpoints with the best's selection pass@1
    rows: list[ModelRow] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


@dataclass
class Selection:
    method: str  # all | random | date
    select_ids: list[str] | None  # None: all problems
    report_ids: list[str] | None
    note: str
    base: ModelRow | None
    runs: dict[str, RunSelection]
    seed: int = 0
    gaps: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "seed": self.seed,
            "note": self.note,
            "select_problems": self.select_ids,
            "report_problems": self.report_ids,
            "base": self.base.to_dict() if self.base else None,
            "runs": {
                name: {
                    "best": r.best.to_dict() if r.best else None,
                    "decided_by": r.decided_by,
                    "tied_with": r.tied,
                    "missing": r.missing,
                    "checkpoints": [row.to_dict() for row in r.rows],
                }
                for name, r in self.runs.items()
            },
            "gaps": self.gaps,
        }


def model_row(
    e: EvalResult, ids: list[str] | None, *, seed: int = 0, select_ids: list[str] | None = None
) -> ModelRow:
    """A table row for `e` on problems `ids` (None: all), with its 95% intervals."""
    pass1, solved, total = e.on(ids)
    wilson = wilson_interval(solved, total) if total else None
    vals = [e.per_problem[q] for q in (ids if ids is not None else e.per_problem) if q in e.per_problem]
    boot = bootstrap_interval(vals, seed=seed) if vals else None
    ckpt_dir = None
    if e.run is not None and e.checkpoint is not None:
        ckpt_dir = str(checkpoints_dir(e.eval_dir.parent.parent) / e.checkpoint)
    return ModelRow(
        model=e.model,
        run=e.run,
        checkpoint=e.checkpoint,
        step=e.step,
        pass1=pass1,
        solved=solved,
        total=total,
        wilson=wilson,
        bootstrap=boot,
        n_samples=e.n_samples,
        val_loss=e.val_loss,
        private_solved=e.private_solved,
        select_pass1=e.on(select_ids)[0] if select_ids is not None else None,
        eval_dir=str(e.eval_dir),
        checkpoint_dir=ckpt_dir,
        wall_time_s=e.wall_time_s,
    )


def _rank_key(e: EvalResult, select_ids: list[str] | None, use_private: bool) -> tuple:
    # Rounded so that 12/41 computed two ways is one value, not two floats an ulp apart.
    return (
        -round(e.on(select_ids)[0], 9),
        -(e.private_solved or 0) if use_private else 0,
        e.val_loss if e.val_loss is not None and math.isfinite(e.val_loss) else math.inf,
        e.step if e.step is not None else math.inf,
    )


def best_checkpoint(
    evals: list[EvalResult], select_ids: list[str] | None = None
) -> tuple[EvalResult, str, list[EvalResult]]:
    """(best, the criterion that decided it, the other checkpoints tied on pass@1) among a run's evaluations."""
    if not evals:
        raise CodetuneError("no evaluated checkpoints to select from")
    use_private = all(e.private_solved is not None for e in evals)
    ranked = sorted(evals, key=lambda e: _rank_key(e, select_ids, use_private))
    best = ranked[0]
    key = _rank_key(best, select_ids, use_private)
    tied = [e for e in ranked[1:] if _rank_key(e, select_ids, use_private)[0] == key[0]]
    decided = TIE_BREAKS[0]
    if tied:
        # The first criterion on which the best differs from the closest runner-up decided.
        other = _rank_key(tied[0], select_ids, use_private)
        decided = next(TIE_BREAKS[i] for i in range(1, 4) if key[i] != other[i])
    return best, decided, tied


def _problem_split(study: StudyResults, method: str, fraction: float, seed: int) -> tuple[list, list]:
    evals = [e for r in study.runs.values() for e in r.evals] + ([study.base] if study.base else [])
    dates: dict[str, str | None] = {}
    for e in evals:
        for q in e.per_problem:
            if dates.get(q) is None:
                dates[q] = e.dates.get(q)
    if not dates:
        raise CodetuneError(
            f"benchmark.selection.method is {method!r} but no evaluation of {study.dir} has per-problem "
            "scores (scores.json) to split"
        )
    return split_problems(sorted(dates.items()), method=method, select_fraction=fraction, seed=seed)


def select_study(study_dir: str | Path, *, study: StudyResults | None = None, seed: int = 0) -> Selection:
    """Pick each run's best checkpoint from the study's files (nothing is re-generated)."""
    study = study or load_study(study_dir)
    method, fraction, split_seed = "all", 0.5, seed
    if study.config is not None:
        sel = study.config.benchmark.selection
        method, fraction, split_seed = sel.method, sel.select_fraction, sel.seed
    select_ids = report_ids = None
    gaps = list(study.gaps)
    if method != "all":
        try:
            select_ids, report_ids = _problem_split(study, method, fraction, split_seed)
        except CodetuneError as e:
            # Said, not hidden: the numbers below are then selected and reported on the same problems.
            gaps.append(f"selection split ({method}) not applied: {e}")
            method = "all"
    runs: dict[str, RunSelection] = {}
    n_ckpts = 0
    for name, state in study.runs.items():
        rows = [model_row(e, report_ids, seed=seed, select_ids=select_ids) for e in state.evals]
        if not state.evals:
            runs[name] = RunSelection(name, None, None, rows=rows, missing=state.gaps or ["no evaluations"])
            continue
        n_ckpts = max(n_ckpts, len(state.evals))
        best, decided, tied = best_checkpoint(state.evals, select_ids)
        best_row = next(r for r in rows if r.checkpoint == best.checkpoint)
        runs[name] = RunSelection(name, best_row, decided, [e.checkpoint for e in tied], rows, state.gaps)
    base = model_row(study.base, report_ids, seed=seed) if study.base else None
    if select_ids is None:
        n = max((r.total for s in runs.values() for r in s.rows), default=base.total if base else 0)
        note = selection_note(None, n, n, n_checkpoints=n_ckpts or None)
    else:
        note = selection_note(method, len(select_ids), len(report_ids), seed=split_seed)
    return Selection(method, select_ids, report_ids, note, base, runs, seed=split_seed, gaps=gaps)


def write_selection(study_dir: str | Path, selection: Selection) -> Path:
    path = Path(study_dir) / SELECTION_FILE
    write_json_atomic(path, selection.to_dict())
    return path


def pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def interval(ci: tuple[float, float] | list[float] | None) -> str:
    return "n/a" if ci is None else f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}%"


def print_selection(selection: Selection, console) -> None:
    """The seed's table per run (Model | Pass@1 | Solved), with 95% intervals and the base model on top."""
    from rich.table import Table

    split = selection.select_ids is not None
    for name, rs in selection.runs.items():
        if not rs.rows:
            console.print(
                f"run {name}: no evaluated checkpoints", markup=False, highlight=False, style="yellow"
            )
            for gap in rs.missing:
                console.print(f"missing: {gap}", markup=False, highlight=False, style="yellow")
            continue
        table = Table(title=f"run {name}", title_justify="left")
        table.add_column("", no_wrap=True)
        table.add_column("Model", overflow="fold")  # long names wrap instead of losing their step
        table.add_column("Pass@1", justify="right")
        table.add_column("Solved", justify="right")
        table.add_column("95% CI (Wilson)", justify="right")
        if split:
            table.add_column("Pass@1 (selection part)", justify="right")
        rows = ([selection.base] if selection.base else []) + rs.rows
        for row in rows:
            is_best = rs.best is not None and row is rs.best
            label = row.model + (" (reference)" if row.run is None else "")
            cells = [
                "best" if is_best else "",
                label,
                pct(row.pass1),
                f"{row.solved}/{row.total}",
                interval(row.wilson),
            ]
            if split:
                cells.append(pct(row.select_pass1) if row.run is not None else "")
            table.add_row(*cells, style="bold green" if is_best else ("dim" if row.run is None else None))
        console.print(table)
        if rs.best is not None:
            how = "" if rs.decided_by == "pass@1" else f" (tie on pass@1 broken by {rs.decided_by})"
            console.print(f"best of {name}: {rs.best.checkpoint}{how}", markup=False, highlight=False)
        for gap in rs.missing:
            console.print(f"missing: {gap}", markup=False, highlight=False, style="yellow")
    for gap in selection.gaps:
        console.print(f"missing: {gap}", markup=False, highlight=False, style="yellow")
    console.print(selection.note, markup=False, highlight=False)
