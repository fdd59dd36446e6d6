"""The stages of a study and what each one reads, in the order they run:

  profile   per run     the run's dataset, tokenizer, max length, seed
  overlap   per run     the run's dataset against the selected benchmark problems
  train     per run     model, LoRA, training settings, the run's data
  eval      per model   model, adapter files, benchmark problems and tests, prompts, decoding, extraction
                        and scoring rules, limits
  selection             the evaluations, the runs' losses, the selection rule
  compare               the selected checkpoints, compare prompts, decoding
  report                every stage above
(where each output lives: codetune.layout)

Each `plan_*` function returns the stage's instances with their StageSpec (codetune.fingerprint): the config
values the stage reads (the whole relevant section, codetune.config.NOT_RESULT_KEYS left out, so a setting
added later counts without anyone listing it) and the content hashes of its inputs. A stage is done when its
output exists and its record's fingerprint is the spec's; otherwise it is computed afresh, its old output
deleted first so nothing mixes (training is refused instead: see codetune.study.pipeline). A plan reads only
what is on disk, so the dry run shows every status without computing anything.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codetune import __version__, layout
from codetune.config import NOT_RESULT_KEYS, StudyConfig, dump_config
from codetune.errors import CodetuneError
from codetune.files import write_text_atomic
from codetune.fingerprint import (
    StageSpec,
    StageStatus,
    adapter_sha256,
    changed_content,
    content_digest,
    digest,
    file_sha256,
    stage_label,
    stage_status,
)
from codetune.records import Selection

if TYPE_CHECKING:
    from codetune.bench.evaluate import EvalLabel

PROFILE_KEYS = ("training.max_seq_length", "training.seed", "model.source", "model.revision")
REPORT_VERSION = 4  # 4: gained/lost rows in problem order; bump when the report's content changes, so studies rebuild it
SELECTION_VERSION = 1  # bump when the selection rule changes


@dataclass
class EvalTarget:
    """One model to evaluate: the base model (checkpoint None) or a checkpoint's adapter on it."""

    label: EvalLabel
    out_dir: Path
    checkpoint: Path | None
    adapter: str | None  # the adapter's name on the shared base model
    system_prompt: str | None


@dataclass
class Stage:
    kind: str  # profile | overlap | train | eval | selection | compare | report
    key: str | None  # the run, or the model ("base", "<run>/<checkpoint>")
    spec: StageSpec | None  # None: it cannot be fingerprinted until an earlier stage has run
    outputs: tuple[Path, ...] = ()  # all exist: the output is there
    clean: tuple[Path, ...] = ()  # deleted before computing it afresh (default: the outputs)
    waiting: str = ""  # why there is no spec yet
    detail: Any = None  # what computing it needs (the run name, an EvalTarget)

    @property
    def label(self) -> str:
        return stage_label(self.kind, self.key)


class StudyContext:
    """One study's config, folder and the input hashes its stages share (each computed once)."""

    def __init__(self, cfg: StudyConfig, *, dry_run: bool = False, overwrite_stale: bool = False):
        self.cfg = cfg
        self.out = cfg.output_path
        self.base_dir = cfg.base_dir
        self.dry_run = dry_run  # read nothing from the network, load no model
        self.overwrite_stale = overwrite_stale
        self.config_file: str | None = None  # configs/<...>.yaml of this config, once the pipeline wrote it
        self._datasets: dict[str, dict] = {}

    @cached_property
    def benchmark(self):
        """The selected benchmark (a BenchmarkSelection; its counts printed, except in a dry run)."""
        from codetune.bench.lcb import load_benchmark
        from codetune.progress import say

        report = (lambda _: None) if self.dry_run else say
        return load_benchmark(self.cfg.benchmark, self.base_dir, seed=self.cfg.training.seed, report=report)

    @property
    def problems(self) -> list:
        return self.benchmark.problems

    @cached_property
    def benchmark_identity(self) -> dict | None:
        """Hash of every selected problem and test; None in a dry run on a source not read offline (the hub)."""
        from codetune.bench.lcb import selection_identity
        from codetune.bench.sources import benchmark_source

        if self.dry_run and not benchmark_source(self.cfg.benchmark.source, self.base_dir).offline:
            return None
        return selection_identity(self.benchmark)

    @cached_property
    def model_identity(self) -> dict:
        from codetune.models import model_identity

        return model_identity(self.cfg.model)

    @cached_property
    def resolved_model(self) -> dict[str, str]:
        """model.device and model.dtype as they resolve on this machine (codetune.models.resolved_model)."""
        from codetune.models import resolved_model

        return resolved_model(self.cfg.model)

    @cached_property
    def resolved_backend(self) -> str:
        """benchmark.generation.backend as it resolves on this machine (codetune.bench.engine)."""
        from codetune.bench.engine import resolved_backend

        return resolved_backend(self.cfg.benchmark.generation, self.cfg.model)

    def dataset_identity(self, run: str) -> dict:
        from codetune.data.sources import dataset_identity

        if run not in self._datasets:
            ds = self.cfg.run(run).dataset
            self._datasets[run] = dataset_identity(ds, self.base_dir, seed=self.cfg.training.seed)
        return self._datasets[run]


