"""How much of a pass@1 difference is real: intervals, paired comparisons, and selection/reporting splits.

Everything here works on per-problem pass@1 values read from score files (LiveCodeBench's eval-all
layout); nothing is re-generated.

- `wilson_interval`: interval for a proportion of solved problems (good at small n and near 0 or 1).
- `bootstrap_interval`: percentile bootstrap of mean per-problem pass@1, resampling problems (seeded).
- `mcnemar_exact`: exact two-sided McNemar test on the discordant problems of two models.
- `paired_difference_interval`: interval for the difference in problems solved that inverts the exact
  McNemar test (Clopper-Pearson on the discordant problems), so it holds 0 exactly when p >= alpha.
- `paired_comparison`: both / only A / only B / neither, McNemar p, that interval, and a worded verdict.
- `split_problems`: select the best checkpoint on one part of the benchmark and report it on the rest, so
  the reported number is not the maximum of several noisy scores on the same problems.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Literal

import numpy as np

from codetune import layout
from codetune.errors import CodetuneError
from codetune.records import SOLVED_AT, ScoreEntry, is_solved, read_list


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise CodetuneError(f"confidence must be between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for successes/n (as fractions). Unlike the normal approximation it stays
    inside [0, 1] and is not degenerate at 0/n or n/n."""
    if n <= 0:
        raise CodetuneError(f"Wilson interval needs n > 0, got n={n}")
    if not 0 <= successes <= n:
        raise CodetuneError(f"Wilson interval needs 0 <= successes <= n, got {successes}/{n}")
    z = _z(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0/n and n/n the bound is exactly 0 or 1; the formula leaves rounding noise there.
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


def bootstrap_interval(
    values: Sequence[float] | np.ndarray, *, confidence: float = 0.95, n_boot: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (per-problem pass@1, or per-problem
    differences), resampling problems with replacement. Same seed, same interval."""
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise CodetuneError("bootstrap interval needs at least one value")
    if n_boot <= 0:
        raise CodetuneError(f"n_boot must be positive, got {n_boot}")
    _z(confidence)  # validates confidence
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    # Chunked so that 10,000 resamples of a few thousand problems stay within a few tens of MB.
    chunk = max(1, 2_000_000 // x.size)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, x.size, size=(stop - start, x.size))
        means[start:stop] = x[idx].mean(axis=1)
    alpha = 1 - confidence
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: under "no difference" each discordant problem is equally likely
    to favour A or B, so min(only_a, only_b) ~ Binomial(only_a + only_b, 1/2); p = 2 * P(X <= min),
    capped at 1. No discordant problems gives p = 1."""
    if only_a < 0 or only_b < 0:
        raise CodetuneError(f"McNemar counts must be >= 0, got only_a={only_a}, only_b={only_b}")
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    # Exact integer arithmetic; int / int rounds once, so large n neither overflows nor loses precision.
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return min(1.0, 2 * tail / 2**n)


PAIRED_INTERVAL = (
    "exact conditional (Clopper-Pearson on the discordant problems, the exact McNemar test inverted)"
)


def _binom_tail_ge(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space (no overflow at large n)."""
    if k <= 0:
        return 1.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    lc = math.lgamma(n + 1)
    return min(
        1.0,
        sum(
            math.exp(lc - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq)
            for i in range(k, n + 1)
        ),
    )


def _solve_increasing(f, target: float) -> float:
    """The p in [0, 1] with f(p) = target, for f increasing in p (bisection to float precision)."""
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if f(mid) < target:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    return (lo + hi) / 2


def paired_difference_interval(
    only_a: int, only_b: int, n: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Interval for (only_a - only_b) / n, the difference in the share of problems solved.

    Conditional on the d = only_a + only_b discordant problems, only_a ~ Binomial(d, pi) and the difference
    is (2 pi - 1) d / n. The Clopper-Pearson interval for pi is the set of pi the two one-sided exact tests
    at (1 - confidence) / 2 do not reject; the exact McNemar test is the test of pi = 1/2, so this interval
    holds 0 exactly when McNemar's p >= 1 - confidence: the two never contradict each other. With no
    discordant problem it is [0, 0] (the data show no difference; McNemar's p is 1)."""
    if only_a < 0 or only_b < 0 or n < only_a + only_b or n <= 0:
        raise CodetuneError(f"paired interval needs 0 <= only_a + only_b <= n, got {only_a}, {only_b}, n={n}")
    alpha = 1 - confidence
    _z(confidence)  # validates confidence
    d = only_a + only_b
    if d == 0:
        return 0.0, 0.0
    # Lower: P(X >= only_a | pi) = alpha/2; upper: P(X <= only_a | pi) = alpha/2, i.e. P(X >= only_a + 1) = 1 - alpha/2.
    lo = 0.0 if only_a == 0 else _solve_increasing(lambda q: _binom_tail_ge(only_a, d, q), alpha / 2)
    hi = 1.0 if only_a == d else _solve_increasing(lambda q: _binom_tail_ge(only_a + 1, d, q), 1 - alpha / 2)
    return (2 * lo - 1) * d / n, (2 * hi - 1) * d / n


def _scores_file(path: Path) -> Path:
    """The scores file behind a file, an eval folder, or a checkpoint folder of a study."""
    if path.is_file():
        return path
    if not path.exists():
        raise CodetuneError(f"scores not found: {path} does not exist")
    candidates = [layout.scores_path(path)]
    ck_eval = layout.checkpoint_eval_dir(path)  # runs/<run>/checkpoints/<name> -> runs/<run>/eval/<name>
    if ck_eval is not None:
        candidates.append(layout.scores_path(ck_eval))
    for c in candidates:
        if c.is_file():
            return c
    raise CodetuneError(
        f"{path} is a folder without {layout.SCORES_FILE}; pass a scores file or an evaluated checkpoint "
        f"(looked for {', '.join(str(c) for c in candidates)})"
    )


def load_scores(path: str | Path) -> dict[str, float]:
    """question_id -> per-problem pass@1 (records.problem_pass), from a scores file in LiveCodeBench's
    eval-all layout (records.ScoreEntry), an eval folder holding one, or a study checkpoint folder
    whose eval folder holds one."""
    file = _scores_file(Path(path))
    entries = read_list(ScoreEntry, file)
    if not entries:
        raise CodetuneError(f"{file}: holds no problems")
    out: dict[str, float] = {}
    for i, entry in enumerate(entries):
        if entry.question_id in out:
            raise CodetuneError(f"{file}: item [{i}]: question_id {entry.question_id!r} appears twice")
        out[entry.question_id] = entry.pass_rate
    return out


def mean_pass(scores: Mapping[str, float], ids: Iterable[str] | None = None) -> float:
    """Mean per-problem pass@1 over `ids` (all problems when None); e.g. pass@1 without the problems
    possibly seen in training, or on the reporting part of a selection split."""
    keys = list(scores) if ids is None else [q for q in ids]
    missing = [q for q in keys if q not in scores]
    if missing:
        raise CodetuneError(f"no score for {len(missing)} problem(s), e.g. {missing[0]!r}")
    if not keys:
        raise CodetuneError("mean pass@1 of no problems")
    return sum(scores[q] for q in keys) / len(keys)


def _fmt_p(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.2g}"


@dataclass
class PairedComparison:
    """Two models on the same problems. pass_* and diff are mean per-problem pass@1 (fractions);
    both/only_a/only_b/neither count problems solved (pass@1 >= 0.5)."""

    n: int
    both: int
    only_a: int
    only_b: int
    neither: int
    pass_a: float
    pass_b: float
    diff: float  # pass_a - pass_b
    diff_ci: tuple[float, float]  # of solved_diff: paired_difference_interval (PAIRED_INTERVAL)
    p_value: float  # exact McNemar on only_a vs only_b
    verdict: str
    name_a: str = "A"
    name_b: str = "B"
    solved_a: int = 0
    solved_b: int = 0
    wilson_a: tuple[float, float] = (0.0, 0.0)  # of solved_a / n
    wilson_b: tuple[float, float] = (0.0, 0.0)
    bootstrap_a: tuple[float, float] = (0.0, 0.0)  # of pass_a
    bootstrap_b: tuple[float, float] = (0.0, 0.0)
    confidence: float = 0.95
    solved_at: float = SOLVED_AT
    only_in_a: int = 0  # problems scored for A but not B (left out of the comparison)
    only_in_b: int = 0
    solved_diff: float = 0.0  # (only_a - only_b) / n; equals diff with one sample per problem
    diff_ci_method: str = PAIRED_INTERVAL

    def to_dict(self) -> dict:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d


def paired_comparison(
    a: Mapping[str, float],
    b: Mapping[str, float],
    *,
    seed: int = 0,
    n_boot: int = 10_000,
    alpha: float = 0.05,
    name_a: str = "A",
    name_b: str = "B",
) -> PairedComparison:
    """Compare two models on the problems both were scored on (the intersection of question ids).

    McNemar's exact test uses the problems each model solves (pass@1 >= 0.5) and the other does not; the
    difference's interval is the one that test inverts (`paired_difference_interval`), so the interval
    excludes 0 exactly when the verdict names a better model. (A percentile bootstrap of the differences
    was used before: with few discordant problems it is too narrow, and it excluded 0 where p = 0.125.)"""
    common = sorted(set(a) & set(b))
    if not common:
        raise CodetuneError(f"{name_a} and {name_b} share no question_id: nothing to compare")
    xa = np.array([a[q] for q in common], dtype=float)
    xb = np.array([b[q] for q in common], dtype=float)
    sa, sb = np.array([is_solved(x) for x in xa]), np.array([is_solved(x) for x in xb])
    both = int(np.sum(sa & sb))
    only_a = int(np.sum(sa & ~sb))
    only_b = int(np.sum(~sa & sb))
    neither = int(np.sum(~sa & ~sb))
    n = len(common)
    confidence = 1 - alpha
    p = mcnemar_exact(only_a, only_b)
    if p < alpha and only_a != only_b:
        verdict = f"{name_a if only_a > only_b else name_b} better ({_fmt_p(p)})"
    else:
        verdict = f"not distinguishable at {n} problems ({_fmt_p(p)})"
    return PairedComparison(
        n=n,
        both=both,
        only_a=only_a,
        only_b=only_b,
        neither=neither,
        pass_a=float(xa.mean()),
        pass_b=float(xb.mean()),
        diff=float(xa.mean() - xb.mean()),
        diff_ci=paired_difference_interval(only_a, only_b, n, confidence),
        p_value=p,
        verdict=verdict,
        name_a=name_a,
        name_b=name_b,
        solved_a=both + only_a,
        solved_b=both + only_b,
        wilson_a=wilson_interval(both + only_a, n, confidence),
        wilson_b=wilson_interval(both + only_b, n, confidence),
        bootstrap_a=bootstrap_interval(xa, confidence=confidence, n_boot=n_boot, seed=seed),
        bootstrap_b=bootstrap_interval(xb, confidence=confidence, n_boot=n_boot, seed=seed),
        confidence=confidence,
        only_in_a=len(set(a) - set(b)),
        only_in_b=len(set(b) - set(a)),
        solved_diff=(only_a - only_b) / n,
    )


def _natural_key(s: str) -> tuple:
    # abc99_a before abc100_a: digit runs compare as numbers.
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s))


def split_problems(
    problems: Sequence[tuple[str, str | None]],
    *,
    method: Literal["random", "date"],
    select_fraction: float = 0.5,
    seed: int = 0,
) -> tuple[list[str], list[str]]:
    """Split benchmark problems into (selection ids, reporting ids): pick the best checkpoint on the
    first, report its pass@1 on the second. Deterministic (input order does not matter) and disjoint;
    both parts are non-empty.

    - "random": a seeded shuffle of the sorted ids; the first round(select_fraction * n) select.
    - "date": problems ordered by contest date (ISO strings), earlier contests select, later report.
      Problems of one date stay together: the cut moves forward to the end of the date it falls in (or
      back to its start when moving forward would leave nothing to report). Undated problems count as
      later than every dated one, so they land on the reporting side; among themselves (and when no
      problem has a date) they are ordered by question id with numbers compared as numbers, which for
      AtCoder ids (abc365_a, ..., abc386_b) follows contest order.
    """
    if not 0 < select_fraction < 1:
        raise CodetuneError(f"select_fraction must be between 0 and 1, got {select_fraction}")
    ids = [q for q, _ in problems]
    if len(set(ids)) != len(ids):
        dup = next(q for q in ids if ids.count(q) > 1)
        raise CodetuneError(f"question_id {dup!r} appears twice in the problems to split")
    n = len(ids)
    if n < 2:
        raise CodetuneError(f"a selection/reporting split needs at least 2 problems, got {n}")
    k = min(n - 1, max(1, round(select_fraction * n)))
    if method == "random":
        order = sorted(ids, key=_natural_key)
        random.Random(seed).shuffle(order)
        return order[:k], order[k:]
    if method != "date":
        raise CodetuneError(f"split method must be 'random' or 'date', got {method!r}")
    dated = sorted(
        ((d or None, q) for q, d in problems), key=lambda t: (t[0] is None, t[0] or "", _natural_key(t[1]))
    )
    dates = [d for d, _ in dated]
    order = [q for _, q in dated]
    cut = k
    if dates[cut - 1] is not None:
        while cut < n and dates[cut] == dates[cut - 1]:
            cut += 1
        if cut == n:  # the last date group reaches the end: cut before it instead
            cut = k
            while cut > 0 and dates[cut - 1] == dates[k - 1]:
                cut -= 1
        if cut == 0:
            raise CodetuneError(
                "date split: every dated problem has the same contest date, so earlier and later "
                "contests cannot be told apart; use the random split"
            )
    return order[:cut], order[cut:]


def selection_note(
    method: Literal["random", "date"] | None,
    n_select: int,
    n_report: int,
    *,
    n_checkpoints: int | None = None,
    seed: int | None = None,
) -> str:
    """The report's sentence saying where the best checkpoint was chosen and where it is reported."""
    if method is None:
        of = f" the best of {n_checkpoints} checkpoints" if n_checkpoints else " the best checkpoint"
        return (
            f"Selection and reporting use the same {n_select} problems: pass@1 of{of} chosen on them "
            "is biased upward."
        )
    how = f"a seeded random split (seed {seed})" if method == "random" else "a date split (earlier contests)"
    return (
        f"The best checkpoint was selected on {n_select} problems ({how}) and its pass@1 is reported "
        f"on the other {n_report}."
    )


def _ranks(x: Sequence[float]) -> list[float]:
    """Ranks from 1, ties given the mean of the ranks they span."""
    order = sorted(range(len(x)), key=lambda i: x[i])
    ranks = [0.0] * len(x)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and x[order[j + 1]] == x[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (the Pearson correlation of the ranks, ties averaged); None with fewer than
    3 pairs or when either series is constant (scipy is not a dependency: this is its `spearmanr` statistic)."""
    if len(x) != len(y):
        raise CodetuneError(f"spearman needs series of equal length, got {len(x)} and {len(y)}")
    if len(x) < 3:
        return None
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)
