"""Read an instruction dataset into normalised rows, whatever its origin or column names.

Sources: a hub id (its data files fetched into the Hugging Face cache with huggingface_hub, then read
by `datasets` from that snapshot, so the same code runs online and with HF_HUB_OFFLINE=1), a downloaded
dataset folder (`datasets.load_dataset`), a local .jsonl / .json / .parquet file, or the built-in data
(`builtin:deep`, `builtin:diverse`). Every row comes out with the
same keys:

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
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codetune import hub
from codetune.config import DEFAULT_SEED, DatasetConfig
from codetune.errors import CodetuneError
from codetune.fingerprint import file_sha256, folder_sha256

BUILTIN_PREFIX = "builtin:"
BUILTIN_VARIANTS = ("deep", "diverse")
LOCAL_SUFFIXES = (".jsonl", ".json", ".parquet")


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


def is_builtin(source: str) -> bool:
    return source.startswith(BUILTIN_PREFIX)


def resolve_local(source: str, base_dir: Path | None) -> Path | None:
    """The local file a source names, or None when it looks like a hub id."""
    p = Path(source).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    if p.exists():
        return p
    if p.suffix.lower() in LOCAL_SUFFIXES or source.startswith((".", "/", "~")):
        raise CodetuneError(f"dataset file not found: {p}")
    return None


def dataset_identity(ds_cfg: DatasetConfig, base_dir: Path | None = None, *, seed: int) -> dict[str, Any]:
    """What identifies a dataset's rows, for stage fingerprints: a local file's or folder's sha256, a hub
    dataset's revision (None when neither configured nor cached), the built-in generator's version and seed."""
    source = ds_cfg.source
    if is_builtin(source):
        from codetune.data.builtin import builtin_version

        return {"builtin": source, "seed": seed, "version": builtin_version()}
    path = resolve_local(source, base_dir)
    if path is None:
        return {"hub": source, "revision": hub.cached_revision(source, "dataset", ds_cfg.revision)}
    return {"sha256": folder_sha256(path) if path.is_dir() else file_sha256(path)}


# ---------------------------------------------------------------------------------------------- raw readers


# What a bad row's error says to do: the config's dataset.skip_bad_rows, or `data profile --skip-bad-rows`.
DATASET_BAD_ROWS_HINT = "set dataset.skip_bad_rows: true (data profile: --skip-bad-rows) to skip bad rows"


class _BadRows:
    """Collects bad rows: raises on the first one unless skipping, then counts them."""

    def __init__(self, skip: bool, hint: str = DATASET_BAD_ROWS_HINT) -> None:
        self.skip = skip
        self.hint = hint
        self.count = 0
        self.examples: list[str] = []

    def bad(self, message: str) -> None:
        if not self.skip:
            raise CodetuneError(f"{message} ({self.hint})")
        self.count += 1
        if len(self.examples) < 5:
            self.examples.append(message)


def _read_jsonl(path: Path, bad: _BadRows) -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = []
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                bad.bad(f"{where}: not UTF-8 ({e.reason} at byte {e.start})")
                continue
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                bad.bad(f"{where}: broken JSON ({e.msg} at character {e.pos + 1})")
                continue
            if not isinstance(row, dict):
                bad.bad(f"{where}: expected a JSON object, got {type(row).__name__}")
                continue
            out.append((where, row))
    return out


def _read_json(path: Path, bad: _BadRows) -> list[tuple[str, dict]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise CodetuneError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        # Many ".json" files are really JSON Lines; read them as such (with line numbers in errors).
        return _read_jsonl(path, bad)
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise CodetuneError(f"{path}: expected a list of rows or an object holding one list of rows")
        data = lists[0]
    if not isinstance(data, list):
        raise CodetuneError(f"{path}: expected a list of rows, got {type(data).__name__}")
    out = []
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            bad.bad(f"{path}: row {i}: expected an object, got {type(row).__name__}")
            continue
        out.append((f"{path} row {i}", row))
    return out


def _read_parquet(path: Path) -> list[tuple[str, dict]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several unrelated types for a corrupt file
        raise CodetuneError(f"{path}: cannot read Parquet: {e}") from None
    return [(f"{path} row {i}", row) for i, row in enumerate(table.to_pylist())]


# What a dataset snapshot needs to be read (the card's YAML names the data files); images and the like are
# left on the hub.
DATA_PATTERNS = [
    "*.md",
    "*.json",
    "*.jsonl",
    "*.jsonl.gz",
    "*.parquet",
    "*.csv",
    "*.arrow",
    "*.txt",
    "*.yaml",
]


def fetch_hub_dataset(ds_cfg: DatasetConfig) -> tuple[Path, str | None]:
    """(snapshot folder, commit sha) of a hub dataset in the Hugging Face cache, downloading what is missing."""
    return hub.snapshot(
        ds_cfg.source, repo_type="dataset", revision=ds_cfg.revision, allow_patterns=DATA_PATTERNS
    )


def _read_dataset_folder(folder: Path, ds_cfg: DatasetConfig, name: str) -> list[tuple[str, dict]]:
    import datasets

    try:
        ds = datasets.load_dataset(str(folder), split=ds_cfg.hub_split)
    except Exception as e:  # no data files, bad split, unreadable file: all user-fixable, so one clear line
        raise CodetuneError(
            f"cannot read dataset {name!r} (split {ds_cfg.hub_split!r}): {type(e).__name__}: {e}"
        ) from None
    return [(f"{name} row {i}", row) for i, row in enumerate(ds)]


def _read_hub(ds_cfg: DatasetConfig) -> list[tuple[str, dict]]:
    folder, _ = fetch_hub_dataset(ds_cfg)
    return _read_dataset_folder(folder, ds_cfg, ds_cfg.source)


def _read_builtin(source: str, seed: int) -> list[tuple[str, dict]]:
    variant = source[len(BUILTIN_PREFIX) :]
    if variant not in BUILTIN_VARIANTS:
        raise CodetuneError(
            f"unknown built-in dataset {source!r}; choose one of "
            + ", ".join(BUILTIN_PREFIX + v for v in BUILTIN_VARIANTS)
        )
    try:
        from codetune.data.builtin import builtin_instruction_rows
    except ImportError as e:
        raise CodetuneError(f"built-in data is not available in this install: {e}") from None
    return [(f"{source} row {i}", row) for i, row in enumerate(builtin_instruction_rows(variant, seed=seed))]


def read_raw_rows(
    ds_cfg: DatasetConfig,
    base_dir: Path | None = None,
    *,
    seed: int = DEFAULT_SEED,
    bad: _BadRows | None = None,
) -> list[tuple[str, dict]]:
    """(where, raw row) pairs in source order, before any column mapping."""
    bad = bad or _BadRows(ds_cfg.skip_bad_rows)
    source = ds_cfg.source
    if is_builtin(source):
        return _read_builtin(source, seed)
    path = resolve_local(source, base_dir)
    if path is None:
        return _read_hub(ds_cfg)
    if path.is_dir():  # a downloaded hub dataset snapshot: let `datasets` read it
        return _read_dataset_folder(path, ds_cfg, str(path))
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _read_jsonl(path, bad)
    if suffix == ".json":
        return _read_json(path, bad)
    if suffix == ".parquet":
        return _read_parquet(path)
    raise CodetuneError(f"{path}: unsupported dataset file type {suffix!r}; use .jsonl, .json or .parquet")


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
    bad = _BadRows(ds_cfg.skip_bad_rows, bad_rows_hint)
    raw = read_raw_rows(ds_cfg, base_dir, seed=seed, bad=bad)
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
