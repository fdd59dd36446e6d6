"""Train / valid / test by problem: a split column is honoured; otherwise a seeded split of whole problems.

Splitting by problem (rows grouped by the hash of the normalised statement) keeps every solution of a problem
in one split, so validation and test loss measure unseen problems rather than memorised siblings.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from codetune.config import DatasetConfig
from codetune.errors import CodetuneError

SPLITS = ("train", "valid", "test")


def seeded_problem_split(problem_ids: list[str], ratios: dict[str, float], seed: int) -> dict[str, str]:
    """problem_id -> split name. Deterministic for a seed and independent of row order.

    Problems are shuffled with the seed and cut by the ratios; valid and test get at least one problem
    each when there are at least three problems, so a small dataset never yields an empty split by rounding.
    """
    unique = sorted(set(problem_ids))
    random.Random(seed).shuffle(unique)
    n = len(unique)
    n_valid = round(n * ratios["valid"])
    n_test = round(n * ratios["test"])
    if n >= 3:
        n_valid, n_test = max(1, n_valid), max(1, n_test)
    n_valid = min(n_valid, n)
    n_test = min(n_test, n - n_valid)
    out = {}
    for i, pid in enumerate(unique):
        if i < n_valid:
            out[pid] = "valid"
        elif i < n_valid + n_test:
            out[pid] = "test"
        else:
            out[pid] = "train"
    return out


def assign_splits(rows: list[dict[str, Any]], ds_cfg: DatasetConfig, seed: int) -> dict[str, list[dict]]:
    """Rows grouped into train / valid / test.

    With a split column its values are mapped through `split_names`; a value that maps to no split is an
    error listing the values found (a dataset saying "validation" needs `split_names: {valid: validation}`).
    Without one, the seeded split by problem decides.
    """
    out: dict[str, list[dict]] = {s: [] for s in SPLITS}
    if rows and rows[0]["split"] is not None:
        by_value = {v: k for k, v in ds_cfg.split_names.items()}
        unknown = sorted({r["split"] for r in rows} - set(by_value))
        if unknown:
            raise CodetuneError(
                f"dataset {ds_cfg.source}: split column {ds_cfg.columns.split!r} has values "
                f"{', '.join(map(repr, unknown))} that map to no split; expected "
                f"{', '.join(map(repr, by_value))} (set dataset.split_names in the config)"
            )
        for r in rows:
            out[by_value[r["split"]]].append(r)
        return out
    ratios = ds_cfg.split_ratios.model_dump()
    assignment = seeded_problem_split([r["problem_id"] for r in rows], ratios, seed)
    for r in rows:
        out[assignment[r["problem_id"]]].append(r)
    return out


def cross_split_problems(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """problem_id -> the splits it appears in, for problems found in more than one split."""
    seen: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        seen[r["problem_id"]].add(r["split"])
    return {pid: sorted(s) for pid, s in seen.items() if len(s) > 1}
