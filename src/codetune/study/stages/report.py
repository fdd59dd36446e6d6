"""report, once: the study's report (codetune.study.report) built from every stage above; what is missing is
said in it, so it never waits. Its version is the report builder's (codetune.study.report.build)."""

from __future__ import annotations

from collections.abc import Mapping

from codetune import __version__, layout
from codetune.fingerprint import StageSpec, file_sha256
from codetune.progress import say
from codetune.study.stages.base import Stage, StageKind, computing, output_content
from codetune.study.stages.context import StudyContext


class ReportStage(StageKind):
    name = "report"
    title = "report"

    def plan(self, ctx: StudyContext, planned: Mapping[str, list[Stage]]) -> list[Stage]:
        from codetune.study.report.build import REPORT_VERSION

        out = ctx.out
        upstream = [s for kind, stages in planned.items() if kind != self.name for s in stages]
        config_file = layout.config_path(out)
        spec = StageSpec(
            self.name,
            None,
            config={},
            inputs={
                "stages": {
                    s.label: (
                        {"fingerprint": s.spec.fingerprint, "content": output_content(ctx, s)}
                        if s.spec and s.status(ctx).state == "done"
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
        return [Stage(self, None, spec, outputs, (*outputs, layout.report_assets_dir(out)))]

    def compute(self, ctx: StudyContext, stages: list[Stage]) -> None:
        from codetune.study.report import write_report

        (stage,) = stages
        with computing(ctx, stage):
            html, _ = write_report(ctx.out)
        say(f"report -> {html}")


REPORT = ReportStage()
