"""selection, once: each run's best checkpoint by the selection rule (codetune.study.select), from the
evaluations and the runs' validation losses; decided once every training and evaluation is done."""

from __future__ import annotations

from collections.abc import Mapping

from codetune import layout
from codetune.fingerprint import StageSpec
from codetune.progress import say
from codetune.study.stages.base import Stage, StageKind, chained, computing
from codetune.study.stages.context import StudyContext


class SelectionStage(StageKind):
    name = "selection"
    title = "selection"

    def plan(self, ctx: StudyContext, planned: Mapping[str, list[Stage]]) -> list[Stage]:
        from codetune.study.select import SELECTION_VERSION

        upstream = planned["train"] + planned["eval"]
        outputs = (layout.selection_path(ctx.out),)
        waiting = [s.label for s in upstream if s.status(ctx).state != "done"]
        if waiting:
            shown = ", ".join(waiting[:4]) + (f" and {len(waiting) - 4} more" if len(waiting) > 4 else "")
            return [Stage(self, None, None, outputs, waiting=f"after {shown}")]
        spec = StageSpec(
            self.name,
            None,
            config=ctx.cfg.subset(["benchmark.selection"]),
            inputs={
                "training": chained(ctx, planned["train"]),  # validation losses
                "evals": chained(ctx, planned["eval"]),
                "version": SELECTION_VERSION,
            },
        )
        return [Stage(self, None, spec, outputs)]

    def compute(self, ctx: StudyContext, stages: list[Stage]) -> None:
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


SELECTION = SelectionStage()
