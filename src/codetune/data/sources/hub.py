"""A dataset on the Hugging Face Hub: its data files fetched into the Hugging Face cache with
huggingface_hub, then read by `datasets` from that snapshot, so the same code runs online and with
HF_HUB_OFFLINE=1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codetune import hub
from codetune.config import DatasetConfig
from codetune.data.sources.base import BadRows, DatasetSource
from codetune.data.sources.file import read_dataset_folder

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


class HubDataset(DatasetSource):
    description = "a hub dataset id (owner/name)"

    @classmethod
    def claims(cls, spec: str, base_dir: Path | None) -> bool:
        return hub.is_repo_id(spec)

    def read(self, ds_cfg: DatasetConfig, *, seed: int, bad: BadRows) -> list[tuple[str, dict]]:
        folder, _ = self.fetch(ds_cfg)
        return read_dataset_folder(folder, ds_cfg, self.spec)

    def identity(self, ds_cfg: DatasetConfig, *, seed: int) -> dict[str, Any]:
        """The revision (None when neither configured nor cached): read offline, from the cache."""
        return {"hub": self.spec, "revision": hub.cached_revision(self.spec, "dataset", ds_cfg.revision)}

    def fetch(self, ds_cfg: DatasetConfig) -> tuple[Path, str | None]:
        return hub.snapshot(
            self.spec, repo_type="dataset", revision=ds_cfg.revision, allow_patterns=DATA_PATTERNS
        )
