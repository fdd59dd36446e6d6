"""`builtin`: codetune's built-in benchmark (generated problems in LiveCodeBench's row layout)."""

from __future__ import annotations

from codetune.bench.sources.base import BenchmarkRows, BenchmarkSource
from codetune.config import BenchmarkConfig
from codetune.errors import CodetuneError

BUILTIN_SPEC = "builtin"


class BuiltinBenchmark(BenchmarkSource):
    description = "builtin (codetune's built-in benchmark)"

    @classmethod
    def claims(cls, spec: str) -> bool:
        return spec == BUILTIN_SPEC

    def read(self, cfg: BenchmarkConfig, *, seed: int) -> BenchmarkRows:
        try:
            from codetune.data.builtin import builtin_benchmark_rows
        except ImportError:
            raise CodetuneError("benchmark source 'builtin' is not available in this installation") from None
        rows = [
            (f"builtin benchmark row {i}", row) for i, row in enumerate(builtin_benchmark_rows(seed=seed))
        ]
        return BenchmarkRows(
            rows, f"built-in benchmark (seed {seed})", "no release filter applies to the built-in benchmark"
        )

    def card_name(self, release: str | None) -> tuple[str, str]:
        return (
            "codetune/builtin-benchmark",
            "codetune's built-in benchmark (generated problems, not LiveCodeBench)",
        )