def check_own_config(cfg: StudyConfig) -> None:
    """CodetuneError when the config file given is the study folder's own config.yaml but says other than
    what the study would write there (comments, another layout): the user's file is never overwritten."""
    own = layout.config_path(cfg.output_path)
    if cfg.path is None or not own.is_file() or not own.samefile(cfg.path):
        return
    if own.read_text(encoding="utf-8", errors="replace") != dump_config(cfg):
        raise CodetuneError(
            f"{cfg.path} is where the study writes the config it ran with ({layout.CONFIG_FILE} in output_dir) "
            "and would be overwritten: give your config another name, or keep it outside output_dir"
        )


def record_config(ctx: StudyContext) -> str:
    """The study's config file (the latest) and, once per distinct config, a dated copy; returns the
    copy's path relative to the study folder (what each stage record names)."""
    check_own_config(ctx.cfg)
    text = dump_config(ctx.cfg)
    h = digest(text)[:12]
    path = next((p for p in reversed(layout.config_history(ctx.out)) if p.stem.endswith(h)), None)
    if path is None:
        path = layout.config_history_path(ctx.out, datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"), h)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    write_text_atomic(layout.config_path(ctx.out), text)
    return str(path.relative_to(ctx.out))


def status(ctx: StudyContext, stage: Stage) -> StageStatus:
    """done, stale (and why) or to do, from the stage's record and output on disk."""
    if stage.spec is None:
        return StageStatus("todo", stage.waiting)
    if stage.kind == "train":
        from codetune.train.run import run_dir_state

        state, diffs = run_dir_state(ctx.out, layout.run_dir(ctx.out, stage.key), stage.spec)
        if state == "complete":
            return StageStatus("done")
        if state == "stale":
            return StageStatus("stale", "differs in: " + ", ".join(diffs[:8]), tuple(diffs))
        if state == "unrecorded":
            return StageStatus("stale", "training files without a stage record: their config is unknown")
        if state == "damaged":
            from codetune.train.run import damaged_run_message

            return StageStatus(
                "stale", damaged_run_message(stage.key, diffs, "--overwrite-stale"), tuple(diffs)
            )
        if state == "unfinished":
            ckpts = layout.list_checkpoints(layout.run_dir(ctx.out, stage.key))
            return StageStatus("todo", "unfinished: resumes from " + (ckpts[-1].name if ckpts else "step 0"))
        return StageStatus("todo")
    return stage_status(ctx.out, stage.spec, output_exists=all(p.exists() for p in stage.outputs))


def remove(paths: tuple[Path, ...]) -> None:
    for p in paths:
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)


def start_computing(ctx: StudyContext, stage: Stage) -> None:
    """Before computing a stage: unless its record says the work in progress is its own, delete what is
    there (an older output must never mix with the new one) and record the stage started."""
    spec = stage.spec
    if spec is None:
        raise CodetuneError(f"{stage.label} cannot run yet: {stage.waiting}")
    record = spec.read_record(ctx.out)
    # A finished record whose files changed since: what is there is not the stage's work, so none of it is
    # resumed from (a deleted output alone resumes from the partial files beside it).
    edited = (
        record is not None
        and record.finished
        and (record.outputs is None or any((ctx.out / p).is_file() for p in changed_content(ctx.out, record)))
    )
    if record is None or record.fingerprint != spec.fingerprint or edited:
        remove(stage.clean or stage.outputs)
        spec.write_record(ctx.out, finished=False, config_file=ctx.config_file)


def finish_computing(ctx: StudyContext, stage: Stage) -> None:
    """After a stage's output is written: record it finished."""
    stage.spec.finish_record(ctx.out)


@contextmanager
def computing(ctx: StudyContext, stage: Stage) -> Iterator[None]:
    """Around computing one stage: started before (start_computing), finished after, unless it fails."""
    start_computing(ctx, stage)
    yield
    finish_computing(ctx, stage)


def _not_done(ctx: StudyContext, stages: list[Stage]) -> list[Stage]:
    return [s for s in stages if status(ctx, s).state != "done"]


