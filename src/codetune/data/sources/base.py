"""What a dataset source is: one kind of `runs.NAME.dataset.source`, which reads raw rows, hashes them for
fingerprints, says what `codetune fetch` downloads and what a dry-run plan can count offline. The kinds and
the one function that classifies a spec are in `codetune.data.sources`; normalising rows is there too."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from codetune.config import DatasetConfig
from codetune.errors import CodetuneError

# What a bad row's error says to do: the config's dataset.skip_bad_rows, or `data profile --skip-bad-rows`.
DATASET_BAD_ROWS_HINT = "set dataset.skip_bad_rows: true (data profile: --skip-bad-rows) to skip bad rows"


class BadRows:
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


class DatasetSource(ABC):
    """One dataset spec of one kind. A subclass says which specs are its kind (`claims`), how it is
    described (`description`, one phrase for the CLI's help), and owns reading and hashing them."""

    description: ClassVar[str]

    def __init__(self, spec: str, base_dir: Path | None = None) -> None:
        self.spec = spec
        self.base_dir = base_dir  # the config file's folder: where a relative path is read from

    @classmethod
    @abstractmethod
    def claims(cls, spec: str, base_dir: Path | None) -> bool:
        """Whether `spec` is of this kind (the registry asks each kind in order)."""

    @abstractmethod
    def read(self, ds_cfg: DatasetConfig, *, seed: int, bad: BadRows) -> list[tuple[str, dict]]:
        """(where, raw row) pairs in source order, before any column mapping."""

    @abstractmethod
    def identity(self, ds_cfg: DatasetConfig, *, seed: int) -> dict[str, Any]:
        """What identifies the rows, for stage fingerprints (read offline: a hub dataset's cached revision)."""

    def fetch(self, ds_cfg: DatasetConfig) -> tuple[Path, str | None] | None:
        """(folder, commit) of what `codetune fetch` brought into the hub cache; None: nothing to download."""
        return None

    def train_rows(self, ds_cfg: DatasetConfig, *, seed: int) -> int | None:
        """About how many rows train, as a dry-run plan counts them without the network (None: unknown)."""
        return None
