"""A dataset's measured shape: what `codetune data profile` prints and the study keeps per run (records.DatasetProfile).

Cards and write-ups disagree about how many solutions per problem these datasets hold, so the profile
counts it: rows, unique problems (rows grouped by the hash of the normalised statement), solutions per
problem, split sizes and problems that cross splits, exact duplicates, and, given a tokenizer, the token
lengths of the rendered chats and how many rows a max length would cut.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codetune.config import DEFAULT_MAX_SEQ_LENGTH, DEFAULT_SEED, DatasetConfig
from codetune.data.formatting import Mode, assistant_text, chat_messages, render_chat
from codetune.data.sources import load_source, normalise_statement
from codetune.data.splits import SPLITS, cross_split_problems, seeded_problem_split
from codetune.records import DatasetProfile

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

PROFILE_VERSION = 1  # bump when what the profile measures changes, so studies measure their data again
PERCENTILES = (50, 90, 95, 99)
EXAMPLES = 3


def _excerpt(text: str, n: int = 100) -> str:
    text = normalise_statement(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def _percentile(sorted_values: list[int], q: float) -> int:
    """Nearest-rank percentile: a length that some row really has."""
    k = max(0, min(len(sorted_values) - 1, int(-(-q * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


def token_lengths(
    rows: list[dict], tokenizer: PreTrainedTokenizerBase, mode: Mode, system_prompt: str | None
) -> list[int]:
    """Token count of each row's whole rendered conversation (what training would see before truncation)."""
    texts = [
        render_chat(
            tokenizer,
            chat_messages(r["problem"], assistant_text(r, mode), system_prompt),
            generation_prompt=False,
        )
        for r in rows
    ]
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def profile_dataset(
    ds_cfg: DatasetConfig,
    *,
    base_dir: Path | None = None,
    tokenizer: PreTrainedTokenizerBase | None = None,
    max_length: int = DEFAULT_MAX_SEQ_LENGTH,
    seed: int = DEFAULT_SEED,
    system_prompt: str | None = None,
    modes: tuple[str, ...] = ("instruction", "think"),
) -> DatasetProfile:
    """The profile (records.DatasetProfile).

    Fields: source, columns, rows, bad_rows_skipped, unique_problems, solutions_per_problem
    {min, median, max, mean}, problems_by_solution_count {k: problems}, split_from, splits {name: rows},
    split_problems {name: problems}, cross_split_problems, cross_split_examples, duplicate_rows,
    duplicate_examples, and with a tokenizer: tokens {mode: {p50, p90, p95, p99, max, mean,
    over_max_length}}, max_length, rows_over_max_length {mode: n}. Token lengths are measured for each
    of `modes` whose column the data has (pass the run's own mode alone to halve the time).
    """
    loaded = load_source(ds_cfg, base_dir, require=("problem",), seed=seed)
    rows = loaded.rows
    out: dict[str, Any] = {
        "source": ds_cfg.source,
        "columns": loaded.columns,
        "rows": len(rows),
        "bad_rows_skipped": loaded.skipped,
        "bad_row_examples": loaded.skipped_examples,
        **_solutions(rows),
        **_splits(rows, ds_cfg, seed, from_column=loaded.has_split_column),
        **_duplicates(rows),
    }
    if tokenizer is not None:
        out.update(_token_lengths(rows, tokenizer, max_length, system_prompt, modes))
    return DatasetProfile.model_validate(out)


def _solutions(rows: list[dict]) -> dict[str, Any]:
    """Unique problems and how many solutions each has."""
    counts = sorted(Counter(r["problem_id"] for r in rows).values())
    return {
        "unique_problems": len(counts),
        "solutions_per_problem": {
            "min": counts[0] if counts else 0,
            "median": _number(statistics.median(counts)) if counts else 0,
            "max": counts[-1] if counts else 0,
            "mean": round(statistics.fmean(counts), 3) if counts else 0,
        },
        "problems_by_solution_count": {str(k): v for k, v in sorted(Counter(counts).items())},
    }


def _splits(rows: list[dict], ds_cfg: DatasetConfig, seed: int, *, from_column: bool) -> dict[str, Any]:
    """Rows and problems per split (the split column's, or the seeded split by problem training would make),
    and the problems found in more than one split."""
    out: dict[str, Any] = {}
    if from_column:
        out["split_from"] = f"column {ds_cfg.columns.split!r}"
        tagged = rows
    else:
        out["split_from"] = f"seeded by problem (seed {seed}, ratios {ds_cfg.split_ratios.model_dump()})"
        problems = list(dict.fromkeys(r["problem_id"] for r in rows))  # in order of first appearance
        assignment = seeded_problem_split(problems, ds_cfg.split_ratios.model_dump(), seed)
        tagged = [dict(r, split=assignment[r["problem_id"]]) for r in rows]
    splits = Counter(r["split"] for r in tagged)
    order = [s for s in SPLITS if s in splits] + sorted(s for s in splits if s not in SPLITS)
    out["splits"] = {s: splits[s] for s in order}
    problems_in: dict[str, set[str]] = defaultdict(set)
    for r in tagged:
        problems_in[r["split"]].add(r["problem_id"])
    out["split_problems"] = {s: len(problems_in[s]) for s in order}
    leaks = cross_split_problems(tagged)
    out["cross_split_problems"] = len(leaks)
    first_row: dict[str, dict] = {}
    for r in rows:
        first_row.setdefault(r["problem_id"], r)
    out["cross_split_examples"] = [
        {"problem_id": pid, "splits": where, "problem": _excerpt(first_row[pid]["problem"])}
        for pid, where in list(leaks.items())[:EXAMPLES]
    ]
    return out


def _duplicates(rows: list[dict]) -> dict[str, Any]:
    """Exact duplicates: same problem and same answer (or reasoning) up to whitespace."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        body = r["answer"] if r["answer"] is not None else r["reasoning"]
        groups[(r["problem_id"], normalise_statement(body or ""))].append(r)
    dups = [g for g in groups.values() if len(g) > 1]
    return {
        "duplicate_rows": sum(len(g) - 1 for g in dups),
        "duplicate_examples": [
            {
                "problem_id": g[0]["problem_id"],
                "copies": len(g),
                "where": [r["id"] or r["where"] for r in g[:5]],
                "problem": _excerpt(g[0]["problem"]),
            }
            for g in sorted(dups, key=len, reverse=True)[:EXAMPLES]
        ],
    }


def _token_lengths(
    rows: list[dict],
    tokenizer: PreTrainedTokenizerBase,
    max_length: int,
    system_prompt: str | None,
    modes: tuple[str, ...],
) -> dict[str, Any]:
    """Token length percentiles per training mode whose column the rows have, and the rows over max_length."""
    tokens: dict[str, dict] = {}
    over_max: dict[str, int] = {}
    columns: tuple[tuple[Mode, str], ...] = (("instruction", "answer"), ("think", "reasoning"))
    for mode, key in columns:
        if mode not in modes:
            continue
        usable = [r for r in rows if r[key] is not None]
        if not usable:
            continue
        lengths = sorted(token_lengths(usable, tokenizer, mode, system_prompt))
        over = sum(1 for n in lengths if n > max_length)
        tokens[mode] = {
            "rows": len(usable),
            **{f"p{q}": _percentile(lengths, q) for q in PERCENTILES},
            "max": lengths[-1],
            "mean": round(statistics.fmean(lengths), 1),
            "over_max_length": over,
        }
        over_max[mode] = over
    return {"max_length": max_length, "tokens": tokens, "rows_over_max_length": over_max}
