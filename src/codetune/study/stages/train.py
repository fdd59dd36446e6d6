"""train, per run: the LoRA run (codetune.train.run) from the model, LoRA and training settings and the run's
data. Its status is the run folder's (resumable, damaged, trained with other settings), and a run trained
with other settings is never redone without OVERWRITE_STALE (codetune.study.pipeline refuses first)."""

from __future__ import annotations

from collections.abc import Mapping

from codetune import layout
from codetune.fingerprint import StageStatus
from codetune.study.stages.base import Stage, StageKind
from codetune.study.stages.context import StudyContext

OVERWRITE_STALE = "--overwrite-stale"


class TrainStage(StageKind):
    name = "train"
    title = "training"

    def plan(self, ctx: StudyContext, planned: Mapping[str, list[Stage]]) -> list[Stage]:
        from codetune.train.run import train_spec

        return [
            Stage(
                self,
                name,
                train_spec(ctx.cfg, name),
                (layout.run_summary_path(layout.run_dir(ctx.out, name)),),
                detail=name,
            )
            for name in ctx.cfg.runs
        ]

    def compute(self, ctx: StudyContext, stages: list[Stage]) -> None:
        from codetune.train.run import train_run

        for s in stages:
            # A stale run reaches here only with --overwrite-stale (refuse_stale_training stopped the study else).
            stale = s.status(ctx).state == "stale"
            train_run(
                ctx.cfg,
                s.detail,
                resume=True,
                overwrite=stale,
                flag=OVERWRITE_STALE,
                spec=s.spec,
                config_file=ctx.config_file,
            )

    def status(self, ctx: StudyContext, stage: Stage) -> StageStatus:
        """The run folder's state (codetune.train.run.run_dir_state): an unfinished run is to do (it resumes),
        damaged or unrecorded training is stale."""
        from codetune.train.run import damaged_run_message, run_dir_state

        if stage.spec is None or stage.key is None:
            return super().status(ctx, stage)
        state, diffs = run_dir_state(ctx.out, layout.run_dir(ctx.out, stage.key), stage.spec)
        if state == "complete":
            return StageStatus("done")
        if state == "stale":
            return StageStatus("stale", "differs in: " + ", ".join(diffs[:8]), tuple(diffs))
        if state == "unrecorded":
            return StageStatus("stale", "training files without a stage record: their config is unknown")
        if state == "damaged":
            return StageStatus("stale", damaged_run_message(stage.key, diffs, OVERWRITE_STALE), tuple(diffs))
        if state == "unfinished":
            ckpts = layout.list_checkpoints(layout.run_dir(ctx.out, stage.key))
            return StageStatus("todo", "unfinished: resumes from " + (ckpts[-1].name if ckpts else "step 0"))
        return StageStatus("todo")


TRAIN = TrainStage()
