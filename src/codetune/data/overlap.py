"""Train/benchmark contamination: benchmark problems whose statement has a near-duplicate in training data.

Similarity is the *containment* of the benchmark statement in a training statement: the fraction of the
benchmark statement's distinct word n-grams (default 5 words) that also occur in the training statement,
after normalising both texts (lowercase, every number replaced by one placeholder token, punctuation
dropped, whitespace collapsed). Containment rather than Jaccard so that a benchmark statement copied
into a longer training prompt (extra instructions, a different sample section) still scores high; numbers
are masked so that a copy with changed constraints or samples is still caught. Template text shared by
many benchmark statements (n-grams in at least 20% of them, e.g. "the input is given from standard input
in the following format") is left out on both sides: otherwise two unrelated short AtCoder-style
statements already share a third of their n-grams. On the 41 real benchmark problems, the highest
similarity between two different problems is then 0.29 (0.37 without this rule), except one pair of
sibling tasks, abc382 A/B "Daily Cookie" and "Daily Cookie 2" (0.52 and 0.48).

The search is exact, not sampled: a training statement can reach containment t only if it shares at
least one of the benchmark statement's (|B| - ceil(t|B|) + 1) rarest n-grams (prefix filtering), so only
training statements sharing such a rare n-gram are scored, with set intersections. Common n-grams
never make candidates, which keeps 5,000 training statements
against 1,000 benchmark problems to a few seconds on one core.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from codetune.config import DEFAULT_SEED
from codetune.errors import CodetuneError
from codetune.records import OverlapPair, OverlapReport

if TYPE_CHECKING:
    from codetune.config import DatasetConfig

NUMBER_TOKEN = "<num>"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"<num>|[^\W_]+")  # letters/digits runs; punctuation and underscores separate words
EXCERPT_CHARS = 160
NGRAM = 5  # word n-gram length
THRESHOLD = 0.5  # containment at or above which a benchmark problem counts as possibly seen
OVERLAP_VERSION = 1  # bump when the similarity rule changes, so studies recompute their overlap files


def normalize(text: str) -> list[str]:
    """Words of `text` after lowercasing and replacing each number with NUMBER_TOKEN."""
    return _WORD.findall(_NUMBER.sub(f" {NUMBER_TOKEN} ", text.lower()))


def ngrams(words: Sequence[str], n: int) -> set[int]:
    """Distinct word n-grams, hashed (in-process only). A text shorter than n words is one n-gram."""
    if len(words) < n:
        return {hash(tuple(words))} if words else set()
    # zip over shifted views builds the n-gram tuples in C: ~3x faster than slicing in a comprehension.
    return set(map(hash, zip(*(words[i:] for i in range(n)), strict=False)))


def template_ngrams(sets: Sequence[set[int]], fraction: float | None, min_count: int = 3) -> set[int]:
    """N-grams shared by at least `fraction` of the statements (and at least `min_count` of them)."""
    if fraction is None or not sets:
        return set()
    if not 0 < fraction <= 1:
        raise CodetuneError(f"template fraction must be in (0, 1], got {fraction}")
    df = Counter(g for s in sets for g in s)
    cut = max(min_count, fraction * len(sets))
    return {g for g, c in df.items() if c >= cut}


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"


def find_overlaps(
    train_texts: Sequence[str],
    bench: Sequence[tuple[str, str]],
    *,
    ngram: int = NGRAM,
    threshold: float = THRESHOLD,
    train_ids: Sequence[str] | None = None,
    template_fraction: float | None = 0.2,
) -> list[OverlapPair]:
    """Pairs (benchmark problem, training statement) whose containment similarity is >= threshold, most
    similar first. `bench` holds (question_id, statement) pairs. Training statements that are identical
    after normalisation are compared once (datasets often repeat a statement for each solution).

    `template_fraction`: n-grams found in at least this fraction of the benchmark statements (and in at
    least 3 of them) are template text - "the input is given from standard input in the following
    format" - and are left out of both sides; None keeps every n-gram."""
    return _search(
        train_texts,
        bench,
        ngram=ngram,
        threshold=threshold,
        train_ids=train_ids,
        template_fraction=template_fraction,
    )[0]


