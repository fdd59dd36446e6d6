"""profile, per run: the run's dataset profiled (rows, problems, splits, token lengths) with the tokenizer, max
length and seed it trains with (codetune.data.profile)."""

from __future__ import annotations

from collections.abc import Mapping

from codetune import layout
from codetune.fingerprint import StageSpec
from codetune.progress import say
from codetune.study.stages.base import Stage, StageKind, computing
from codetune.study.stages.context import StudyContext

PROFILE_KEYS = ("training.max_seq_length", "training.seed", "model.source", "model.revision")


class ProfileStage(StageKind):
    name = "profile"
    title = "data profiles"

    def plan(self, ctx: StudyContext, planned: Mapping[str, list[Stage]]) -> list[Stage]:
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
                self.name,
                name,
                config=cfg.subset(keys),
                inputs={
                    "dataset": ctx.dataset_identity(name),
                    "tokenizer": ctx.model_identity,
                    "version": PROFILE_VERSION,
                },
            )
            out.append(Stage(self, name, spec, (layout.profile_path(ctx.out, name),), detail=name))
        return out

    def compute(self, ctx: StudyContext, stages: list[Stage]) -> None:
        from codetune.data.profile import profile_dataset
        from codetune.models import load_tokenizer

        cfg = ctx.cfg
        tokenizer = load_tokenizer(cfg.model)
        for s in stages:
            run = cfg.runs[s.detail]
            with computing(ctx, s):
                prof = profile_dataset(
                    run.dataset,
                    base_dir=ctx.base_dir,
                    tokenizer=tokenizer,
                    max_length=cfg.training.max_seq_length,
                    seed=cfg.training.seed,
                    system_prompt=run.system_prompt,
                )
                path = prof.write(layout.profile_path(ctx.out, s.detail))
            say(f"{s.detail}: {prof.rows:,} rows, {prof.unique_problems:,} unique problems -> {path}")


PROFILE = ProfileStage()
