"""Built-in data for the embedded default, written by the codetune project (no third-party text).

Small stdin/stdout tasks from task families (arithmetic, parity, gcd/lcm, strings, sorting, prefix sums,
simulation, grids, dates, ...), each instance with an AtCoder-style statement, tests from a reference
solution, several independent solutions that are all run against the tests when the data is built, and:

- `builtin_instruction_rows("deep")`: one row per problem, numbered reasoning in <think>, then the code;
- `builtin_instruction_rows("diverse")`: one row per (problem, solution), every solution different;
- `builtin_benchmark_rows()`: LiveCodeBench code_generation_lite rows from held-out instances of the
  training families and from held-out families that never appear in the training rows
  (metadata `held_out`: "instance" or "family").

Everything is deterministic for a seed and cached under $CODETUNE_HOME/builtin/<version>-<seed>/.
"""

from __future__ import annotations

import json
from typing import Literal

from codetune.config import DEFAULT_SEED
from codetune.errors import CodetuneError

from .build import DATA_VERSION, build, cache_dir, generate, read_jsonl, source_hash
from .verify import BuiltinDataError

VARIANTS = ("deep", "diverse")

__all__ = [
    "BuiltinDataError",
    "builtin_benchmark_rows",
    "builtin_instruction_rows",
    "builtin_split_sizes",
    "builtin_version",
]


def _variant(source: str) -> str:
    name = source.removeprefix("builtin:")
    if name not in VARIANTS:
        raise CodetuneError(
            f"unknown built-in dataset {source!r}; built-in datasets: builtin:deep, builtin:diverse"
        )
    return name


def builtin_instruction_rows(variant: Literal["deep", "diverse"], seed: int = DEFAULT_SEED) -> list[dict]:
    """Training rows in the Naholav CodeGen schema (id, input, output, solution, split, difficulty, source,
    license, dataset, family, problem_id); splits are by problem."""
    name = _variant(variant)
    return read_jsonl(build(seed) / f"{name}.jsonl")


def builtin_benchmark_rows(seed: int = DEFAULT_SEED) -> list[dict]:
    """Benchmark rows with exactly the fields of LiveCodeBench's code_generation_lite."""
    return read_jsonl(build(seed) / "benchmark.jsonl")


def builtin_split_sizes(source: str, seed: int = DEFAULT_SEED) -> dict[str, int]:
    """Rows per split of `builtin:deep` / `builtin:diverse`, without running any solution."""
    name = _variant(source)
    meta = cache_dir(seed) / "meta.json"
    if meta.is_file():
        return json.loads(meta.read_text())["split_sizes"][name]
    from .rows import deep_rows, diverse_rows, split_sizes

    problems = generate(seed)
    return split_sizes(deep_rows(problems, seed) if name == "deep" else diverse_rows(problems, seed))


def builtin_version() -> str:
    """The generator's version and source hash: with the seed, it decides every built-in row."""
    return f"{DATA_VERSION}.{source_hash()}"
