"""What a benchmark source is: one kind of `benchmark.source`, which reads LiveCodeBench rows, says what
`codetune fetch` brings into the cache and what a dry run can read offline, and names itself in the report
and the model card. The kinds and the one function that classifies a spec are in `codetune.bench.sources`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from codetune.config import BenchmarkConfig
from codetune.hub import HubFile


@dataclass
class BenchmarkRows:
    """A source's raw rows, with what the load line and the selection record say about them."""

    rows: list[tuple[str, dict]]  # (origin, row): origin is file:line or hub file:line
    origin: str  # how the load line names the source
    note: str  # what the load line adds in brackets (the files read, or why no release filter applies)
    release: str | None = None  # the release read (hub only)
    files: list[HubFile] = field(default_factory=list)  # the hub files read, all from one commit


class BenchmarkSource(ABC):
    """One `benchmark.source` spec of one kind. A subclass says which specs are its kind (`claims`), how
    it is described (`description`, one phrase for the config's help and the CLI's), and owns reading."""

    description: ClassVar[str]
    # Readable without the network: a dry run hashes its problems; a hub release is not read offline.
    offline: ClassVar[bool] = True
    # Whether benchmark.release filters it (the report shows the release only where it does).
    uses_release: ClassVar[bool] = False

    def __init__(self, spec: str, base_dir: Path | None = None) -> None:
        self.spec = spec
        self.base_dir = base_dir  # the config file's folder: where a relative path is read from

    @classmethod
    @abstractmethod
    def claims(cls, spec: str) -> bool:
        """Whether `spec` is of this kind (the registry asks each kind in order)."""

    @abstractmethod
    def read(self, cfg: BenchmarkConfig, *, seed: int) -> BenchmarkRows:
        """Every row, unparsed and unfiltered; `seed` picks the built-in benchmark."""

    def fetch(self, cfg: BenchmarkConfig) -> list[HubFile]:
        """The hub files `codetune fetch` brings into the cache (downloaded when missing); none by default."""
        return []

    def absolute(self) -> str:
        """The spec as it reads from any folder (an imported study's config is written elsewhere)."""
        return self.spec

    @abstractmethod
    def card_name(self, release: str | None) -> tuple[str, str]:
        """(the dataset id a model card's metadata names, the benchmark in words)."""
