"""What training calls: one run's dataset as tokenized train / valid / test with completion-only labels.

Steps, in order: load and normalise rows (sources), split by problem (splits), render each row as a chat
and tokenize it with labels on the answer only (formatting), then apply the max sequence length (drop or
truncate, counted per split). Valid and test are kept whole: capping evaluation samples is the trainer's job.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codetune.config import DatasetConfig, RunConfig
from codetune.data.formatting import Mode, assistant_text, encode_conversations
from codetune.data.sources import load_source
from codetune.data.splits import SPLITS, assign_splits, cross_split_problems
from codetune.errors import CodetuneError
from codetune.progress import progress_bar

if TYPE_CHECKING:
    import datasets
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)


@dataclass
class PreparedData:
    train: datasets.Dataset  # columns: input_ids, attention_mask, labels (-100 where masked), length
    valid: datasets.Dataset
    test: datasets.Dataset
    # Per split: rows, kept, dropped_overlong, truncated, prompt_overlong, label_tokens, tokens; plus "source" (dict).
    stats: dict[str, Any] = field(default_factory=dict)


def split_rows(
    ds_cfg: DatasetConfig, *, mode: Mode, seed: int, base_dir: Path | None = None
) -> tuple[dict[str, list[dict]], dict[str, Any]]:
    """Normalised rows per split for a training mode, and what loading/splitting counted.

    A problem the split column places in several splits is handled as `ds_cfg.cross_split` says: its
    valid/test rows are dropped (default; train wins, then valid), kept, or it is an error.
    """
    need = ("problem", "answer") if mode == "instruction" else ("problem", "reasoning")
    loaded = load_source(ds_cfg, base_dir, require=need, seed=seed)
    if not loaded.rows:
        raise CodetuneError(f"dataset {ds_cfg.source}: no usable rows")
    if loaded.skipped:
        log.warning("dataset %s: skipped %d bad rows", ds_cfg.source, loaded.skipped)
    by_split = assign_splits(loaded.rows, ds_cfg, seed)
    info: dict[str, Any] = {
        "source": ds_cfg.source,
        "rows_loaded": len(loaded.rows),
        "bad_rows_skipped": loaded.skipped,
        "split_from": "column" if loaded.has_split_column else f"seeded by problem (seed {seed})",
        "cross_split_problems": 0,
        "dropped_cross_split": 0,
    }
    if loaded.has_split_column:
        tagged = [dict(r, split=s) for s in SPLITS for r in by_split[s]]
        leaks = cross_split_problems(tagged)
        info["cross_split_problems"] = len(leaks)
        if leaks and ds_cfg.cross_split == "error":
            pid, where = next(iter(leaks.items()))
            raise CodetuneError(
                f"dataset {ds_cfg.source}: {len(leaks)} problems appear in more than one split "
                f"(e.g. problem {pid} in {', '.join(where)}); set dataset.cross_split to drop or keep"
            )
        if leaks and ds_cfg.cross_split == "drop":
            earlier: set[str] = set()
            for s in SPLITS:
                kept = [r for r in by_split[s] if r["problem_id"] not in earlier]
                info["dropped_cross_split"] += len(by_split[s]) - len(kept)
                by_split[s] = kept
                earlier |= {r["problem_id"] for r in kept}
            log.warning(
                "dataset %s: %d problems crossed splits; dropped %d of their valid/test rows",
                ds_cfg.source,
                len(leaks),
                info["dropped_cross_split"],
            )
    return by_split, info


def tokenize_split(
    rows: list[dict],
    tokenizer: PreTrainedTokenizerBase,
    *,
    mode: Mode,
    system_prompt: str | None,
    max_length: int,
    overlong: str,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, list], dict[str, int]]:
    """Columns input_ids / attention_mask / labels / length, and this split's counts."""
    encoded = encode_conversations(
        tokenizer,
        [r["problem"] for r in rows],
        [assistant_text(r, mode) for r in rows],
        system_prompt,
        where=[r["where"] for r in rows],
        on_progress=on_progress,
    )
    cols: dict[str, list] = {"input_ids": [], "attention_mask": [], "labels": [], "length": []}
    stats = {
        "rows": len(rows),
        "kept": 0,
        "dropped_overlong": 0,
        "truncated": 0,
        "prompt_overlong": 0,  # of the dropped: the prompt alone fills max_length (truncating cannot keep it)
        "label_tokens": 0,
        "tokens": 0,
    }
    for enc in encoded:
        ids, labels = enc.input_ids, enc.labels()
        if len(ids) > max_length:
            # A truncated row must keep at least one answer token, or it would train on nothing.
            if overlong == "drop" or enc.label_start >= max_length:
                stats["dropped_overlong"] += 1
                stats["prompt_overlong"] += enc.label_start >= max_length
                continue
            ids, labels = ids[:max_length], labels[:max_length]
            stats["truncated"] += 1
        cols["input_ids"].append(ids)
        cols["attention_mask"].append([1] * len(ids))
        cols["labels"].append(labels)
        cols["length"].append(len(ids))
        stats["kept"] += 1
        stats["tokens"] += len(ids)
        stats["label_tokens"] += min(enc.label_end, len(ids)) - enc.label_start
    return cols, stats