def output_content(ctx: StudyContext, stage: Stage) -> str | None:
    """One hash over what a done stage wrote that later stages read (layout.stage_content: an evaluation's
    summary and scores, a run's summary and losses, ...): a stage redone under the same fingerprint with
    other numbers (a deleted summary, a resumed run, sampling) changes it, so what reads it is redone too.
    None while missing."""
    return content_digest(ctx.out, stage.kind, stage.key)


def _chained(ctx: StudyContext, stages: list[Stage]) -> dict[str, dict[str, str | None]]:
    """The upstream stages a stage reads, by label: fingerprint and output content."""
    return {s.label: {"fingerprint": s.spec.fingerprint, "content": output_content(ctx, s)} for s in stages}


# ------------------------------------------------------------------------------------------------ plans


def plan_profiles(ctx: StudyContext, planned: Mapping[str, list[Stage]]) -> list[Stage]:
    from codetune.data.profile import PROFILE_VERSION

    cfg = ctx.cfg
    out = []
    for name in cfg.runs:
        keys = [
            f"runs.{name}.dataset",
            f"runs.{name}.system_prompt",
            *PROFILE_KEYS,
            "model.trust_remote_code",
        ]
        spec = StageSpec(
            "profile",
            name,
            config=cfg.subset(keys),
            inputs={
                "dataset": ctx.dataset_identity(name),
                "tokenizer": ctx.model_identity,
                "version": PROFILE_VERSION,
            },
        )
        out.append(Stage("profile", name, spec, (layout.profile_path(ctx.out, name),), detail=name))
    return out


def plan_overlaps(ctx: StudyContext, planned: Mapping[str, list[Stage]]) -> list[Stage]:
    from codetune.config import BENCHMARK_SELECTION_KEYS
    from codetune.data.overlap import NGRAM, OVERLAP_VERSION, THRESHOLD

    cfg = ctx.cfg
    bench = ctx.benchmark_identity
    out = []
    for name in cfg.runs:
        path = layout.overlap_path(ctx.out, name)
        if bench is None:
            out.append(
                Stage("overlap", name, None, (path,), waiting="the hub benchmark is not read in a dry run")
            )
            continue
        spec = StageSpec(
            "overlap",
            name,
            config=cfg.subset([f"runs.{name}.dataset", "training.seed", *BENCHMARK_SELECTION_KEYS]),
            inputs={
                "dataset": ctx.dataset_identity(name),
                "benchmark": bench,
                "method": {"ngram": NGRAM, "threshold": THRESHOLD, "version": OVERLAP_VERSION},
            },
        )
        out.append(Stage("overlap", name, spec, (path,), detail=name))
    return out


def plan_training(ctx: StudyContext, planned: Mapping[str, list[Stage]]) -> list[Stage]:
    from codetune.train.run import train_spec

    return [
        Stage(
            "train",
            name,
            train_spec(ctx.cfg, name),
            (layout.run_summary_path(layout.run_dir(ctx.out, name)),),
            detail=name,
        )
        for name in ctx.cfg.runs
    ]


