"""overlap, per run: the selected benchmark problems whose statement has a near-duplicate in the run's data
(codetune.data.overlap)."""

from __future__ import annotations

from collections.abc import Mapping

from codetune import layout
from codetune.fingerprint import StageSpec
from codetune.progress import say
from codetune.study.stages.base import Stage, StageKind, computing
from codetune.study.stages.context import StudyContext


class OverlapStage(StageKind):
    name = "overlap"
    title = "benchmark overlap"

    def plan(self, ctx: StudyContext, planned: Mapping[str, list[Stage]]) -> list[Stage]:
        from codetune.config import BENCHMARK_SELECTION_KEYS
        from codetune.data.overlap import NGRAM, OVERLAP_VERSION, THRESHOLD

        cfg = ctx.cfg
        bench = ctx.benchmark_identity
        out = []
        for name in cfg.runs:
            path = layout.overlap_path(ctx.out, name)
            if bench is None:
                out.append(
                    Stage(self, name, None, (path,), waiting="the hub benchmark is not read in a dry run")
                )
                continue
            spec = StageSpec(
                self.name,
                name,
                config=cfg.subset([f"runs.{name}.dataset", "training.seed", *BENCHMARK_SELECTION_KEYS]),
                inputs={
                    "dataset": ctx.dataset_identity(name),
                    "benchmark": bench,
                    "method": {"ngram": NGRAM, "threshold": THRESHOLD, "version": OVERLAP_VERSION},
                },
            )
            out.append(Stage(self, name, spec, (path,), detail=name))
        return out

    def compute(self, ctx: StudyContext, stages: list[Stage]) -> None:
        from codetune.data.overlap import dataset_overlaps

        bench = [(p.question_id, p.question_content) for p in ctx.problems]
        for s in stages:
            with computing(ctx, s):
                rep = dataset_overlaps(
                    ctx.cfg.runs[s.detail].dataset, bench, ctx.base_dir, seed=ctx.cfg.training.seed
                )
                rep.write(layout.overlap_path(ctx.out, s.detail))
            say(
                f"{s.detail}: {rep.possibly_seen} of {len(bench)} benchmark problems possibly seen in training"
            )


OVERLAP = OverlapStage()
