"""compare, once: the selected checkpoint of each run and the base model answering the config's compare
prompts (codetune.study.compare); decided once the selection is done."""

from __future__ import annotations

from collections.abc import Mapping

from codetune import layout
from codetune.fingerprint import StageSpec
from codetune.progress import say
from codetune.records import Selection
from codetune.study.stages.base import Stage, StageKind, checkpoint_identity, computing, output_content
from codetune.study.stages.context import StudyContext


class CompareStage(StageKind):
    name = "compare"
    title = "comparison"

    def plan(self, ctx: StudyContext, planned: Mapping[str, list[Stage]]) -> list[Stage]:
        from codetune.bench.generate import GENERATION_VERSION
        from codetune.study.compare import COMPARE_VERSION

        (selection,) = planned["selection"]
        folder = layout.compare_dir(ctx.out)
        outputs = (layout.compare_answers_path(folder), layout.compare_metrics_path(folder))
        if selection.status(ctx).state != "done":
            return [Stage(self, None, None, outputs, (folder,), waiting="decided once the selection is done")]
        sel = Selection.read(layout.selection_path(ctx.out))
        # Found by name in this folder (not by the absolute path the selection records): a moved study still works.
        best = {
            n: layout.checkpoints_dir(layout.run_dir(ctx.out, n)) / r.best.checkpoint
            for n, r in (sel.runs if sel is not None else {}).items()
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
            return [Stage(self, None, None, outputs, (folder,), waiting=why)]
        spec = StageSpec(
            self.name,
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
        return [Stage(self, None, spec, outputs, (folder,), detail=list(best.values()))]

    def compute(self, ctx: StudyContext, stages: list[Stage]) -> None:
        """The selected checkpoint of each run (and the base model) on the config's compare prompts."""
        from codetune.study.compare import run_compare, save_compare

        (stage,) = stages
        cfg = ctx.cfg
        with computing(ctx, stage):
            result = run_compare(
                stage.detail,
                list(cfg.compare.prompts),
                max_new_tokens=cfg.compare.max_new_tokens,
                include_base=True,
                system_prompt=cfg.shared_system_prompt(),
                model_cfg=cfg.model,
                batch_size=cfg.benchmark.generation.batch_size,
            )
            answers, _ = save_compare(result, layout.compare_dir(ctx.out))
        say(f"answers of {len(result.answers.models)} models -> {answers}")


COMPARE = CompareStage()
