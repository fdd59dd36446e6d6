"""Does lower loss mean higher pass@1? Per run, validation loss and pass@1 against step on one figure, and
Spearman's rank correlation between them over the run's shown checkpoints."""

from __future__ import annotations

import io
import math

from codetune.study.document import Block, Bullets, Heading, Image, Note
from codetune.study.report.common import plural
from codetune.study.report.inputs import Model, ReportInputs
from codetune.study.stats import spearman

CURVES_ASSET = "loss_vs_pass.png"


def _points(models: list[Model]) -> list[Model]:
    return [
        m
        for m in models
        if m.step is not None and m.row.val_loss is not None and math.isfinite(m.row.val_loss)
    ]


def _losses(points: list[Model]) -> list[float]:
    """The validation losses of `_points`' models (each has one)."""
    return [m.row.val_loss for m in points if m.row.val_loss is not None]


def figure(runs: dict[str, list[Model]]) -> bytes:
    from matplotlib.ticker import MaxNLocator

    from codetune.study.plots import pyplot

    plt = pyplot()
    n = len(runs)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 3.6), dpi=100, squeeze=False)
    for ax, (name, ms) in zip(axes[0], runs.items(), strict=True):
        steps = [m.step for m in ms]
        ax.plot(steps, [m.row.val_loss for m in ms], color="C0", marker="o", ms=3, label="validation loss")
        ax.set_xlabel("training step")
        ax.set_ylabel("validation loss", color="C0")
        right = ax.twinx()
        right.plot(steps, [100 * m.row.pass1 for m in ms], color="C3", marker="s", ms=3, label="pass@1")
        right.set_ylabel("pass@1 (%)", color="C3")
        rho = spearman(_losses(ms), [m.row.pass1 for m in ms])
        ax.set_title(f"{name}: Spearman {'n/a' if rho is None else f'{rho:+.2f}'}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def section(inp: ReportInputs) -> list[Block]:
    out: list[Block] = [Heading(2, "Loss against pass@1")]
    runs = {n: pts for n, ms in inp.runs.items() if (pts := _points(ms))}
    if not runs:
        return out + [
            Note("No checkpoint has both a validation loss and a pass@1 to set against each other.")
        ]
    facts = []
    for name, ms in runs.items():
        rho = spearman(_losses(ms), [m.row.pass1 for m in ms])
        if rho is None:
            facts.append(
                f"{name}: no rank correlation ({plural(len(ms), 'checkpoint')}; it needs 3 or more and neither "
                "series constant)."
            )
            continue
        reading = (
            "lower loss went with higher pass@1" if rho < 0 else "lower loss did not go with higher pass@1"
        )
        facts.append(
            f"{name}: Spearman rank correlation between validation loss and pass@1 over its "
            f"{len(ms)} evaluated checkpoints is {rho:+.2f} ({reading}; -1 would mean pass@1 rises "
            "exactly as loss falls)."
        )
    # A run with one checkpoint has no curve to draw: its line above says so.
    drawn = {n: ms for n, ms in runs.items() if len(ms) >= 2}
    if not drawn:
        return out + [Bullets(facts)]
    out.append(
        Image(
            CURVES_ASSET,
            figure(drawn),
            alt="validation loss and pass@1 against step, one panel per run",
            caption="Blue: validation loss (left axis); red: pass@1 (right axis), at each evaluated checkpoint.",
        )
    )
    out.append(Bullets(facts))
    return out
