"""Why answers fail: samples per outcome kind for every shown model, as a stacked bar figure and a table, so
"one model times out more, the other fails on output" is seen, not asserted."""

from __future__ import annotations

import io

from codetune.study.document import Block, Bullets, Heading, Image, Note, Table
from codetune.study.report.inputs import Model, ReportInputs
from codetune.study.report.outcomes import COLORS, KINDS, LABELS, sample_counts

FAILURES_ASSET = "failure_kinds.png"


def _label(m: Model) -> str:
    return m.label + (" (selected)" if m.selected else "")


def figure(models: list[Model], counts: list, kinds: list[str]) -> bytes:
    from codetune.study.plots import pyplot

    plt = pyplot()
    height = 1.2 + 0.24 * len(models)
    fig, ax = plt.subplots(figsize=(8.5, height), dpi=100)
    labels = [_label(m) for m in models]
    left = [0.0] * len(models)
    for k in kinds:
        shares = [100 * c[k] / max(1, sum(c.values())) for c in counts]
        ax.barh(labels, shares, left=left, color=COLORS[k], label=LABELS[k], edgecolor="white", lw=0.4)
        left = [a + b for a, b in zip(left, shares, strict=True)]
    ax.invert_yaxis()  # the base model first, then each run by step, as in the tables
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of answers (%)")
    ax.tick_params(axis="y", labelsize=7)
    ax.margins(y=0.01)
    # Above the bars, where it stays close to the first rows however many models there are.
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=5, frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def section(inp: ReportInputs) -> list[Block]:
    out: list[Block] = [Heading(2, "Failure kinds")]
    ids = set(inp.problems)
    models = [m for m in inp.models if m.eval.scores]
    if not models:
        return out + [Note("No per-problem scores: failure kinds are not recorded.")]
    counts = [sample_counts(list(m.scores(ids).values())) for m in models]
    kinds = [k for k in KINDS if any(c[k] for c in counts)]
    out.append(
        Image(
            FAILURES_ASSET,
            figure(models, counts, kinds),
            alt="share of answers per outcome kind for every model",
            caption="Each bar is one model's answers (one per problem and sample) split by outcome.",
        )
    )
    rows = [
        [_label(m)] + [str(c[k]) for k in kinds] + [str(sum(c.values()))]
        for m, c in zip(models, counts, strict=True)
    ]
    highlight = {i for i, m in enumerate(models) if m.selected}
    out.append(
        Table(
            ["model"] + [LABELS[k] for k in kinds] + ["answers"],
            rows,
            caption="Answers per outcome kind",
            highlight=highlight,
            numeric=set(range(1, len(kinds) + 2)),
        )
    )
    out.append(
        Bullets(
            [
                f
                for m, c in zip(models, counts, strict=True)
                if m.selected or m.run is None
                if (f := _fact(m, c))
            ]
        )
    )
    return out


def _fact(m: Model, c) -> str | None:
    """The base model's and each selected checkpoint's commonest ways to fail, in numbers."""
    failed = {k: n for k, n in c.items() if k != "solved" and n}
    total = sum(failed.values())
    if not total:
        return None
    top = sorted(failed, key=lambda k: (-failed[k], KINDS.index(k)))[:2]
    said = ", then ".join(f"{LABELS[k]} ({failed[k]})" for k in top)
    return f"{_label(m)}: {total} of {sum(c.values())} answers fail, most often by {said}."
