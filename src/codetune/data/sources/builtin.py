"""`builtin:deep` / `builtin:diverse`: codetune's built-in training data (codetune.data.builtin)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, cast

from codetune.config import DatasetConfig
from codetune.data.sources.base import BadRows, DatasetSource
from codetune.errors import CodetuneError

PREFIX = "builtin:"
VARIANTS = ("deep", "diverse")


class BuiltinDataset(DatasetSource):
    description = " or ".join(PREFIX + v for v in VARIANTS) + " (codetune's built-in data)"

    @classmethod
    def claims(cls, spec: str, base_dir: Path | None) -> bool:
        return spec.startswith(PREFIX)

    def read(self, ds_cfg: DatasetConfig, *, seed: int, bad: BadRows) -> list[tuple[str, dict]]:
        variant = self.spec[len(PREFIX) :]
        if variant not in VARIANTS:
            raise CodetuneError(
                f"unknown built-in dataset {self.spec!r}; choose one of "
                + ", ".join(PREFIX + v for v in VARIANTS)
            )
        try:
            from codetune.data.builtin import builtin_instruction_rows
        except ImportError as e:
            raise CodetuneError(f"built-in data is not available in this install: {e}") from None
        rows = builtin_instruction_rows(cast(Literal["deep", "diverse"], variant), seed=seed)
        return [(f"{self.spec} row {i}", row) for i, row in enumerate(rows)]

    def identity(self, ds_cfg: DatasetConfig, *, seed: int) -> dict[str, Any]:
        from codetune.data.builtin import builtin_version

        return {"builtin": self.spec, "seed": seed, "version": builtin_version()}

    def train_rows(self, ds_cfg: DatasetConfig, *, seed: int) -> int | None:
        try:
            from codetune.data.builtin import builtin_split_sizes
        except ImportError:
            return None
        return builtin_split_sizes(self.spec, seed=seed).get("train")
