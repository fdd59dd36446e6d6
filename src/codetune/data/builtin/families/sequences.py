"""Sequences: min / max, sorting, order statistics, prefix sums, thresholds, duplicates."""

from __future__ import annotations

from random import Random

from .base import NAMES, Family, Params, Solution, ints, join, lines, rand_list


def _seq_input(rng: Random, n_lo: int, n_hi: int, lo: int, hi: int) -> str:
    n = rng.randint(n_lo, n_hi)
    return f"{n}\n{join(rand_list(rng, n, lo, hi))}\n"


def _values(inp: str) -> list[int]:
    return ints(lines(inp)[1])


def _range_knobs(rng: Random) -> Params:
    return {
        "NAME": rng.choice(NAMES),
        "HI": rng.choice([100, 1000]),
        "WHAT": rng.choice(["scores", "heights", "prices"]),
    }


MAX_MIN_DIFF = Family(
    name="max_min_diff",
    topic="min-max",
    title="Spread of $WHAT",
    statement="$NAME recorded N $WHAT A_1, A_2, ..., A_N.\nFind the difference between the largest and the smallest"
    " of them.",
    input_format="N\nA_1 A_2 ... A_N",
    output="Print the largest value minus the smallest value.",
    constraints=("1 <= N <= 100", "1 <= A_i <= $HI", "All input values are integers."),
    steps=(
        "Read N and the list A.",
        "The answer is max(A) - min(A); with one element it is 0.",
        "Print it.",
    ),
    solutions=(
        Solution(
            "builtins",
            "Use max and min.",
            "input()\na = list(map(int, input().split()))\nprint(max(a) - min(a))\n",
        ),
        Solution(
            "sort",
            "Sort and subtract the ends.",
            "input()\na = sorted(map(int, input().split()))\nprint(a[-1] - a[0])\n",
        ),
        Solution(
            "scan",
            "Track the smallest and largest in one pass.",
            "input()\na = list(map(int, input().split()))\nlo = hi = a[0]\nfor x in a:\n    if x < lo:\n        lo = x\n"
            "    if x > hi:\n        hi = x\nprint(hi - lo)\n",
        ),
    ),
    knobs=_range_knobs,
    gen=lambda rng, p: _seq_input(rng, 1, 6, 1, p["HI"]),
    ref=lambda inp, p: str(max(_values(inp)) - min(_values(inp))),
    edges=lambda p: ["1\n5\n"],
    level=1,
)


def _sort_knobs(rng: Random) -> Params:
    if rng.random() < 0.5:
        return {"ORDER": "ascending", "REV": "False", "CMP": "<"}
    return {"ORDER": "descending", "REV": "True", "CMP": ">"}


SORT_NUMBERS = Family(
    name="sort_numbers",
    topic="sorting",
    title="Sort in $ORDER Order",
    statement="You are given N integers A_1, A_2, ..., A_N.\nPrint them sorted in $ORDER order.",
    input_format="N\nA_1 A_2 ... A_N",
    output="Print the sorted values on one line, separated by spaces.",
    constraints=("1 <= N <= 100", "-100 <= A_i <= 100", "All input values are integers."),
    steps=(
        "Read N and the list A.",
        "Sort A in $ORDER order (sorted with reverse=$REV).",
        "Print the values separated by spaces.",
    ),
    solutions=(
        Solution(
            "sorted",
            "Call sorted and unpack into print.",
            "input()\na = list(map(int, input().split()))\nprint(*sorted(a, reverse=$REV))\n",
        ),
        Solution(
            "list-sort",
            "Sort in place and join the strings.",
            "input()\na = [int(x) for x in input().split()]\na.sort(reverse=$REV)\nprint(' '.join(map(str, a)))\n",
        ),
        Solution(
            "selection",
            "Selection sort by hand.",
            "n = int(input())\na = list(map(int, input().split()))\nfor i in range(n):\n    best = i\n"
            "    for j in range(i + 1, n):\n        if a[j] $CMP a[best]:\n            best = j\n"
            "    a[i], a[best] = a[best], a[i]\nprint(*a)\n",
        ),
    ),
    knobs=_sort_knobs,
    gen=lambda rng, p: _seq_input(rng, 1, 6, -100, 100),
    ref=lambda inp, p: join(sorted(_values(inp), reverse=p["REV"] == "True")),
    edges=lambda p: ["1\n0\n", "3\n2 2 1\n"],
    level=1,
)

ORDINAL = {1: ("smallest", "1st"), 2: ("second smallest", "2nd"), 3: ("third smallest", "3rd")}


def _kth_gen(rng: Random, p: Params) -> str:
    return _seq_input(rng, p["K"], 8, 1, 100)