def _search(
    train_texts: Sequence[str],
    bench: Sequence[tuple[str, str]],
    *,
    ngram: int,
    threshold: float,
    train_ids: Sequence[str] | None,
    template_fraction: float | None = 0.2,
) -> tuple[list[OverlapPair], int]:
    """find_overlaps, plus the number of distinct training statements it compared."""
    if ngram < 1:
        raise CodetuneError(f"n-gram length must be at least 1, got {ngram}")
    if not 0 < threshold <= 1:
        raise CodetuneError(f"overlap threshold must be in (0, 1], got {threshold}")
    if train_ids is not None and len(train_ids) != len(train_texts):
        raise CodetuneError(f"{len(train_ids)} training ids for {len(train_texts)} training texts")

    # Deduplicate training statements by their normalised words.
    first_of: dict[tuple[str, ...], int] = {}
    copies: dict[int, int] = defaultdict(int)
    for i, text in enumerate(train_texts):
        key = tuple(normalize(text or ""))
        j = first_of.setdefault(key, i)
        copies[j] += 1
    uniq = list(first_of.items())  # (words, original index)

    # Only n-grams that occur in some benchmark statement can count, so each training statement keeps
    # just those (a C-level set intersection): far smaller postings and sets than the full n-gram sets.
    bench_grams = [(qid, statement, ngrams(normalize(statement or ""), ngram)) for qid, statement in bench]
    template = template_ngrams([g for _, _, g in bench_grams], template_fraction)
    # A statement made only of template text keeps it, so that an exact copy is still found.
    bench_grams = [(q, st, (g - template) or g) for q, st, g in bench_grams]
    universe: set[int] = set().union(*(g for _, _, g in bench_grams))
    train_grams = [ngrams(words, ngram) & universe for words, _ in uniq]
    postings: dict[int, list[int]] = defaultdict(list)
    for u, grams in enumerate(train_grams):
        for g in grams:
            postings[g].append(u)

    pairs: list[OverlapPair] = []
    for qid, statement, grams in bench_grams:
        if not grams:
            continue
        need = math.ceil(threshold * len(grams) - 1e-9)
        # Any statement with >= need shared n-grams shares one of the (len - need + 1) rarest ones;
        # n-grams absent from training (frequency 0) sort first and add no candidates.
        rare = sorted(grams, key=lambda g: len(postings.get(g, ())))[: len(grams) - need + 1]
        candidates = {u for g in rare for u in postings.get(g, ())}
        for u in candidates:
            shared = len(grams & train_grams[u])
            if shared >= need:
                idx = uniq[u][1]
                pairs.append(
                    OverlapPair(
                        benchmark_id=qid,
                        train_index=idx,
                        train_id=None if train_ids is None else str(train_ids[idx]),
                        similarity=shared / len(grams),
                        shared_ngrams=shared,
                        benchmark_ngrams=len(grams),
                        train_copies=copies[idx],
                        benchmark_excerpt=_excerpt(statement),
                        train_excerpt=_excerpt(train_texts[idx]),
                    )
                )
    pairs.sort(key=lambda p: (-p.similarity, p.benchmark_id, p.train_index))
    return pairs, len(uniq)


def possibly_seen(pairs: Sequence[OverlapPair]) -> list[str]:
    """Benchmark problems with at least one near-duplicate in training, sorted."""
    return sorted({p.benchmark_id for p in pairs})


SIMILARITY = (
    "containment of the benchmark statement's word n-grams in the training statement (numbers masked; "
    "n-grams in >= 20% of the benchmark statements left out as template text)"
)


def dataset_overlaps(
    ds_cfg: DatasetConfig,
    bench: Sequence[tuple[str, str]],
    base_dir: Path | None = None,
    *,
    ngram: int = NGRAM,
    threshold: float = THRESHOLD,
    seed: int = DEFAULT_SEED,
    bad_rows_hint: str | None = None,
) -> OverlapReport:
    """find_overlaps on a dataset source's problem statements (hub, local file or built-in data).

    This is what the study runs for each run's dataset against its benchmark. `seed` must be the study's
    training seed: built-in data is generated from it, so another seed would check other rows.
    `bad_rows_hint` ends a bad row's error (default: the config's dataset.skip_bad_rows)."""
    from codetune.data.sources import DATASET_BAD_ROWS_HINT, load_rows

    start = time.perf_counter()
    rows = load_rows(ds_cfg, base_dir, seed=seed, bad_rows_hint=bad_rows_hint or DATASET_BAD_ROWS_HINT)
    texts = [r["problem"] for r in rows]
    ids = [str(r.get("id") if r.get("id") is not None else r.get("where", i)) for i, r in enumerate(rows)]
    pairs, distinct = _search(texts, bench, ngram=ngram, threshold=threshold, train_ids=ids)
    return OverlapReport(
        train_source=ds_cfg.source,
        train_rows=len(rows),
        train_statements=distinct,
        benchmark_problems=len(bench),
        ngram=ngram,
        threshold=threshold,
        possibly_seen_ids=possibly_seen(pairs),
        pairs=pairs,
        seconds=round(time.perf_counter() - start, 3),
        similarity=SIMILARITY,
    )
