"""What every stage kind shares: a planned stage (Stage), the kind it is an instance of (StageKind: how it is
planned, computed and judged done), and the bracket around computing one (its record started, then finished).

A kind's `plan` returns its stages with their StageSpec (codetune.fingerprint): the config values the stage
reads (the whole relevant section, codetune.config.NOT_RESULT_KEYS left out, so a setting added later counts
without anyone listing it) and the content hashes of its inputs. A stage is done when its output exists and
its record's fingerprint is the spec's; otherwise it is computed afresh, its old output deleted first so
nothing mixes (training is refused instead: see codetune.study.pipeline). A plan reads only what is on disk, so
the dry run shows every status without computing anything.
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from codetune.errors import CodetuneError
from codetune.fingerprint import (
    StageSpec,
    StageStatus,
    adapter_sha256,
    changed_content,
    content_digest,
    stage_label,
    stage_status,
)
from codetune.study.stages.context import StudyContext


@dataclass
class Stage:
    """One stage to plan or compute: a kind for one run or model (key), or for the whole study."""

    kind: StageKind
    key: str | None  # the run, or the model ("base", "<run>/<checkpoint>")
    spec: StageSpec | None  # None: it cannot be fingerprinted until an earlier stage has run
    outputs: tuple[Path, ...] = ()  # all exist: the output is there
    clean: tuple[Path, ...] = ()  # deleted before computing it afresh (default: the outputs)
    waiting: str = ""  # why there is no spec yet
    detail: Any = None  # what computing it needs (the run name, an EvalTarget)

    @property
    def label(self) -> str:
        return stage_label(self.kind.name, self.key)

    def status(self, ctx: StudyContext) -> StageStatus:
        """done, stale (and why) or to do, as its kind judges it."""
        return self.kind.status(ctx, self)

    def ready_spec(self) -> StageSpec:
        """Its spec; CodetuneError while it waits for an earlier stage."""
        if self.spec is None:
            raise CodetuneError(f"{self.label} cannot run yet: {self.waiting}")
        return self.spec


class StageKind(ABC):
    """One kind of stage (profile, train, eval, ...): everything about it in one class, one module per kind
    (codetune.study.stages lists them in order)."""

    name: ClassVar[str]  # in stage records and labels (stages/<name>...json): never renamed
    title: ClassVar[str]  # the pipeline's heading for it

    @abstractmethod
    def plan(self, ctx: StudyContext, planned: Mapping[str, list[Stage]]) -> list[Stage]:
        """This kind's stages from what is on disk, given the stages of the kinds before it (by name)."""

    @abstractmethod
    def compute(self, ctx: StudyContext, stages: list[Stage]) -> None:
        """Compute the given stages of this kind (each one not done), recording each (`computing`)."""

    def status(self, ctx: StudyContext, stage: Stage) -> StageStatus:
        """done, stale (and why) or to do, from the stage's record and output on disk."""
        if stage.spec is None:
            return StageStatus("todo", stage.waiting)
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
    spec = stage.ready_spec()
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
    stage.ready_spec().finish_record(ctx.out)


@contextmanager
def computing(ctx: StudyContext, stage: Stage) -> Iterator[None]:
    """Around computing one stage: started before (start_computing), finished after, unless it fails."""
    start_computing(ctx, stage)
    yield
    finish_computing(ctx, stage)


# ------------------------------------------------------------------------- what later stages fingerprint


def output_content(ctx: StudyContext, stage: Stage) -> str | None:
    """One hash over what a done stage wrote that later stages read (layout.stage_content: an evaluation's
    summary and scores, a run's summary and losses, ...): a stage redone under the same fingerprint with
    other numbers (a deleted summary, a resumed run, sampling) changes it, so what reads it is redone too.
    None while missing."""
    return content_digest(ctx.out, stage.kind.name, stage.key)


def chained(ctx: StudyContext, stages: list[Stage]) -> dict[str, dict[str, str | None]]:
    """The upstream stages a stage reads, by label: fingerprint and output content."""
    return {
        s.label: {"fingerprint": s.ready_spec().fingerprint, "content": output_content(ctx, s)}
        for s in stages
    }


def checkpoint_identity(checkpoint: Path) -> dict[str, str]:
    return {"name": checkpoint.name, "sha256": adapter_sha256(checkpoint)}