def prepare_run_data(
    run_name: str,
    run: RunConfig,
    tokenizer: PreTrainedTokenizerBase,
    *,
    seed: int,
    max_length: int,
    overlong: str,
    base_dir: Path | None,
) -> PreparedData:
    """Tokenized train / valid / test for the run `run_name` (its section `run`): split with `seed`, rows
    over `max_length` tokens handled as `overlong` says; a relative dataset path is read from `base_dir`.
    An empty split after filtering is an error naming it."""
    import datasets

    by_split, info = split_rows(run.dataset, mode=run.mode, seed=seed, base_dir=base_dir)
    for split in SPLITS:
        if not by_split[split]:
            raise CodetuneError(
                f"run {run_name}: dataset {run.dataset.source} has no rows in the {split!r} split"
                + (" (after removing problems that cross splits)" if info["dropped_cross_split"] else "")
            )
    out: dict[str, datasets.Dataset] = {}
    stats: dict[str, Any] = {"source": info}
    with progress_bar("rows", transient=True) as bar:
        tasks = {s: bar.add_task(f"tokenizing {run_name}/{s}", total=len(by_split[s])) for s in SPLITS}
        for split in SPLITS:
            cols, split_stats = tokenize_split(
                by_split[split],
                tokenizer,
                mode=run.mode,
                system_prompt=run.system_prompt,
                max_length=max_length,
                overlong=overlong,
                on_progress=functools.partial(bar.advance, tasks[split]),
            )
            _check_split(run_name, split, split_stats, max_length, overlong)
            out[split] = datasets.Dataset.from_dict(cols)
            stats[split] = split_stats
    return PreparedData(train=out["train"], valid=out["valid"], test=out["test"], stats=stats)


def _check_split(run_name: str, split: str, split_stats: dict[str, int], max_len: int, overlong: str) -> None:
    """An empty split after the length filter is an error; any dropped or truncated row is logged."""
    if not split_stats["kept"]:
        # Truncating is advised only where it would keep a row: one whose prompt leaves room for answer tokens.
        if overlong == "drop" and split_stats["dropped_overlong"] > split_stats["prompt_overlong"]:
            advice = "raise it or set training.overlong: truncate"
        else:
            advice = "raise it: the prompts alone fill max_seq_length, so truncating answers cannot help"
        raise CodetuneError(
            f"run {run_name}: the {split!r} split is empty after filtering: all {split_stats['rows']} "
            f"rows are longer than max_seq_length={max_len} tokens ({advice})"
        )
    if split_stats["dropped_overlong"] or split_stats["truncated"]:
        log.warning(
            "run %s, %s split: %d rows over %d tokens dropped, %d truncated",
            run_name,
            split,
            split_stats["dropped_overlong"],
            max_len,
            split_stats["truncated"],
        )
