"""The task families, by topic. `FAMILIES` is the fixed order every build walks."""

from __future__ import annotations

from . import arithmetic, dates, grids, number_theory, sequences, simulation, strings
from .base import Family, Solution

FAMILIES: tuple[Family, ...] = (
    *arithmetic.FAMILIES,
    *number_theory.FAMILIES,
    *strings.FAMILIES,
    *sequences.FAMILIES,
    *simulation.FAMILIES,
    *grids.FAMILIES,
    *dates.FAMILIES,
)

TRAIN_FAMILIES = tuple(f for f in FAMILIES if not f.held_out)
HELD_OUT_FAMILIES = tuple(f for f in FAMILIES if f.held_out)

__all__ = ["FAMILIES", "HELD_OUT_FAMILIES", "TRAIN_FAMILIES", "Family", "Solution"]
