"""The contamination check: near-duplicate benchmark statements in training data, and `codetune data overlap`."""

import json
import random
import re
import string
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codetune.cli import app
from codetune.data.overlap import find_overlaps, ngrams, normalize, possibly_seen, template_ngrams
from codetune.errors import CodetuneError

REPO = Path(__file__).resolve().parents[1]
PLANTED = "abc370_a"  # "Raise Both Hands"

UNRELATED = [
    "You are given a string S of lowercase English letters. Count how many distinct substrings of S are "
    "palindromes.\n\nInput\n\nThe input is given from Standard Input in the following format:\nS\n\nOutput\n\n"
    "Print the answer.\n\nConstraints\n\n- 1 \\leq |S| \\leq 2000",
    "There is a weighted undirected graph with N vertices and M edges. Find the length of the shortest "
    "path from vertex 1 to vertex N, or print -1 if it is unreachable.\n\nInput\n\nN M\nu_1 v_1 w_1\n"
    "\nOutput\n\nPrint the length.\n\nConstraints\n\n- 2 \\leq N \\leq 2 \\times 10^5",
    "Alice and Bob play a game with a pile of N stones. On each turn a player removes 1, 3 or 4 stones; "
    "the player who cannot move loses. Who wins if both play optimally?",
    "Given an array of integers nums and an integer target, return indices of the two numbers such that "
    "they add up to target. You may assume that each input would have exactly one solution.",
    "Write a function that reverses the words of a sentence while keeping the punctuation in place.",
]


def bench_rows(path: Path) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [(r["question_id"], r["question_content"]) for r in rows]


def reword(statement: str) -> str:
    """The same statement with every number changed and the whitespace re-flowed, inside a prompt."""
    changed = re.sub(r"\d+", lambda m: str(int(m.group()) * 7 + 3), statement)
    return "Solve the following problem in Python.\n\n" + "   ".join(changed.split()) + "\n\nAnswer:"


def test_normalize_masks_numbers_case_and_whitespace():
    assert normalize("Print  N = 10^9\n\tIF x_1 >= 3.5") == [
        "print",
        "n",
        "<num>",
        "<num>",
        "if",
        "x",
        "<num>",
        "<num>",
    ]
    assert normalize("A 12 b") == normalize("a\n  99 B")
    assert ngrams(normalize("one two"), 5) == ngrams(["one", "two"], 5) != set()  # short text: one n-gram
    assert ngrams([], 5) == set()


def test_planted_near_duplicate_is_flagged_and_unrelated_are_not(shared_benchmark):
    bench = bench_rows(shared_benchmark)
    original = dict(bench)[PLANTED]
    planted = reword(original)
    assert planted != original and re.findall(r"\d+", planted) != re.findall(r"\d+", original)
    train = [*UNRELATED, planted, *UNRELATED[:2]]
    ids = [f"row{i}" for i in range(len(train))]
    pairs = find_overlaps(train, bench, train_ids=ids)
    assert [(p.benchmark_id, p.train_index, p.train_id) for p in pairs] == [(PLANTED, 5, "row5")]
    p = pairs[0]
    assert p.similarity == 1.0 and p.shared_ngrams == p.benchmark_ngrams
    assert p.train_excerpt.startswith("Solve the following problem") and "Takahashi" in p.benchmark_excerpt
    assert possibly_seen(pairs) == [PLANTED]
    # Unrelated training statements alone flag nothing, even at a lower threshold.
    assert find_overlaps(UNRELATED, bench, threshold=0.2) == []


def test_repeated_statements_are_compared_once(shared_benchmark):
    bench = bench_rows(shared_benchmark)
    planted = reword(dict(bench)[PLANTED])
    train = [UNRELATED[0], planted, UNRELATED[1], planted.upper(), planted]
    pairs = find_overlaps(train, bench)
    assert len(pairs) == 1 and pairs[0].train_index == 1 and pairs[0].train_copies == 3


