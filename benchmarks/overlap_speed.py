"""Contamination check speed: codetune's find_overlaps against scoring every (benchmark, training) pair.

Workload: N training statements x M benchmark statements of 80-300 random words each plus the same
AtCoder-style Input/Output/Constraints boilerplate (so every pair shares some n-grams), 5-word n-grams,
threshold 0.5, with K benchmark statements planted (numbers changed, whitespace re-flowed) in training.

Baseline: the straightforward exact method - normalise, build each text's n-gram set, drop template
n-grams, and compute the containment of every benchmark statement in every distinct training statement
with a set intersection.
Both must return the same pairs. Last line: one JSON object with "name" and "speedup".

    python benchmarks/overlap_speed.py [--train 5000] [--bench 1000] [--planted 10]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import time

from codetune.data.overlap import find_overlaps, ngrams, normalize, template_ngrams

BOILER = (
    "\n\nInput\n\nThe input is given from Standard Input in the following format:\nN\nA_1 A_2 ... A_N\n\n"
    "Output\n\nPrint the answer.\n\nConstraints\n\n- 1 \\leq N \\leq 100\n- All input values are integers.\n"
)


def workload(n_train: int, n_bench: int, n_planted: int, seed: int = 0):
    rng = random.Random(seed)
    vocab = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(3000)]

    def statement() -> str:
        return " ".join(rng.choices(vocab, k=rng.randint(80, 300))) + BOILER

    train = [statement() for _ in range(n_train)]
    bench = [(f"q{i}", statement()) for i in range(n_bench)]
    planted = {}
    for _ in range(n_planted):
        qi, ti = rng.randrange(n_bench), rng.randrange(n_train)
        if qi in planted.values() or ti in planted:
            continue
        changed = re.sub(r"\d+", lambda m: str(int(m.group()) + 1), bench[qi][1])
        train[ti] = "  ".join(changed.split())
        planted[ti] = qi
    return train, bench, {(f"q{q}", t) for t, q in planted.items()}


def brute_force(train, bench, *, n=5, threshold=0.5) -> set[tuple[str, int]]:
    first: dict[tuple[str, ...], int] = {}
    for i, t in enumerate(train):
        first.setdefault(tuple(normalize(t)), i)
    sets = [(i, ngrams(list(words), n)) for words, i in first.items()]
    bench_sets = [(qid, ngrams(normalize(text), n)) for qid, text in bench]
    # The same definition of similarity: template n-grams (in >= 20% of benchmark statements) left out.
    template = template_ngrams([b for _, b in bench_sets], 0.2)
    out = set()
    for qid, b in bench_sets:
        b = (b - template) or b
        for i, s in sets:
            if b and len(b & s) / len(b) >= threshold:
                out.add((qid, i))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", type=int, default=5000)
    ap.add_argument("--bench", type=int, default=1000)
    ap.add_argument("--planted", type=int, default=10)
    args = ap.parse_args()
    train, bench, expected = workload(args.train, args.bench, args.planted)

    # CPU time as well as wall time: on a shared machine the wall clock measures the neighbours too.
    t0, c0 = time.perf_counter(), time.process_time()
    fast = {(p.benchmark_id, p.train_index) for p in find_overlaps(train, bench)}
    t_fast, c_fast = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    slow = brute_force(train, bench)
    t_slow, c_slow = time.perf_counter() - t0, time.process_time() - c0

    assert fast == slow == expected, (len(fast), len(slow), len(expected))
    print(f"codetune find_overlaps : {t_fast:8.2f} s wall, {c_fast:8.2f} s CPU  ({len(fast)} pairs)")
    print(f"brute force all pairs  : {t_slow:8.2f} s wall, {c_slow:8.2f} s CPU  ({len(slow)} pairs)")
    print(
        json.dumps(
            {
                "name": "overlap_speed",
                "train_statements": args.train,
                "benchmark_problems": args.bench,
                "codetune_s": round(t_fast, 3),
                "codetune_cpu_s": round(c_fast, 3),
                "baseline": "brute-force containment over all pairs",
                "baseline_s": round(t_slow, 3),
                "baseline_cpu_s": round(c_slow, 3),
                "speedup": round(c_slow / c_fast, 2),  # by CPU time
                "same_pairs": True,
            }
        )
    )


if __name__ == "__main__":
    main()