def checkpoint_identity(checkpoint: Path) -> dict[str, str]:
    return {"name": checkpoint.name, "sha256": adapter_sha256(checkpoint)}


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
            step, epoch = layout.parse_checkpoint_name(ck.name)
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
        return Stage("eval", key, None, outputs, waiting="the hub benchmark is not read in a dry run")
    from codetune.bench.engine import resolved_engine_mode

    keys = ["model", "benchmark", "training.seed"] + ([f"runs.{run}.system_prompt"] if run else [])
    # The backend and the engine mode count as what they resolve to (inputs.resolved): `auto` and its
    # spelled-out value are the same evaluation; the settings as written are recorded with the speed settings.
    as_resolved = ["benchmark.generation.backend", "benchmark.generation.engine"]
    backend = ctx.resolved_backend
    spec = StageSpec(
        "eval",
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
    return Stage("eval", key, spec, outputs, clean=(target.out_dir,), detail=target)


def plan_evals(ctx: StudyContext, planned: Mapping[str, list[Stage]]) -> list[Stage]:
    """The base model and every checkpoint on disk; a run with no checkpoint yet is one stage to do."""
    stages = [eval_stage(ctx, t) for t in eval_targets(ctx)]
    for run in ctx.cfg.runs:
        if not layout.list_checkpoints(layout.run_dir(ctx.out, run)):
            stages.append(
                Stage("eval", f"{run}/*", None, waiting=f"after training: run {run} has no checkpoint yet")
            )
    return stages


def plan_selection(ctx: StudyContext, planned: Mapping[str, list[Stage]]) -> list[Stage]:
    upstream = planned["train"] + planned["eval"]
    outputs = (layout.selection_path(ctx.out),)
    waiting = [s.label for s in _not_done(ctx, upstream)]
    if waiting:
        shown = ", ".join(waiting[:4]) + (f" and {len(waiting) - 4} more" if len(waiting) > 4 else "")
        return [Stage("selection", None, None, outputs, waiting=f"after {shown}")]
    spec = StageSpec(
        "selection",
        None,
        config=ctx.cfg.subset(["benchmark.selection"]),
        inputs={
            "training": _chained(ctx, planned["train"]),  # validation losses
            "evals": _chained(ctx, planned["eval"]),
            "version": SELECTION_VERSION,
        },
    )
    return [Stage("selection", None, spec, outputs)]


def plan_compare(ctx: StudyContext, planned: Mapping[str, list[Stage]]) -> list[Stage]:
    from codetune.bench.generate import GENERATION_VERSION
    from codetune.study.compare import COMPARE_VERSION

    (selection,) = planned["selection"]
    folder = layout.compare_dir(ctx.out)
    outputs = (layout.compare_answers_path(folder), layout.compare_metrics_path(folder))
    if status(ctx, selection).state != "done":
        return [
            Stage("compare", None, None, outputs, (folder,), waiting="decided once the selection is done")
        ]
    sel = Selection.read(layout.selection_path(ctx.out))
    # Found by name in this folder (not by the absolute path the selection records): a moved study still works.
    best = {
        n: layout.checkpoints_dir(layout.run_dir(ctx.out, n)) / r.best.checkpoint
        for n, r in sel.runs.items()
        if r.best is not None and r.best.checkpoint is not None
    }
    gone = [f"{n} ({p.name})" for n, p in best.items() if not p.is_dir()]
    if gone or not best:
        # Never a comparison that silently leaves a run out.
        why = (
            f"the selected checkpoint of {', '.join(gone)} is not on disk"
            if gone
            else "no run has a selection"
        )
        return [Stage("compare", None, None, outputs, (folder,), waiting=why)]
    spec = StageSpec(
        "compare",
        None,
        config=ctx.cfg.subset(["compare", "model"]),
        inputs={
            "selection": output_content(ctx, selection),
            "checkpoints": {n: checkpoint_identity(p) for n, p in best.items()},
            "model": ctx.model_identity,
            "resolved": ctx.resolved_model,
            "system_prompt": ctx.cfg.shared_system_prompt(),
            "versions": {"compare": COMPARE_VERSION, "generation": GENERATION_VERSION},
        },
    )
    return [Stage("compare", None, spec, outputs, (folder,), detail=list(best.values()))]


def plan_report(ctx: StudyContext, planned: Mapping[str, list[Stage]]) -> list[Stage]:
    """Built from everything above: what is missing is said, so it never waits."""
    out = ctx.out
    upstream = [s for kind, stages in planned.items() if kind != "report" for s in stages]
    config_file = layout.config_path(out)
    spec = StageSpec(
        "report",
        None,
        config={},
        inputs={
            "stages": {
                s.label: (
                    {"fingerprint": s.spec.fingerprint, "content": output_content(ctx, s)}
                    if s.spec and status(ctx, s).state == "done"
                    else None
                )
                for s in upstream
            },
            "config_yaml": file_sha256(config_file) if config_file.is_file() else None,
            "codetune": __version__,
            "version": REPORT_VERSION,
        },
    )
    outputs = (layout.report_html_path(out), layout.report_md_path(out))
    return [Stage("report", None, spec, outputs, (*outputs, layout.report_assets_dir(out)))]


@dataclass(frozen=True)
class StageKind:
    kind: str
    title: str
    plan: Callable[[StudyContext, Mapping[str, list[Stage]]], list[Stage]]  # given the stages planned so far


# The pipeline, in order; codetune.study.pipeline computes each kind's pending stages.
KINDS = (
    StageKind("profile", "data profiles", plan_profiles),
    StageKind("overlap", "benchmark overlap", plan_overlaps),
    StageKind("train", "training", plan_training),
    StageKind("eval", "evaluation", plan_evals),
    StageKind("selection", "selection", plan_selection),
    StageKind("compare", "comparison", plan_compare),
    StageKind("report", "report", plan_report),
)


@dataclass
class StudyStatus:
    """Every stage of a study with its status: what `codetune study --dry-run` prints."""

    stages: list[tuple[Stage, StageStatus]] = field(default_factory=list)

    def stale_training(self) -> list[tuple[Stage, StageStatus]]:
        return [(s, st) for s, st in self.stages if s.kind == "train" and st.state == "stale"]


def study_status(ctx: StudyContext) -> StudyStatus:
    """Plan every stage from what is on disk, computing nothing."""
    planned: dict[str, list[Stage]] = {}
    result = StudyStatus()
    for kind in KINDS:
        planned[kind.kind] = kind.plan(ctx, planned)
        result.stages += [(s, status(ctx, s)) for s in planned[kind.kind]]
    return result