KTH_SMALLEST = Family(
    name="kth_smallest",
    topic="sorting",
    title="The $ORD Value",
    statement="You are given N integers A_1, A_2, ..., A_N.\nSort them in ascending order, keeping equal values as"
    " separate entries, and print the $NTH element of the sorted list.",
    input_format="N\nA_1 A_2 ... A_N",
    output="Print the answer.",
    constraints=("$K <= N <= 100", "1 <= A_i <= 100", "All input values are integers."),
    steps=(
        "Read N and the list A.",
        "Sort A in ascending order, keeping duplicates.",
        "The answer is the element at index $K - 1 of the sorted list.",
        "Print it.",
    ),
    solutions=(
        Solution(
            "sort", "Sort and index.", "input()\na = sorted(map(int, input().split()))\nprint(a[$K - 1])\n"
        ),
        Solution(
            "heapq",
            "Take the $K smallest with heapq.nsmallest.",
            "import heapq\n\ninput()\na = list(map(int, input().split()))\nprint(heapq.nsmallest($K, a)[-1])\n",
        ),
        Solution(
            "remove-min",
            "Remove the minimum $K - 1 times, then print the minimum.",
            "input()\na = list(map(int, input().split()))\nfor _ in range($K - 1):\n    a.remove(min(a))\nprint(min(a))\n",
        ),
    ),
    knobs=lambda rng: (lambda k: {"K": k, "ORD": ORDINAL[k][0], "NTH": ORDINAL[k][1]})(rng.choice([1, 2, 3])),
    gen=_kth_gen,
    ref=lambda inp, p: str(sorted(_values(inp))[p["K"] - 1]),
    edges=lambda p: [f"{p['K'] + 1}\n" + join([7] * (p["K"] + 1)) + "\n"],
    level=2,
)


def _range_sum_gen(rng: Random, p: Params) -> str:
    n, q = rng.randint(1, 5), rng.randint(1, 3)
    qs = [sorted((rng.randint(1, n), rng.randint(1, n))) for _ in range(q)]
    return f"{n} {q}\n{join(rand_list(rng, n, 0, p['HI']))}\n" + "".join(f"{a} {b}\n" for a, b in qs)


def _range_sum_ref(inp: str, p: Params) -> str:
    ls = lines(inp)
    n, q = ints(ls[0])
    a = ints(ls[1])
    return "\n".join(str(sum(a[l - 1 : r])) for l, r in (ints(ls[2 + i]) for i in range(q)))  # noqa: E741


RANGE_SUMS = Family(
    name="range_sums",
    topic="prefix sums",
    title="Range Sums",
    statement=(
        "You are given A = (A_1, ..., A_N) and Q questions.\nQuestion i asks for A_{L_i} + ... + A_{R_i}."
    ),
    input_format="N Q\nA_1 A_2 ... A_N\nL_1 R_1\n...\nL_Q R_Q",
    output="Print Q lines; the i-th line is the answer to the i-th question.",
    constraints=(
        "1 <= N, Q <= 1000",
        "0 <= A_i <= $HI",
        "1 <= L_i <= R_i <= N",
        "All input values are integers.",
    ),
    steps=(
        "Read N, Q and A.",
        "Build prefix sums P with P[0] = 0 and P[i] = A_1 + ... + A_i.",
        "The sum from L to R is P[R] - P[L - 1], one subtraction per question.",
        "Print the answers on separate lines.",
    ),
    solutions=(
        Solution(
            "prefix",
            "Build a prefix-sum list in a loop and subtract.",
            "n, q = map(int, input().split())\na = list(map(int, input().split()))\npre = [0]\nfor x in a:\n"
            "    pre.append(pre[-1] + x)\nfor _ in range(q):\n    l, r = map(int, input().split())\n"
            "    print(pre[r] - pre[l - 1])\n",
        ),
        Solution(
            "accumulate",
            "Build the prefix sums with itertools.accumulate.",
            "from itertools import accumulate\n\nn, q = map(int, input().split())\n"
            "pre = list(accumulate(map(int, input().split()), initial=0))\n"
            "answers = []\nfor _ in range(q):\n    l, r = map(int, input().split())\n    answers.append(pre[r] - pre[l - 1])\n"
            "print('\\n'.join(map(str, answers)))\n",
        ),
        Solution(
            "slice-sum",
            "Sum the slice directly; fine for these sizes.",
            "import sys\n\ndata = sys.stdin.read().split()\nn, q = int(data[0]), int(data[1])\n"
            "a = [int(x) for x in data[2 : 2 + n]]\nfor i in range(q):\n"
            "    l, r = int(data[2 + n + 2 * i]), int(data[3 + n + 2 * i])\n    print(sum(a[l - 1 : r]))\n",
        ),
    ),
    knobs=lambda rng: {"HI": rng.choice([100, 1000])},
    gen=_range_sum_gen,
    ref=_range_sum_ref,
    edges=lambda p: ["1 1\n0\n1 1\n"],
    level=3,
)


def _pass_knobs(rng: Random) -> Params:
    return {"NAME": rng.choice(NAMES), "P": rng.choice([40, 50, 60, 65, 70, 80])}


