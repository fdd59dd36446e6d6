"""The report's charts as PNG bytes (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import io

from codetune.records import MetricsRow, ModelRow
from codetune.train.summary import plot_losses


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display); every report figure draws through it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_png(rows: list[MetricsRow], *, title: str, overfit_step: int | None) -> bytes:
    """Train / validation / test loss against step, minimum test loss marked (the trainer's own chart)."""
    buf = io.BytesIO()
    plot_losses(rows, buf, title=title, overfit_step=overfit_step)
    return buf.getvalue()


def pass_at_step_png(
    series: dict[str, list[ModelRow]], *, base: ModelRow | None, best: dict[str, ModelRow], title: str
) -> bytes:
    """pass@1 against step for every run on one chart, 95% Wilson intervals as error bars, each run's
    selected checkpoint starred, the base model as a dashed line with its interval shaded."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 4.6), dpi=110)
    for i, (run, rows) in enumerate(series.items()):
        stepped = sorted(((r.step, r) for r in rows if r.step is not None), key=lambda sr: sr[0])
        if not stepped:
            continue
        color = f"C{i}"
        steps = [s for s, _ in stepped]
        rows = [r for _, r in stepped]
        ys = [100 * r.pass1 for r in rows]
        lo = [100 * (r.pass1 - r.wilson[0]) if r.wilson else 0 for r in rows]
        hi = [100 * (r.wilson[1] - r.pass1) if r.wilson else 0 for r in rows]
        # Runs share steps; a small horizontal offset keeps their error bars apart.
        span = (max(steps) - min(steps)) or 1
        dx = (i - (len(series) - 1) / 2) * span * 0.008
        ax.errorbar(
            [s + dx for s in steps],
            ys,
            yerr=[lo, hi],
            color=color,
            marker="o",
            ms=4,
            capsize=3,
            lw=1.5,
            label=run,
            alpha=0.9,
        )
        b = best.get(run)
        if b is not None and b.step is not None:
            ax.scatter(
                [b.step + dx],
                [100 * b.pass1],
                marker="*",
                s=220,
                color=color,
                edgecolors="black",
                zorder=5,
                label=f"{run} selected (step {b.step})",
            )
    if base is not None:
        ax.axhline(
            100 * base.pass1, color="grey", ls="--", lw=1.2, label=f"base model ({100 * base.pass1:.1f}%)"
        )
        if base.wilson:
            ax.axhspan(100 * base.wilson[0], 100 * base.wilson[1], color="grey", alpha=0.12)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    ax.set_xlabel("training step")
    ax.set_ylabel("pass@1 (%)")
    # A little room below 0 so that points at 0% are not hidden by the axis.
    ax.set_ylim(bottom=-2)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    # Below the axes, so it never hides an error bar.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
