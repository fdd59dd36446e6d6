"""A local .jsonl / .json / .parquet file, or a downloaded dataset folder (read by `datasets`); a relative
path is read from the config file's folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codetune.config import DatasetConfig, config_relative
from codetune.data.sources.base import BadRows, DatasetSource
from codetune.errors import CodetuneError
from codetune.fingerprint import file_sha256, folder_sha256

SUFFIXES = (".jsonl", ".json", ".parquet")


def _read_jsonl(path: Path, bad: BadRows) -> list[tuple[str, dict]]:
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


def _read_json(path: Path, bad: BadRows) -> list[tuple[str, dict]]:
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


def read_dataset_folder(folder: Path, ds_cfg: DatasetConfig, name: str) -> list[tuple[str, dict]]:
    """The rows of a dataset folder (a hub snapshot or a downloaded copy) as `datasets` reads them."""
    import datasets

    try:
        ds = datasets.load_dataset(str(folder), split=ds_cfg.hub_split)
    except Exception as e:  # no data files, bad split, unreadable file: all user-fixable, so one clear line
        raise CodetuneError(
            f"cannot read dataset {name!r} (split {ds_cfg.hub_split!r}): {type(e).__name__}: {e}"
        ) from None
    return [(f"{name} row {i}", row) for i, row in enumerate(ds)]


def split_counts(path: Path, split_column: str | None) -> dict[str, int] | None:
    """Row counts per split value of a local JSONL file (all rows under 'all' when there is no split column)."""
    if path.suffix != ".jsonl" or not path.is_file():
        return None
    counts: dict[str, int] = {}
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            key = str(row.get(split_column, "all")) if split_column else "all"
            counts[key] = counts.get(key, 0) + 1
    return counts


class FileDataset(DatasetSource):
    description = "a local .jsonl/.json/.parquet file or dataset folder"

    @classmethod
    def claims(cls, spec: str, base_dir: Path | None) -> bool:
        if not spec:  # Path("") is the config's own folder
            return False
        path = cls(spec, base_dir).path
        return path.exists() or path.suffix.lower() in SUFFIXES or spec.startswith((".", "/", "~"))

    @property
    def path(self) -> Path:
        return config_relative(self.spec, self.base_dir)

    def _existing(self) -> Path:
        if not self.path.exists():
            raise CodetuneError(f"dataset file not found: {self.path}")
        return self.path

    def read(self, ds_cfg: DatasetConfig, *, seed: int, bad: BadRows) -> list[tuple[str, dict]]:
        path = self._existing()
        if path.is_dir():  # a downloaded hub dataset snapshot: let `datasets` read it
            return read_dataset_folder(path, ds_cfg, str(path))
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            return _read_jsonl(path, bad)
        if suffix == ".json":
            return _read_json(path, bad)
        if suffix == ".parquet":
            return _read_parquet(path)
        raise CodetuneError(
            f"{path}: unsupported dataset file type {suffix!r}; use .jsonl, .json or .parquet"
        )

    def identity(self, ds_cfg: DatasetConfig, *, seed: int) -> dict[str, Any]:
        path = self._existing()
        return {"sha256": folder_sha256(path) if path.is_dir() else file_sha256(path)}

    def fetch(self, ds_cfg: DatasetConfig) -> None:
        self._existing()  # nothing to download, but a missing file is said now, not on the compute node

    def train_rows(self, ds_cfg: DatasetConfig, *, seed: int) -> int | None:
        counts = split_counts(self.path, ds_cfg.columns.split)
        if counts is None:
            return None
        if "all" in counts and len(counts) == 1:
            n = counts["all"]
            if ds_cfg.max_rows:
                n = min(n, ds_cfg.max_rows)
            return int(n * ds_cfg.split_ratios.train)  # approximate: the split is by problem
        return counts.get(ds_cfg.split_names["train"])
