"""Formatting shared by the report's sections: numbers as the tables and sentences print them."""

from __future__ import annotations

import math

from codetune.study.select import interval, pct

__all__ = ["duration", "interval", "loss", "pct", "plural", "points", "pvalue"]


def loss(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.4f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    seconds = float(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def points(x: float) -> str:
    """A difference of two fractions in percentage points, signed."""
    return f"{100 * x:+.1f}"


def pvalue(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.2g}"
