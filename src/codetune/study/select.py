"""The best checkpoint of each run, from the study's own evaluation files; written to the study folder (records.Selection).

Per run: the highest pass@1; ties broken by more problems solved on private tests (when the evaluation
recorded them), then the lower validation loss at that step, then the earlier step. The base model is a
reference row. With `benchmark.selection.method` random or date, pass@1 that picks the checkpoint is measured
on one part of the benchmark and the pass@1 reported is measured on the other part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from codetune import layout
from codetune.config import StudyConfig
from codetune.errors import CodetuneError
from codetune.records import TIE_BREAKS, ModelRow, RunSelection, Selection, checkpoint_rank
from codetune.study.results import EvalResult, StudyResults, load_study
from codetune.study.stats import bootstrap_interval, selection_note, split_problems, wilson_interval

SELECTION_VERSION = 1  # bump when the selection rule changes, so studies select again


def model_row(
    e: EvalResult, ids: list[str] | None, *, seed: int = 0, select_ids: list[str] | None = None
) -> ModelRow:
    """A table row for `e` on problems `ids` (None: all), with its 95% intervals."""
    pass1, solved, total = e.on(ids)
    wilson = wilson_interval(solved, total) if total else None
    vals = [e.per_problem[q] for q in (ids if ids is not None else e.per_problem) if q in e.per_problem]
    boot = bootstrap_interval(vals, seed=seed) if vals else None
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
        private_solved=e.private_on(ids),
        select_pass1=e.on(select_ids)[0] if select_ids is not None else None,
        eval_dir=str(e.eval_dir),
        checkpoint_dir=str(e.checkpoint_dir) if e.checkpoint_dir else None,
        wall_time_s=e.wall_time_s,
    )


def _rank_key(e: EvalResult, select_ids: list[str] | None, use_private: bool) -> tuple:
    return checkpoint_rank(
        e.on(select_ids)[0], e.private_on(select_ids), e.val_loss, e.step, use_private=use_private
    )


def best_checkpoint(
    evals: list[EvalResult], select_ids: list[str] | None = None
) -> tuple[EvalResult, str, list[EvalResult]]:
    """(best, the criterion that decided it, the other checkpoints tied on pass@1) among a run's evaluations."""
    if not evals:
        raise CodetuneError("no evaluated checkpoints to select from")
    use_private = all(e.private_on(select_ids) is not None for e in evals)
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


def _problem_split(
    study: StudyResults, method: Literal["random", "date"], fraction: float, seed: int
) -> tuple[list, list]:
    evals = [e for r in study.runs.values() for e in r.evals] + ([study.base] if study.base else [])
    dates: dict[str, str | None] = {}
    for e in evals:
        for q in e.per_problem:
            if dates.get(q) is None:
                dates[q] = e.dates.get(q)
    if not dates:
        raise CodetuneError(
            f"benchmark.selection.method is {method!r} but no evaluation of {study.dir} has per-problem "
            f"scores ({layout.SCORES_FILE}) to split"
        )
    return split_problems(sorted(dates.items()), method=method, select_fraction=fraction, seed=seed)


def select_study(
    study_dir: str | Path, *, study: StudyResults | None = None, seed: int = 0, cfg: StudyConfig | None = None
) -> Selection:
    """Pick each run's best checkpoint from the study's files (nothing is re-generated); `cfg` (a
    StudyConfig) gives the selection settings instead of the folder's config file."""
    study = study or load_study(study_dir, cfg=cfg)
    method: Literal["all", "random", "date"] = "all"
    fraction, split_seed = 0.5, seed
    if study.config is not None:
        sel = study.config.benchmark.selection
        method, fraction, split_seed = sel.method, sel.select_fraction, sel.seed
    select_ids: list[str] | None = None
    report_ids: list[str] | None = None
    split_by: Literal["random", "date"] | None = None  # the split applied, if any
    gaps = list(study.gaps)
    if method != "all":
        try:
            select_ids, report_ids = _problem_split(study, method, fraction, split_seed)
            split_by = method
        except CodetuneError as e:
            # Said, not hidden: the numbers below are then selected and reported on the same problems.
            gaps.append(f"selection split ({method}) not applied: {e}")
            method = "all"
    runs: dict[str, RunSelection] = {}
    n_ckpts = 0
    for name, state in study.runs.items():
        rows = [model_row(e, report_ids, seed=seed, select_ids=select_ids) for e in state.evals]
        if not state.evals:
            runs[name] = RunSelection(
                run=name, best=None, decided_by=None, rows=rows, missing=state.gaps or ["no evaluations"]
            )
            continue
        n_ckpts = max(n_ckpts, len(state.evals))
        best, decided, tied = best_checkpoint(state.evals, select_ids)
        best_row = next(r for r in rows if r.checkpoint == best.checkpoint)
        runs[name] = RunSelection(
            run=name,
            best=best_row,
            decided_by=decided,
            tied=[e.checkpoint for e in tied],
            rows=rows,
            missing=state.gaps,
        )
    base = model_row(study.base, report_ids, seed=seed) if study.base else None
    if split_by is None or select_ids is None or report_ids is None:
        n = max((r.total for s in runs.values() for r in s.rows), default=base.total if base else 0)
        note = selection_note(None, n, n, n_checkpoints=n_ckpts or None)
    else:
        note = selection_note(split_by, len(select_ids), len(report_ids), seed=split_seed)
    return Selection(
        method=method,
        seed=split_seed,
        note=note,
        select_ids=select_ids,
        report_ids=report_ids,
        base=base,
        runs=runs,
        gaps=gaps,
    )


def write_selection(study_dir: str | Path, selection: Selection) -> Path:
    return selection.write(layout.selection_path(Path(study_dir)))


def pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def interval(ci: tuple[float, float] | list[float] | None) -> str:
    return "n/a" if ci is None else f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}%"
