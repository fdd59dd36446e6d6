"""Benchmark sources: where `benchmark.source` reads LiveCodeBench rows from.

Each kind is one module here, a BenchmarkSource subclass (base.py) that reads its rows and owns what
`codetune fetch` downloads, what a dry run reads offline and how the report and model card name it.
`benchmark_source` classifies a spec once: the first kind in KINDS that claims it. A new kind is a module
and its line in KINDS; the CLI's help lists the kinds from their descriptions.
"""

from __future__ import annotations

from pathlib import Path

from codetune.bench.sources.base import BenchmarkRows, BenchmarkSource
from codetune.bench.sources.builtin import BuiltinBenchmark
from codetune.bench.sources.hub import HubBenchmark
from codetune.bench.sources.local import LocalBenchmark
from codetune.errors import CodetuneError

# In the order they are asked: `builtin` and a local path would also pass for hub ids.
KINDS: tuple[type[BenchmarkSource], ...] = (BuiltinBenchmark, LocalBenchmark, HubBenchmark)

__all__ = ["KINDS", "BenchmarkRows", "BenchmarkSource", "benchmark_source", "kinds_text"]


def kinds_text() -> str:
    """The kinds in words ("a, b or c"), for help texts and errors."""
    words = [k.description for k in KINDS]
    return ", ".join(words[:-1]) + ", or " + words[-1]


def benchmark_source(spec: str, base_dir: Path | None = None) -> BenchmarkSource:
    """The source `spec` (a `benchmark.source`) names; `base_dir` is where a relative path is read from."""
    for kind in KINDS:
        if kind.claims(spec):
            return kind(spec, base_dir)
    raise CodetuneError(f"benchmark.source {spec!r} is not a benchmark source; use {kinds_text()}")
