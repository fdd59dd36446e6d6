"""Arithmetic: sums, costs, rounding up, digits, distances, clocks."""

from __future__ import annotations

from random import Random

from .base import ITEMS, NAMES, Family, Params, Solution, ints


def _story(rng: Random) -> Params:
    item = rng.choice(ITEMS)
    return {"NAME": rng.choice(NAMES), "ITEM": item, "ITEM_T": item.capitalize()}


def _sum_knobs(rng: Random) -> Params:
    hi = rng.choice([100, 1000, 10000])
    return {**_story(rng), "HI": hi}


SUM_TWO = Family(
    name="sum_two",
    topic="arithmetic",
    title="More $ITEM_T",
    statement="$NAME has A $ITEM. A friend gives $NAME B more $ITEM.\nHow many $ITEM does $NAME have now?",
    input_format="A B",
    output="Print the number of $ITEM $NAME has now, as an integer.",
    constraints=("0 <= A, B <= $HI", "All input values are integers."),
    steps=(
        "Read the two integers A and B from the single input line.",
        "The $ITEM from the friend are added to the ones $NAME already has, so the answer is A + B.",
        "Print A + B.",
    ),
    solutions=(
        Solution(
            "split",
            "Unpack the two numbers with map and print their sum.",
            "a, b = map(int, input().split())\nprint(a + b)\n",
        ),
        Solution(
            "builtin-sum",
            "Read every token from stdin and let sum() add them.",
            "import sys\n\nnums = [int(t) for t in sys.stdin.read().split()]\nprint(sum(nums))\n",
        ),
        Solution(
            "loop",
            "Accumulate the tokens one by one in a loop.",
            "total = 0\nfor token in input().split():\n    total += int(token)\nprint(total)\n",
        ),
    ),
    knobs=_sum_knobs,
    gen=lambda rng, p: f"{rng.randint(0, p['HI'])} {rng.randint(0, p['HI'])}\n",
    ref=lambda inp, p: str(sum(ints(inp))),
    edges=lambda p: ["0 0\n", f"{p['HI']} {p['HI']}\n"],
    level=1,
)


def _cost_knobs(rng: Random) -> Params:
    return {**_story(rng), "P": rng.randrange(10, 500, 10), "F": rng.randrange(0, 400, 50)}


LINEAR_COST = Family(
    name="linear_cost",
    topic="arithmetic",
    title="Buying $ITEM_T",
    statement=(
        "One pack of $ITEM costs $P yen. $NAME buys N packs and also pays a delivery fee of $F yen.\n"
        "How many yen does $NAME pay in total?"
    ),
    input_format="N",
    output="Print the total amount in yen, as an integer.",
    constraints=("1 <= N <= 100", "N is an integer."),
    steps=(
        "Read N, the number of packs.",
        "The packs cost $P yen each, so they cost N * $P yen together.",
        "The delivery fee of $F yen is paid once, whatever N is.",
        "Print N * $P + $F.",
    ),
    solutions=(
        Solution(
            "formula",
            "Multiply the count by the price and add the fee once.",
            "n = int(input())\nprint(n * $P + $F)\n",
        ),
        Solution(
            "loop",
            "Start from the fee and add the price once per pack.",
            "n = int(input())\ntotal = $F\nfor _ in range(n):\n    total += $P\nprint(total)\n",
        ),
        Solution(
            "list-sum",
            "Build a list of N prices and sum it with the fee.",
            "n = int(input())\nprint(sum([$P] * n) + $F)\n",
        ),
    ),
    knobs=_cost_knobs,
    gen=lambda rng, p: f"{rng.randint(1, 100)}\n",
    ref=lambda inp, p: str(int(inp) * p["P"] + p["F"]),
    edges=lambda p: ["1\n", "100\n"],
    level=1,
)


def _ceil_knobs(rng: Random) -> Params:
    vehicle, unit = rng.choice(
        [("boat", "trips"), ("elevator", "rides"), ("bus", "trips"), ("cable car", "rides")]
    )
    return {"VEHICLE": vehicle, "UNIT": unit, "VEHICLE_T": vehicle.title()}


