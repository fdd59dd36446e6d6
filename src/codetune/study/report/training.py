"""Each run's loss curves with the facts read off them."""

from __future__ import annotations

from codetune import layout
from codetune.study.document import Block, Bullets, Heading, Image, Note
from codetune.study.report.facts import loss_facts
from codetune.study.report.inputs import ReportInputs
from codetune.study.results import RunState


def run_training(inp: ReportInputs, state: RunState) -> list[Block]:

    if not state.exists:
        return [Note(f"Run {state.name} was not started: there is no folder {state.dir}.")]
    out: list[Block] = []
    if inp.study.imported is not None:  # answers brought in from LiveCodeBench files: no training here
        given = (
            f"the {layout.METRICS_FILE} given at import"
            if state.metrics
            else f"no {layout.METRICS_FILE} was given"
        )
        return (
            out
            + [Note(f"Run {state.name} was not trained by codetune (imported answers); losses: {given}.")]
            + (_curves(inp, state) if state.metrics else [])
        )
    if not state.complete:
        out.append(
            Note(
                f"Training of {state.name} is incomplete (no {layout.RUN_SUMMARY_FILE}): the curves below stop "
                "at the last logged step."
            )
        )
    if state.damaged:
        return out + [
            Note(
                f"The losses of {state.name} are not shown: {'; '.join(state.damaged)}, so they are not what "
                "training wrote. Restore the file, or retrain the run."
            )
        ]
    if not state.metrics:
        return out + [Note(f"No losses were logged for {state.name} (no readable {layout.METRICS_FILE}).")]
    return out + _curves(inp, state)


def _curves(inp: ReportInputs, state: RunState) -> list[Block]:
    from codetune.study.plots import loss_png

    out: list[Block] = []
    overfit = state.summary.overfitting_step if state.summary else None
    png = loss_png(state.metrics, title=f"{state.name}: loss per step", overfit_step=overfit)
    out.append(
        Image(
            layout.loss_asset_name(state.name),
            png,
            alt=f"loss curves of {state.name}",
            caption="Train (mean over each interval), validation and test loss; red circle: minimum test loss.",
        )
    )
    patience = inp.cfg.training.overfit_patience if inp.cfg is not None else None
    out.append(Bullets(loss_facts(state.metrics, state.summary, patience)))
    return out


def section(inp: ReportInputs) -> list[Block]:
    out: list[Block] = [Heading(2, "Training")]
    for name, state in inp.study.runs.items():
        out.append(Heading(3, f"Run {name}"))
        out += run_training(inp, state)
    return out
