"""A local JSONL file in LiveCodeBench's row layout (a path relative to the config file's folder)."""

from __future__ import annotations

import json
from pathlib import Path

from codetune.bench.sources.base import BenchmarkRows, BenchmarkSource
from codetune.config import BenchmarkConfig, config_relative
from codetune.errors import CodetuneError


def read_jsonl(path: Path, name: str | None = None) -> list[tuple[str, dict]]:
    """(origin, row) pairs of a JSONL file; `name` is how origins call it (default: the path)."""
    if not path.is_file():
        raise CodetuneError(f"benchmark file not found: {path}")
    name = name or str(path)
    out = []
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise CodetuneError(f"{name}:{lineno}: not UTF-8 text ({e.reason})") from None
            if not line.strip():
                continue
            try:
                out.append((f"{name}:{lineno}", json.loads(line)))
            except json.JSONDecodeError as e:
                raise CodetuneError(f"{name}:{lineno}: invalid JSON ({e.msg} at column {e.colno})") from None
    return out


class LocalBenchmark(BenchmarkSource):
    description = "a local .jsonl file in LiveCodeBench's row layout"

    @classmethod
    def claims(cls, spec: str) -> bool:
        return spec.endswith((".jsonl", ".json")) or spec.startswith((".", "/", "~"))

    @property
    def path(self) -> Path:
        return config_relative(self.spec, self.base_dir)

    def read(self, cfg: BenchmarkConfig, *, seed: int) -> BenchmarkRows:
        return BenchmarkRows(
            read_jsonl(self.path), str(self.path), "no release filter applies to a local file"
        )

    def absolute(self) -> str:
        return str(self.path.resolve())

    def card_name(self, release: str | None) -> tuple[str, str]:
        name = Path(self.spec).name
        return name, f"LiveCodeBench rows from the local file {name}"
