"""Read an instruction dataset into normalised rows, whatever its origin or column names.

Sources: each kind is one module here, a DatasetSource subclass (base.py) that reads its raw rows and owns
its fingerprint identity, what `codetune fetch` downloads and what a dry-run plan counts offline: a hub id
(hub.py), a local .jsonl / .json / .parquet file or downloaded dataset folder (file.py), or the built-in data
(builtin.py). `dataset_source` classifies a spec once: the first kind in KINDS that claims it. A new kind is
a module and its line in KINDS; the CLI's help lists the kinds from their descriptions.

Every row comes out with the same keys:

    problem      the problem statement (user turn)
    answer       code only (instruction mode), or None when the dataset has no such column
    reasoning    reasoning then code (think mode), or None
    split        the row's split value from the data, or None when there is no split column
    problem_id   a hash of the normalised statement: rows with the same problem share it
    id           the dataset's row id when it has one
    where        where the row came from (`file.jsonl:12`, `hub row 12`), for error messages

A required column missing from the whole source is an error naming the column, the source and the columns
found. A single bad row (broken JSON, not UTF-8, a missing or empty value) is an error naming its line, or
skipped and counted when `skip_bad_rows` is set.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codetune.config import DEFAULT_SEED, DatasetConfig
from codetune.data.sources.base import DATASET_BAD_ROWS_HINT, BadRows, DatasetSource
from codetune.data.sources.builtin import BuiltinDataset
from codetune.data.sources.file import FileDataset
from codetune.data.sources.hub import HubDataset
from codetune.errors import CodetuneError

# In the order they are asked: an existing folder or a built-in name would also pass for a hub id.
KINDS: tuple[type[DatasetSource], ...] = (BuiltinDataset, FileDataset, HubDataset)


def kinds_text() -> str:
    """The kinds in words ("a, b or c"), for help texts and errors."""
    words = [k.description for k in KINDS]
    return ", ".join(words[:-1]) + ", or " + words[-1]


def dataset_source(spec: str, base_dir: Path | None = None) -> DatasetSource:
    """The source `spec` (a dataset's `source`) names; `base_dir` is where a relative path is read from."""
    for kind in KINDS:
        if kind.claims(spec, base_dir):
            return kind(spec, base_dir)
    raise CodetuneError(f"dataset.source {spec!r} is not a dataset source; use {kinds_text()}")


def normalise_statement(text: str) -> str:
    """The statement with whitespace collapsed, so re-wrapped copies of one problem count as one problem."""
    return re.sub(r"\s+", " ", text).strip()


def problem_hash(text: str) -> str:
    return hashlib.sha256(normalise_statement(text).encode("utf-8")).hexdigest()[:16]


@dataclass
class LoadedRows:
    """Normalised rows plus what loading them had to skip (never silent)."""

    rows: list[dict[str, Any]]
    source: str
    columns: list[str]  # the columns the source has
    skipped: int = 0
    skipped_examples: list[str] = field(default_factory=list)
    has_split_column: bool = False


def dataset_identity(ds_cfg: DatasetConfig, base_dir: Path | None = None, *, seed: int) -> dict[str, Any]:
    """What identifies a dataset's rows, for stage fingerprints (each kind's `identity`)."""
    return dataset_source(ds_cfg.source, base_dir).identity(ds_cfg, seed=seed)


# ----------------------------------------------------------------------------------------- normalisation


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    return None


def load_rows(
    ds_cfg: DatasetConfig,
    base_dir: Path | None = None,
    *,
    require: tuple[str, ...] = ("problem",),
    seed: int = DEFAULT_SEED,
    bad_rows_hint: str = DATASET_BAD_ROWS_HINT,
) -> list[dict[str, Any]]:
    """Normalised rows (keys: problem, answer, reasoning, split, problem_id, id, where).

    `require` lists the normalised fields every row must have: "problem" always, plus "answer" for
    instruction mode or "reasoning" for think mode. `bad_rows_hint` ends a bad row's error.
    """
    return load_source(ds_cfg, base_dir, require=require, seed=seed, bad_rows_hint=bad_rows_hint).rows


def load_source(
    ds_cfg: DatasetConfig,
    base_dir: Path | None = None,
    *,
    require: tuple[str, ...] = ("problem",),
    seed: int = DEFAULT_SEED,
    bad_rows_hint: str = DATASET_BAD_ROWS_HINT,
) -> LoadedRows:
    """Like load_rows, with the columns found and the count of skipped bad rows."""
    bad = BadRows(ds_cfg.skip_bad_rows, bad_rows_hint)
    raw = dataset_source(ds_cfg.source, base_dir).read(ds_cfg, seed=seed, bad=bad)
    cols = ds_cfg.columns
    columns: list[str] = []
    seen: set[str] = set()
    for _, row in raw:
        for k in row:
            if k not in seen:
                seen.add(k)
                columns.append(k)
    mapping = {"problem": cols.problem, "answer": cols.answer, "reasoning": cols.reasoning}
    for name in require:
        col = mapping[name]
        if col not in seen:
            raise CodetuneError(
                f"dataset {ds_cfg.source}: required column {col!r} ({name}) not found; "
                f"columns found: {', '.join(columns) or '(none: no rows)'}. "
                f"Map it with dataset.columns.{name} in the config."
            )
    split_col = cols.split if cols.split and cols.split in seen else None
    id_col = cols.id if cols.id and cols.id in seen else None

    rows: list[dict[str, Any]] = []
    for where, row in raw:
        values = {name: _text(row.get(col)) for name, col in mapping.items()}
        missing = [mapping[n] for n in require if values[n] is None]
        if missing:
            bad.bad(f"{where}: empty or missing value in column {', '.join(repr(m) for m in missing)}")
            continue
        split = None
        if split_col is not None:
            split = row.get(split_col)
            if split is None or (isinstance(split, str) and not split.strip()):
                bad.bad(f"{where}: empty split value in column {split_col!r}")
                continue
            split = str(split).strip()
        problem = values["problem"] or ""
        rows.append(
            {
                "problem": problem,
                "answer": values["answer"],
                "reasoning": values["reasoning"],
                "split": split,
                "problem_id": problem_hash(problem),
                "id": None if id_col is None or row.get(id_col) is None else str(row.get(id_col)),
                "where": where,
            }
        )
        if ds_cfg.max_rows and len(rows) >= ds_cfg.max_rows:
            break
    return LoadedRows(
        rows=rows,
        source=ds_cfg.source,
        columns=columns,
        skipped=bad.count,
        skipped_examples=bad.examples,
        has_split_column=split_col is not None,
    )
