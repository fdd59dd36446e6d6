"""What the report may show, read through the study's records (issue 20, item 3).

Results come from the selection record (selection.json) and the evaluations it names, each found by name in
this folder. An evaluation is shown only while it is what the selection was made from: its run is in the
config, its checkpoint folder is still there, its summary still gives the numbers the selection recorded, and
(where stage records exist) its record's fingerprint is the one the selection's record chained on. Anything
else on disk (an evaluation of a deleted checkpoint, of a run no longer in the config, one made after the
selection) is listed as not shown, never reported as a result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations
from pathlib import Path

from codetune import layout
from codetune.fingerprint import (
    changed_content,
    config_disagreement,
    content_digest,
    settings_as_run,
    stage_label,
)
from codetune.records import ModelRow, RunSelection, ScoreEntry, Selection, StageRecord
from codetune.study.results import EvalResult, StudyResults, load_study, read_eval
from codetune.study.stages import STAGES
from codetune.study.stats import PairedComparison, paired_comparison


@dataclass
class Model:
    """One model whose results the report shows: its row in the selection record and the evaluation it was
    computed from."""

    key: str  # the eval stage's key: "base" or "<run>/<checkpoint>"
    row: ModelRow
    eval: EvalResult
    selected: bool = False

    @property
    def run(self) -> str | None:
        return self.row.run

    @property
    def step(self) -> int | None:
        return self.row.step

    @property
    def label(self) -> str:
        return "base" if self.run is None else f"{self.run} step {self.step}"

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.key.lower()).strip("-")

    def scores(self, ids: set[str] | None) -> dict[str, ScoreEntry]:
        return {s.question_id: s for s in self.eval.scores if ids is None or s.question_id in ids}


def _natural(s: str) -> tuple:
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", s) if t)


def _same_numbers(row: ModelRow, e: EvalResult, ids: list[str] | None) -> bool:
    pass1, solved, total = e.on(ids)
    return (round(pass1, 9), solved, total) == (round(row.pass1, 9), row.solved, row.total)


class ReportInputs:
    """The study folder as the report reads it: results through the selection and stage records."""

    def __init__(self, study_dir: str | Path, *, seed: int = 0):
        self.dir = Path(study_dir)
        self.seed = seed
        self.study: StudyResults = load_study(self.dir)
        self.cfg = self.study.config
        self.sel: Selection | None = Selection.read(layout.selection_path(self.dir))
        self.warnings: list[str] = []  # stated at the top of the report
        self.not_shown: list[str] = []  # evaluations on disk the report does not show, and why (appendix)
        self.base: Model | None = None
        self.runs: dict[str, list[Model]] = {}  # by step
        self.best: dict[str, Model] = {}
        self._resolve()
        self._check_chain()
        self._flag_unselected()
        for name, state in self.study.runs.items():
            if state.damaged:
                self.warnings.append(
                    f"Run {name}: its losses are not shown, {'; '.join(state.damaged)} (not what training wrote)."
                )

    # -- which evaluations are results

    @property
    def report_ids(self) -> list[str] | None:
        return self.sel.report_ids if self.sel else None

    def _resolve(self) -> None:
        if self.sel is None:
            self.warnings.append(
                f"No selection record ({layout.SELECTION_FILE}): no result is reported until the selection "
                "stage has run (codetune study, or codetune select on this folder)."
            )
            return
        if self.sel.base is not None:
            self._resolve_base(self.sel.base)
        config_runs = set(self.cfg.runs) if self.cfg is not None else None
        for name, rs in self.sel.runs.items():
            if config_runs is not None and name not in config_runs:
                self.not_shown.append(
                    f"run {name}: in the selection record but no longer in {layout.CONFIG_FILE}; its "
                    f"{len(rs.rows)} evaluations are not shown"
                )
                continue
            shown = [m for row in rs.rows if (m := self._resolve_checkpoint(name, rs, row)) is not None]
            shown.sort(key=lambda m: (m.step is None, m.step or 0))
            self.runs[name] = shown
            best = next((m for m in shown if m.selected), None)
            if best is not None:
                self.best[name] = best

    def _resolve_base(self, row: ModelRow) -> None:
        e = self.study.base
        if e is None:
            self.not_shown.append("base: in the selection record, but its evaluation is no longer on disk")
        elif why := self._edited(layout.BASE_MODEL_NAME):
            self.warnings.append(f"The base model is not reported: {why}.")
            self.not_shown.append(f"base: not shown, {why}")
        elif not _same_numbers(row, e, self.report_ids):
            self.warnings.append(self._changed("base"))
            self.not_shown.append("base: not shown, its evaluation changed after the selection was made")
        elif why := self._redone(layout.BASE_MODEL_NAME):
            self.warnings.append(f"The base model is not reported: {why}.")
            self.not_shown.append(f"base: not shown, {why}")
        else:
            self.base = Model(layout.BASE_MODEL_NAME, row, e)

    def _resolve_checkpoint(self, name: str, rs: RunSelection, row: ModelRow) -> Model | None:
        """The checkpoint's evaluation as a result, or None (and why, in not_shown and, for the selected
        checkpoint, in the warnings)."""
        rdir = layout.run_dir(self.dir, name)
        checkpoint = row.checkpoint
        assert checkpoint is not None  # a run's rows are its checkpoints (only the base model's row has none)
        key = layout.eval_key(name, checkpoint)
        selected = rs.best is not None and checkpoint == rs.best.checkpoint
        e = read_eval(layout.eval_dir(rdir, checkpoint), model=row.model, run=name, checkpoint=checkpoint)
        why = None
        imported = e is not None and e.summary.imported  # answers from a file: no checkpoint to check
        if not imported and not (layout.checkpoints_dir(rdir) / checkpoint).is_dir():
            why = "its checkpoint folder was deleted"
        elif e is None:
            why = "its evaluation is no longer complete on disk"
        elif why := self._edited(key):
            pass
        elif not _same_numbers(row, e, self.report_ids):
            why = "its evaluation changed after the selection was made"
            self.warnings.append(self._changed(key))
        else:
            why = self._redone(key)
        if why is None and e is not None:  # (e is None always has a why)
            e.val_loss = row.val_loss
            return Model(key, row, e, selected=selected)
        self.not_shown.append(f"{key}: not shown, {why}")
        if selected:
            self.warnings.append(
                f"Run {name}: its selected checkpoint {row.checkpoint} is not reported ({why}); "
                "run the study again so that selection is redone from what is there."
            )
        return None

    def _changed(self, key: str) -> str:
        return (
            f"The evaluation {key} no longer gives the numbers the selection recorded: it was redone after "
            "the selection; run the study again so that selection and this report follow it."
        )

    def _edited(self, key: str) -> str | None:
        """Which files of the evaluation `key` changed after its stage finished (by the hashes its record
        holds), in words, or None."""
        ev = self.study.records.get(("eval", key))
        if ev is not None and ev.finished and (changed := changed_content(self.dir, ev)):
            return f"{', '.join(changed)} changed after its evaluation finished"
        return None

    def _redone(self, key: str) -> str | None:
        """Why the evaluation `key` is not the one the selection's stage record chained on, or None (it is,
        or the folder keeps no records to tell): its files changed since its own stage finished, it was
        redone under other settings, or its files are not the ones the selection read."""
        if why := self._edited(key):
            return why
        ev = self.study.records.get(("eval", key))
        sel = self.study.records.get(("selection", None))
        chained = (sel.inputs.get("evals") or {}).get(stage_label("eval", key)) if sel is not None else None
        if ev is None or not isinstance(chained, dict):
            return None
        if chained.get("fingerprint") != ev.fingerprint:
            return (
                f"its evaluation was redone under other settings after the selection was made (fingerprint "
                f"{ev.fingerprint[:12]}, the selection used {str(chained.get('fingerprint'))[:12]})"
            )
        if chained.get("content") != content_digest(self.dir, "eval", key):
            return "its files are not the ones the selection was made from (redone or edited after it)"
        return None

    def _check_chain(self) -> None:
        """Where stage records exist: the selection has its own, finished."""
        rec = self.study.records.get(("selection", None))
        if rec is None:
            if self.study.records and self.sel is not None:
                self.warnings.append(
                    f"{layout.SELECTION_FILE} has no stage record: which evaluations it was made from is not "
                    "recorded."
                )
            return
        if not rec.finished:
            self.warnings.append("The selection stage did not finish: its record is incomplete.")

    def _flag_unselected(self) -> None:
        shown = {m.key for m in self.models}
        named = set()
        if self.sel is not None:
            named = {layout.eval_key(n, r.checkpoint) for n, rs in self.sel.runs.items() for r in rs.rows}
        config_runs = set(self.cfg.runs) if self.cfg is not None else None
        for name, state in self.study.runs.items():
            for e in state.evals:
                key = layout.eval_key(name, e.checkpoint)
                if key in shown or key in named:
                    continue  # shown, or already said why not
                if config_runs is not None and name not in config_runs:
                    why = f"run {name} is not in {layout.CONFIG_FILE}"
                else:
                    why = "not in the selection record (evaluated after it, or never selected from)"
                self.not_shown.append(f"{key}: not shown, {why}")

    # -- what the sections share

    @property
    def models(self) -> list[Model]:
        """The base model and every shown checkpoint, run by run, by step."""
        return ([self.base] if self.base else []) + [m for ms in self.runs.values() for m in ms]

    @property
    def selected(self) -> list[Model]:
        return ([self.base] if self.base else []) + list(self.best.values())

    @cached_property
    def problems(self) -> dict[str, ScoreEntry]:
        """question_id -> the problem's fields (title, difficulty, contest), from the shown scores, ordered by
        contest date then id."""
        ids = set(self.report_ids) if self.report_ids is not None else None
        out: dict[str, ScoreEntry] = {}
        for m in self.models:
            for q, s in m.scores(None).items():
                out.setdefault(q, s)
        # Contest order: by date, then by id with digit runs as numbers (abc99_a before abc100_a).
        order = sorted(out, key=lambda q: (out[q].contest_date or "~", *_natural(q)))
        return {q: out[q] for q in order if ids is None or q in ids}

    def paired(self, a: Model, b: Model) -> PairedComparison | None:
        """a against b on the reported problems both were scored on (None without per-problem scores)."""
        cache = self.__dict__.setdefault("_paired", {})
        if (a.key, b.key) not in cache:
            ids = set(self.report_ids) if self.report_ids is not None else None
            pa = {q: v for q, v in a.eval.per_problem.items() if ids is None or q in ids}
            pb = {q: v for q, v in b.eval.per_problem.items() if ids is None or q in ids}
            cache[(a.key, b.key)] = (
                paired_comparison(pa, pb, seed=self.seed, name_a=self.name(a), name_b=self.name(b))
                if set(pa) & set(pb)
                else None
            )
        return cache[(a.key, b.key)]

    def name(self, m: Model) -> str:
        return "base" if m.run is None else f"{m.run} best"

    def paired_all(self) -> list[PairedComparison]:
        """Runs' selected checkpoints against each other, then each against the base model."""
        bests = list(self.best.values())
        pairs = list(combinations(bests, 2)) + ([(b, self.base) for b in bests] if self.base else [])
        return [pc for a, b in pairs if (pc := self.paired(a, b)) is not None]

    # -- provenance

    @cached_property
    def record_rows(self) -> list[tuple[StageRecord, list[str]]]:
        """Each stage record whose output is there, with the settings where it disagrees with config.yaml."""
        full = self.cfg.model_dump(mode="json") if self.cfg is not None else None
        order = [kind.name for kind in STAGES]  # the order the stages run in
        ranked = sorted(
            self.study.records.items(),
            key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order else 99, kv[0][1] or ""),
        )
        out = []
        for (stage, key), rec in ranked:
            if stage == "report" or not layout.stage_output(self.dir, stage, key).exists():
                continue  # this report itself, or a record whose output was deleted since
            diffs = (
                config_disagreement(settings_as_run(rec), full)
                if full is not None
                else [f"{layout.CONFIG_FILE} unreadable"]
            )
            out.append((rec, diffs))
        return out

    def record_note(self, stage: str, key: str | None, what: str) -> str | None:
        """Why a file read directly (a profile, an overlap, the comparison) is not vouched for by its stage
        record, or None when its record is there and finished. A folder without any record says so once, in
        the appendix, instead."""
        if not self.study.records:
            return None
        rec = self.study.records.get((stage, key))
        if rec is None:
            return f"{what} has no stage record: which settings produced it is not recorded."
        if not rec.finished:
            return f"{what}: its stage did not finish, so the file may be partial."
        if changed := changed_content(self.dir, rec):
            return f"{what}: {', '.join(changed)} changed after its stage finished, so it is not what the stage wrote."
        return None

    @property
    def disagreeing(self) -> list[tuple[StageRecord, list[str]]]:
        return [(r, d) for r, d in self.record_rows if d or not r.finished]
