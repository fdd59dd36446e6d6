"""What a study folder holds, read from its files: runs, losses, checkpoints, evaluations, and what is missing.

Nothing here is inferred: a run without summary.json is "training incomplete", a checkpoint without an eval
summary is "not evaluated", and each such gap is listed in `RunState.gaps` so the report can say so.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from codetune.errors import CodetuneError
from codetune.study.layout import (
    BASE_MODEL_NAME,
    base_eval_dir,
    list_checkpoints,
    parse_checkpoint_name,
    run_dir,
)
from codetune.study.stats import SOLVED_AT
from codetune.train.summary import MetricsRow, read_metrics


@dataclass
class EvalResult:
    """One evaluated model (the base or a checkpoint) on the benchmark."""

    model: str  # seed-style label: "base" or "<run>_<checkpoint-name>"
    run: str | None
    checkpoint: str | None
    step: int | None
    eval_dir: Path
    summary: dict
    per_problem: dict[str, float]  # question_id -> pass@1 of that problem (empty without scores.json)
    dates: dict[str, str | None] = field(default_factory=dict)  # question_id -> contest date, when recorded
    private_solved: int | None = None
    val_loss: float | None = None

    @property
    def pass1(self) -> float:
        return float(self.summary.get("pass@1", 0.0))

    @property
    def solved(self) -> int:
        return int(self.summary.get("solved", sum(p >= SOLVED_AT for p in self.per_problem.values())))

    @property
    def total(self) -> int:
        return int(self.summary.get("total", len(self.per_problem)))

    @property
    def n_samples(self) -> int:
        return int(self.summary.get("n_samples", 1))

    @property
    def wall_time_s(self) -> float | None:
        w = self.summary.get("wall_time_s")
        return float(w) if isinstance(w, int | float) else None

    def on(self, ids: list[str] | None) -> tuple[float, int, int]:
        """(pass@1, solved, total) on a subset of problems; the eval's own summary for all problems.

        Solved on a subset follows codetune.study.stats: per-problem pass@1 >= SOLVED_AT."""
        if ids is None:
            return self.pass1, self.solved, self.total
        vals = [self.per_problem[q] for q in ids if q in self.per_problem]
        if not vals:
            return 0.0, 0, 0
        return sum(vals) / len(vals), sum(p >= SOLVED_AT for p in vals), len(vals)


@dataclass
class RunState:
    name: str
    dir: Path
    exists: bool
    summary: dict | None  # runs/<run>/summary.json: present only when training finished
    metrics: list[MetricsRow]
    checkpoints: list[str]  # complete checkpoint folders on disk, by step
    evals: list[EvalResult]  # complete evaluations, by step
    gaps: list[str] = field(default_factory=list)  # what is missing or partial, in words

    @property
    def complete(self) -> bool:
        return self.summary is not None


@dataclass
class StudyResults:
    dir: Path
    config: object | None  # StudyConfig when config.yaml loads
    config_text: str | None
    config_error: str | None
    runs: dict[str, RunState]
    base: EvalResult | None
    gaps: list[str] = field(default_factory=list)  # study-level gaps (base model, config)


def read_json(path: Path) -> object | None:
    """A JSON file, or None when it is absent; a half-written or corrupt file is a clear error."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CodetuneError(f"{path}: not valid JSON ({e})") from None


def _finite(x: object) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else None


def _private_solved(summary: dict, scores: list[dict]) -> int | None:
    """Problems solved on private tests, when the evaluation recorded them separately."""
    for key in ("private_solved", "solved_private"):
        if isinstance(summary.get(key), int):
            return summary[key]
    if scores and all("private_graded_list" in s for s in scores):
        return sum(bool(s["private_graded_list"]) and any(s["private_graded_list"]) for s in scores)
    if scores and all("private_passed" in s for s in scores):
        return sum(bool(s["private_passed"]) for s in scores)
    # codetune's scoring: per-sample verdicts per test, public tests first, then n_private_tests private ones.
    if scores and all(isinstance(s.get("n_private_tests"), int) and s["n_private_tests"] > 0 for s in scores):
        solved = 0
        for s in scores:
            n_pub, n_priv = int(s.get("n_public_tests", 0)), s["n_private_tests"]
            private = [v[n_pub : n_pub + n_priv] for v in s.get("verdicts") or [] if isinstance(v, list)]
            solved += any(len(p) == n_priv and all(x == "passed" for x in p) for p in private)
        return solved
    return None