def test_threshold_and_partial_copy(shared_benchmark):
    bench = bench_rows(shared_benchmark)
    words = dict(bench)[PLANTED].split()
    half = " ".join(words[: len(words) // 2])  # the first half of the statement only
    (p,) = find_overlaps([half], bench, threshold=0.3)
    assert p.benchmark_id == PLANTED and 0.4 < p.similarity < 0.6
    assert find_overlaps([half], bench, threshold=0.7) == []
    with pytest.raises(CodetuneError, match="threshold"):
        find_overlaps([half], bench, threshold=0)
    with pytest.raises(CodetuneError, match="training ids"):
        find_overlaps([half], bench, train_ids=["a", "b"])


def test_prefix_filter_matches_brute_force(shared_benchmark):
    """The candidate filter is exact: the same pairs as scoring every (benchmark, training) pair."""
    bench = bench_rows(shared_benchmark)
    train = [text for _, text in bench]  # the benchmark against itself: siblings share boilerplate
    sets = [ngrams(normalize(t), 5) for t in train]
    for fraction in (None, 0.2):
        template = template_ngrams(sets, fraction)
        for threshold in (0.15, 0.3, 0.5):
            brute = {
                (qid, j)
                for (qid, _), b in zip(bench, sets, strict=True)
                for j, t in enumerate(sets)
                if len((b - template) & t) / len(b - template) >= threshold
            }
            found = find_overlaps(train, bench, threshold=threshold, template_fraction=fraction)
            assert {(p.benchmark_id, p.train_index) for p in found} == brute


def test_template_text_is_ignored(shared_benchmark):
    bench = bench_rows(shared_benchmark)
    train = [text for _, text in bench]

    def cross(fraction):
        found = find_overlaps(train, bench, threshold=0.1, template_fraction=fraction)
        return {(p.benchmark_id, bench[p.train_index][0]): p.similarity for p in found}

    siblings = {("abc382_a", "abc382_b"), ("abc382_b", "abc382_a")}  # "Daily Cookie" and "Daily Cookie 2"
    with_template = {k: v for k, v in cross(None).items() if k[0] != k[1] and k not in siblings}
    without = {k: v for k, v in cross(0.2).items() if k[0] != k[1] and k not in siblings}
    # AtCoder's format sections alone make unrelated problems share over a third of their n-grams.
    assert max(with_template.values()) > 0.35 > 0.3 > max(without.values())
    # At the default threshold only one sibling task is flagged against the other.
    flagged = {(p.benchmark_id, bench[p.train_index][0]) for p in find_overlaps(train, bench)}
    assert {k for k in flagged if k[0] != k[1]} == {("abc382_a", "abc382_b")}


def test_scales_to_5000_statements_by_1000_problems():
    rng = random.Random(0)
    vocab = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(3000)]
    boiler = (
        "\n\nInput\n\nThe input is given from Standard Input in the following format:\nN\nA_1 A_2 ... A_N\n\n"
        "Output\n\nPrint the answer.\n\nConstraints\n\n- 1 \\leq N \\leq 100\n"
    )

    def statement() -> str:
        return " ".join(rng.choices(vocab, k=rng.randint(80, 300))) + boiler

    train = [statement() for _ in range(5000)]
    bench = [(f"q{i}", statement()) for i in range(1000)]
    train[1234] = reword(bench[77][1])
    start = time.process_time()  # CPU time: the wall clock on a shared machine measures the neighbours
    pairs = find_overlaps(train, bench)
    seconds = time.process_time() - start
    assert [(p.benchmark_id, p.train_index) for p in pairs] == [("q77", 1234)]
    assert seconds < 15, f"{seconds:.1f} s CPU"  # about 2 s on one core; generous for slow CI machines


# ----------------------------------------------------------------------------------------------- CLI


def test_data_overlap_cli(tmp_path, shared_benchmark):
    bench = dict(bench_rows(shared_benchmark))
    data = tmp_path / "train.jsonl"
    rows = [{"id": f"u{i}", "input": t, "solution": "print(1)"} for i, t in enumerate(UNRELATED)]
    rows += [{"id": f"p{i}", "input": reword(bench[PLANTED]), "solution": f"print({i})"} for i in range(3)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = CliRunner().invoke(app, ["data", "overlap", str(data), str(shared_benchmark), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["possibly_seen"] == 1 and out["possibly_seen_ids"] == [PLANTED]
    assert (out["train_rows"], out["train_statements"], out["benchmark_problems"]) == (8, 6, 41)
    assert [(p["benchmark_id"], p["train_id"], p["train_copies"]) for p in out["pairs"]] == [
        (PLANTED, "p0", 3)
    ]
    res = CliRunner().invoke(app, ["data", "overlap", str(data), str(shared_benchmark), "--threshold", "0.9"])
    assert res.exit_code == 0, res.output
    assert PLANTED in res.stdout and "1 of 41 benchmark problems possibly seen in training" in res.stdout


def test_data_overlap_cli_missing_file(tmp_path, shared_benchmark):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "codetune",
            "data",
            "overlap",
            str(tmp_path / "nope.jsonl"),
            str(shared_benchmark),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert "nope.jsonl" in res.stderr and "Traceback" not in res.stderr