CEIL_DIV = Family(
    name="ceil_div",
    topic="arithmetic",
    title="$VEHICLE_T $UNIT",
    statement=(
        "N people want to travel by $VEHICLE. The $VEHICLE carries at most K people at a time.\n"
        "At least how many $UNIT are needed so that everybody gets there?"
    ),
    input_format="N K",
    output="Print the minimum number of $UNIT.",
    constraints=("1 <= N <= 1000", "1 <= K <= 1000", "All input values are integers."),
    steps=(
        "Read N and K.",
        "Each of the $UNIT takes at most K people, so we need the smallest T with T * K >= N.",
        "That T is N / K rounded up, which in integers is (N + K - 1) // K.",
        "Print T.",
    ),
    solutions=(
        Solution(
            "formula",
            "Round up with (N + K - 1) // K.",
            "n, k = map(int, input().split())\nprint((n + k - 1) // k)\n",
        ),
        Solution(
            "negative-floor",
            "Round up by flooring the negated quotient.",
            "n, k = map(int, input().split())\nprint(-(-n // k))\n",
        ),
        Solution(
            "simulate",
            "Send full loads until nobody is left, counting the $UNIT.",
            "n, k = map(int, input().split())\ncount = 0\nwhile n > 0:\n    n -= k\n    count += 1\nprint(count)\n",
        ),
    ),
    knobs=_ceil_knobs,
    gen=lambda rng, p: f"{rng.randint(1, 1000)} {rng.randint(1, 60)}\n",
    ref=lambda inp, p: str(-(-ints(inp)[0] // ints(inp)[1])),
    edges=lambda p: ["1 1000\n", "1000 1\n", "12 4\n"],
    level=2,
)


def _digit_knobs(rng: Random) -> Params:
    return {"E": rng.choice([5, 9, 12, 18])}


DIGIT_SUM = Family(
    name="digit_sum",
    topic="arithmetic",
    title="Digit Sum",
    statement="You are given a positive integer N.\nFind the sum of the digits of N in base ten.",
    input_format="N",
    output="Print the sum of the digits of N.",
    constraints=("1 <= N < 10^$E", "N is an integer."),
    steps=(
        "Read N; it has at most $E digits.",
        "Each decimal digit contributes its own value to the answer.",
        "Go through the digits (as characters of the string, or with N % 10 and N // 10) and add them up.",
        "Print the total.",
    ),
    solutions=(
        Solution(
            "map",
            "Map every character of the string to an int and sum.",
            "print(sum(map(int, input().strip())))\n",
        ),
        Solution(
            "arithmetic",
            "Peel off the last digit with % 10 until the number is zero.",
            "n = int(input())\ntotal = 0\nwhile n > 0:\n    total += n % 10\n    n //= 10\nprint(total)\n",
        ),
        Solution(
            "char-loop",
            "Loop over the characters and subtract ord('0').",
            "s = input().strip()\ntotal = 0\nfor ch in s:\n    total += ord(ch) - ord('0')\nprint(total)\n",
        ),
    ),
    knobs=_digit_knobs,
    gen=lambda rng, p: f"{rng.randint(1, 10 ** p['E'] - 1)}\n",
    ref=lambda inp, p: str(sum(int(c) for c in inp.strip())),
    edges=lambda p: ["1\n", f"{10 ** p['E'] - 1}\n"],
    level=1,
)


def _dist_knobs(rng: Random) -> Params:
    a, b = rng.sample(NAMES, 2)
    return {"NAME": a, "NAME2": b, "HI": rng.choice([100, 1000, 10**9])}


ABS_DIFF = Family(
    name="abs_diff",
    topic="arithmetic",
    title="Distance on a Line",
    statement="$NAME stands at coordinate A on a number line, and $NAME2 stands at coordinate B.\nFind the distance between them.",
    input_format="A B",
    output="Print the distance between the two people.",
    constraints=("-$HI <= A, B <= $HI", "All input values are integers."),
    steps=(
        "Read A and B; either may be negative.",
        "The distance between two points on a line is |A - B|, whichever is larger.",
        "Print abs(A - B).",
    ),
    solutions=(
        Solution(
            "abs",
            "Take the absolute value of the difference.",
            "a, b = map(int, input().split())\nprint(abs(a - b))\n",
        ),
        Solution(
            "max-min",
            "Subtract the smaller coordinate from the larger one.",
            "a, b = map(int, input().split())\nprint(max(a, b) - min(a, b))\n",
        ),
        Solution(
            "branch",
            "Compare the two first, then subtract in the right order.",
            "a, b = map(int, input().split())\nif a >= b:\n    print(a - b)\nelse:\n    print(b - a)\n",
        ),
    ),
    knobs=_dist_knobs,
    gen=lambda rng, p: f"{rng.randint(-p['HI'], p['HI'])} {rng.randint(-p['HI'], p['HI'])}\n",
    ref=lambda inp, p: str(abs(ints(inp)[0] - ints(inp)[1])),
    edges=lambda p: ["0 0\n", f"-{p['HI']} {p['HI']}\n"],
    level=1,
)


def _clock_ref(inp: str, p: Params) -> str:
    h, m, x = ints(inp)
    t = (h * 60 + m + x) % 1440
    return f"{t // 60:02d}:{t % 60:02d}"


CLOCK_ADD = Family(
    name="clock_add",
    topic="time",
    title="Clock Arithmetic",
    statement="A 24-hour clock shows H:M now.\nWhat will it show X minutes later?",
    input_format="H M\nX",
    output="Print the time in the format HH:MM, padding the hour and the minute with a leading zero when needed.",
    constraints=("0 <= H <= 23", "0 <= M <= 59", "0 <= X <= $XMAX", "All input values are integers."),
    steps=(
        "Read H, M and X.",
        "Count minutes since midnight: H * 60 + M, then add X.",
        "A day has 1440 minutes, so take the total modulo 1440.",
        "The hour is total // 60 and the minute is total % 60; print both with two digits.",
    ),
    solutions=(
        Solution(
            "modulo",
            "Convert to minutes since midnight, add, and reduce modulo 1440.",
            "h, m = map(int, input().split())\nx = int(input())\nt = (h * 60 + m + x) % 1440\nprint(f'{t // 60:02d}:{t % 60:02d}')\n",
        ),
        Solution(
            "divmod",
            "Carry the minutes into hours with divmod and wrap the hour at 24.",
            "h, m = map(int, input().split())\nx = int(input())\nextra, mm = divmod(m + x, 60)\nhh = (h + extra) % 24\nprint('%02d:%02d' % (hh, mm))\n",
        ),
        Solution(
            "tick",
            "Advance the clock one minute at a time.",
            "h, m = map(int, input().split())\nx = int(input())\nfor _ in range(x):\n    m += 1\n    if m == 60:\n"
            "        m = 0\n        h = (h + 1) % 24\nprint(str(h).zfill(2) + ':' + str(m).zfill(2))\n",
        ),
    ),
    knobs=lambda rng: {"XMAX": rng.choice([1000, 5000, 20000])},
    gen=lambda rng, p: f"{rng.randint(0, 23)} {rng.randint(0, 59)}\n{rng.randint(0, p['XMAX'])}\n",
    ref=_clock_ref,
    edges=lambda p: ["23 59\n1\n", "0 0\n0\n"],
    level=2,
)

# ---- held-out families: benchmark only ----

SUM_1_TO_N = Family(
    name="sum_1_to_n",
    topic="arithmetic",
    title="Triangle Numbers",
    statement="You are given a positive integer N.\nFind 1 + 2 + ... + N.",
    input_format="N",
    output="Print the sum.",
    constraints=("1 <= N <= $HI", "N is an integer."),
    steps=("Read N.", "The sum 1 + 2 + ... + N equals N(N + 1) / 2.", "Print N * (N + 1) // 2."),
    solutions=(
        Solution("formula", "Use Gauss's formula.", "n = int(input())\nprint(n * (n + 1) // 2)\n"),
        Solution(
            "range-sum",
            "Sum a range with the built-in sum.",
            "n = int(input())\nprint(sum(range(1, n + 1)))\n",
        ),
        Solution(
            "loop",
            "Add the numbers one by one.",
            "n = int(input())\ns = 0\nfor i in range(1, n + 1):\n    s += i\nprint(s)\n",
        ),
    ),
    knobs=lambda rng: {"HI": rng.choice([100, 10000])},
    gen=lambda rng, p: f"{rng.randint(1, p['HI'])}\n",
    ref=lambda inp, p: str(int(inp) * (int(inp) + 1) // 2),
    edges=lambda p: ["1\n"],
    level=1,
    held_out=True,
)

MAX_OF_THREE = Family(
    name="max_of_three",
    topic="arithmetic",
    title="Tallest of Three",
    statement="Three children have heights A, B and C centimeters.\nPrint the height of the tallest child.",
    input_format="A B C",
    output="Print the largest of A, B and C.",
    constraints=("100 <= A, B, C <= 200", "All input values are integers."),
    steps=("Read A, B and C.", "The answer is the largest of the three values.", "Print max(A, B, C)."),
    solutions=(
        Solution(
            "builtin",
            "Use max on the three values.",
            "a, b, c = map(int, input().split())\nprint(max(a, b, c))\n",
        ),
        Solution(
            "branch",
            "Keep the best so far while comparing.",
            "a, b, c = map(int, input().split())\nbest = a\nif b > best:\n    best = b\nif c > best:\n    best = c\nprint(best)\n",
        ),
        Solution(
            "sort",
            "Sort the values and print the last one.",
            "print(sorted(map(int, input().split()))[-1])\n",
        ),
    ),
    knobs=lambda rng: {},
    gen=lambda rng, p: f"{rng.randint(100, 200)} {rng.randint(100, 200)} {rng.randint(100, 200)}\n",
    ref=lambda inp, p: str(max(ints(inp))),
    edges=lambda p: ["150 150 150\n"],
    level=1,
    held_out=True,
)

FAMILIES = (SUM_TWO, LINEAR_COST, CEIL_DIV, DIGIT_SUM, ABS_DIFF, CLOCK_ADD, SUM_1_TO_N, MAX_OF_THREE)