def read_eval(
    eval_dir: Path, *, model: str, run: str | None = None, checkpoint: str | None = None
) -> EvalResult | None:
    """A complete evaluation (summary.json present), or None."""
    summary = read_json(eval_dir / "summary.json")
    if not isinstance(summary, dict):
        return None
    scores = read_json(eval_dir / "scores.json")
    scores = (
        [s for s in scores if isinstance(s, dict) and "question_id" in s] if isinstance(scores, list) else []
    )
    per_problem: dict[str, float] = {}
    dates: dict[str, str | None] = {}
    for s in scores:
        graded = s.get("graded_list") or []
        p = s.get("pass@1")
        if not isinstance(p, int | float):
            p = sum(map(bool, graded)) / len(graded) if graded else 0.0
        qid = str(s["question_id"])
        per_problem[qid] = float(p)
        d = s.get("contest_date")
        dates[qid] = str(d) if d else None
    parsed = parse_checkpoint_name(checkpoint) if checkpoint else None
    return EvalResult(
        model=model,
        run=run,
        checkpoint=checkpoint,
        step=parsed[0] if parsed else None,
        eval_dir=eval_dir,
        summary=summary,
        per_problem=per_problem,
        dates=dates,
        private_solved=_private_solved(summary, scores),
    )


def load_config_text(study_dir: Path) -> tuple[object | None, str | None, str | None]:
    """(StudyConfig or None, the YAML text or None, an error message or None) of STUDY_DIR/config.yaml."""
    from codetune.config import load_config

    path = study_dir / "config.yaml"
    if not path.is_file():
        return None, None, f"{path.name} is missing"
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return load_config(path), text, None
    except CodetuneError as e:
        return None, text, str(e)


def load_run(study_dir: Path, name: str) -> RunState:
    d = run_dir(study_dir, name)
    if not d.is_dir():
        return RunState(name, d, False, None, [], [], [], gaps=[f"run {name}: not started (no folder {d})"])
    summary = read_json(d / "summary.json")
    gaps: list[str] = []
    try:
        metrics = read_metrics(d / "metrics.jsonl")
    except CodetuneError as e:
        metrics = []
        gaps.append(f"run {name}: losses unreadable ({e})")
    ckpts = [p.name for p in list_checkpoints(d)]
    val_by_step = {r.step: _finite(r.val_loss) for r in metrics}
    if not isinstance(summary, dict):
        summary = None
        last = f"the last logged step is {metrics[-1].step}" if metrics else "no losses were logged"
        gaps.append(
            f"run {name}: training incomplete (no summary.json; {last}, {len(ckpts)} checkpoints saved)"
        )
    evals: list[EvalResult] = []
    eval_root = d / "eval"
    names = set(ckpts)
    if eval_root.is_dir():
        names |= {p.name for p in eval_root.iterdir() if p.is_dir() and parse_checkpoint_name(p.name)}
    for ck in sorted(names, key=lambda n: parse_checkpoint_name(n) or (0, 0)):
        res = read_eval(eval_root / ck, model=f"{name}_{ck}", run=name, checkpoint=ck)
        if res is None:
            state = "evaluation incomplete" if (eval_root / ck).is_dir() else "not evaluated"
            gaps.append(f"run {name}: {ck} {state}")
            continue
        res.val_loss = val_by_step.get(res.step)
        evals.append(res)
    if not ckpts and not evals:
        gaps.append(f"run {name}: no checkpoints saved")
    return RunState(name, d, True, summary, metrics, ckpts, evals, gaps)


def load_study(study_dir: str | Path) -> StudyResults:
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise CodetuneError(f"study folder {study_dir} does not exist")
    cfg, text, err = load_config_text(study_dir)
    gaps = [f"config: {err}"] if err else []
    names: list[str] = list(cfg.runs) if cfg is not None else []
    runs_root = study_dir / "runs"
    if runs_root.is_dir():
        names += sorted(p.name for p in runs_root.iterdir() if p.is_dir() and p.name not in names)
    if not names:
        raise CodetuneError(f"{study_dir}: no config.yaml with runs and no runs/ folder: not a study folder")
    runs = {n: load_run(study_dir, n) for n in names}
    base = read_eval(base_eval_dir(study_dir), model=BASE_MODEL_NAME)
    if base is None:
        gaps.append("base model: not evaluated (no eval/base/summary.json)")
    return StudyResults(study_dir, cfg, text, err, runs, base, gaps)
