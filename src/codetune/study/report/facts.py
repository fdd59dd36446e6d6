"""Sentences built from numbers: a run's loss curve, a paired comparison."""

from __future__ import annotations

from codetune.records import MetricsRow, RunSummary
from codetune.study.report.common import loss as _loss
from codetune.study.report.common import plural as _plural


def loss_facts(rows: list[MetricsRow], summary: RunSummary | None, patience: int | None) -> list[str]:
    """Sentences about a run's loss curves, each a number read off the rows."""
    if not rows:
        return ["No losses were logged."]
    facts = []
    steps = [r.step for r in rows]
    gaps = sorted({b - a for a, b in zip(steps, steps[1:], strict=False)})
    every = f" (every {gaps[0]} steps)" if len(gaps) == 1 else ""
    facts.append(f"{_plural(len(rows), 'evaluation')} from step {steps[0]} to step {steps[-1]}{every}.")
    train = [r for r in rows if r.train_loss is not None]
    if len(train) >= 2:
        a, b = train[0], train[-1]
        assert a.train_loss is not None and b.train_loss is not None  # (train holds only those)
        trend = "fell" if b.train_loss < a.train_loss else "rose"
        facts.append(
            f"Training loss (mean over each interval) {trend} from {_loss(a.train_loss)} at step {a.step} "
            f"to {_loss(b.train_loss)} at step {b.step}."
        )
    for key, label in (("val_loss", "Validation"), ("test_loss", "Test")):
        vals = [getattr(r, key) for r in rows]
        i = min(range(len(vals)), key=lambda j: vals[j])
        s = f"{label} loss is lowest at step {steps[i]} ({_loss(vals[i])})"
        if i == len(vals) - 1:
            s += ", the last evaluation" + (": it was still falling." if len(vals) > 1 else ".")
        else:
            rises = 0
            while i + rises + 1 < len(vals) and vals[i + rises + 1] > vals[i + rises]:
                rises += 1
            after = len(vals) - 1 - i
            if rises == after == 1:
                s += " and is higher at the one evaluation after it"
            elif rises == after:
                s += f" and rises at each of the {after} evaluations after it"
            elif rises:
                s += f" and rises for the next {_plural(rises, 'evaluation')}"
            s += f" (last: {_loss(vals[-1])} at step {steps[-1]})."
        facts.append(s)
    last = rows[-1]
    if last.train_loss is not None:
        facts.append(
            f"At the last evaluation (step {last.step}) train loss is {_loss(last.train_loss)}, validation "
            f"{_loss(last.val_loss)}, test {_loss(last.test_loss)}."
        )
    if summary is not None:
        k, o = summary.overfit_patience, summary.overfitting_step
        if o is not None:
            facts.append(
                f"Overfitting signal: after its minimum, validation loss rose {k} evaluations in a row "
                f"starting at step {o}."
            )
        elif k:
            facts.append(
                f"No overfitting signal: validation loss never rose {k} evaluations in a row after its minimum."
            )
    return facts


def paired_sentence(pc) -> str:
    lo, hi = pc.diff_ci
    return (
        f"{pc.name_a} vs {pc.name_b} on {pc.n} problems: both solve {pc.both}, only {pc.name_a} "
        f"{pc.only_a}, only {pc.name_b} {pc.only_b}, neither {pc.neither}; difference in problems solved "
        f"{100 * pc.solved_diff:+.1f} points (95% interval {100 * lo:+.1f} to {100 * hi:+.1f}, "
        f"{pc.diff_ci_method}); exact McNemar test: {pc.verdict}."
    )