PASS_COUNT = Family(
    name="pass_count",
    topic="counting",
    title="Passing Score $P",
    statement="N students took a test that $NAME graded. Student i scored A_i points.\nA student passes with $P points"
    " or more. How many students passed?",
    input_format="N\nA_1 A_2 ... A_N",
    output="Print the number of students who passed.",
    constraints=("1 <= N <= 100", "0 <= A_i <= 100", "All input values are integers."),
    steps=(
        "Read N and the scores.",
        "A student passes when the score is at least $P, that is A_i >= $P.",
        "Count those students and print the count.",
    ),
    solutions=(
        Solution(
            "loop",
            "Count in a loop.",
            "input()\ncount = 0\nfor a in map(int, input().split()):\n    if a >= $P:\n        count += 1\nprint(count)\n",
        ),
        Solution(
            "sum-bools",
            "Sum the comparisons.",
            "input()\nprint(sum(a >= $P for a in map(int, input().split())))\n",
        ),
        Solution(
            "bisect",
            "Sort and binary-search the first passing score.",
            "from bisect import bisect_left\n\nn = int(input())\na = sorted(map(int, input().split()))\nprint(n - bisect_left(a, $P))\n",
        ),
    ),
    knobs=_pass_knobs,
    gen=lambda rng, p: _seq_input(rng, 1, 10, 0, 100),
    ref=lambda inp, p: str(sum(a >= p["P"] for a in _values(inp))),
    edges=lambda p: [f"2\n{p['P']} {p['P'] - 1}\n"],
    level=1,
)

DEDUPE = Family(
    name="dedupe",
    topic="sequences",
    title="First Appearances",
    statement="You are given N integers A_1, A_2, ..., A_N.\nRemove every element that already appeared earlier in"
    " the sequence, and print what remains in the original order.",
    input_format="N\nA_1 A_2 ... A_N",
    output="Print the remaining elements on one line, separated by spaces.",
    constraints=("1 <= N <= 100", "1 <= A_i <= $HI", "All input values are integers."),
    steps=(
        "Read N and A.",
        "Keep a set of values seen so far.",
        "Walk through A: output a value the first time it is seen, skip it afterwards.",
        "Print the kept values separated by spaces.",
    ),
    solutions=(
        Solution(
            "dict",
            "dict.fromkeys keeps first occurrences in order.",
            "input()\nprint(*dict.fromkeys(input().split()))\n",
        ),
        Solution(
            "seen-set",
            "Keep a set of values already printed.",
            "input()\nseen = set()\nout = []\nfor x in input().split():\n    if x not in seen:\n        seen.add(x)\n"
            "        out.append(x)\nprint(' '.join(out))\n",
        ),
        Solution(
            "prefix-check",
            "Keep A_i when it is absent from the elements before it.",
            "input()\na = input().split()\nprint(' '.join(x for i, x in enumerate(a) if x not in a[:i]))\n",
        ),
    ),
    knobs=lambda rng: {"HI": rng.choice([5, 9, 100])},
    gen=lambda rng, p: _seq_input(rng, 1, 9, 1, min(p["HI"], 6)),
    ref=lambda inp, p: join(dict.fromkeys(_values(inp))),
    edges=lambda p: ["3\n1 1 1\n"],
    level=2,
)

# ---- held-out family: benchmark only ----

IS_SORTED = Family(
    name="is_sorted",
    topic="sorting",
    title="Already Sorted?",
    statement="You are given N integers A_1, A_2, ..., A_N.\nDetermine whether A_1 <= A_2 <= ... <= A_N holds.",
    input_format="N\nA_1 A_2 ... A_N",
    output="Print Yes if the sequence is sorted in non-decreasing order, and No otherwise.",
    constraints=("1 <= N <= 100", "1 <= A_i <= 100", "All input values are integers."),
    steps=("Read N and A.", "A is sorted when it equals sorted(A).", "Print Yes or No."),
    solutions=(
        Solution(
            "compare",
            "Compare with the sorted copy.",
            "input()\na = list(map(int, input().split()))\nprint('Yes' if a == sorted(a) else 'No')\n",
        ),
        Solution(
            "pairs",
            "Check neighbouring pairs.",
            "input()\na = list(map(int, input().split()))\nok = all(a[i] <= a[i + 1] for i in range(len(a) - 1))\n"
            "print('Yes' if ok else 'No')\n",
        ),
    ),
    knobs=lambda rng: {},
    gen=lambda rng, p: (
        lambda s: s if rng.random() < 0.5 else f"{lines(s)[0]}\n{join(sorted(_values(s)))}\n"
    )(_seq_input(rng, 2, 6, 1, 9)),
    ref=lambda inp, p: "Yes" if _values(inp) == sorted(_values(inp)) else "No",
    edges=lambda p: ["1\n5\n"],
    level=1,
    held_out=True,
)

FAMILIES = (MAX_MIN_DIFF, SORT_NUMBERS, KTH_SMALLEST, RANGE_SUMS, PASS_COUNT, DEDUPE, IS_SORTED)
