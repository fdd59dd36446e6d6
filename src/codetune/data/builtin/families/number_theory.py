"""Parity, divisibility, gcd / lcm, divisors, primes."""

from __future__ import annotations

import math
from random import Random

from .base import NAMES, Family, Params, Solution, ints, join, rand_list


def _parity_knobs(rng: Random) -> Params:
    even, odd = rng.choice([("Even", "Odd"), ("even", "odd"), ("EVEN", "ODD")])
    return {"EVEN": even, "ODD": odd, "HI": rng.choice([100, 10**5, 10**9])}


PARITY = Family(
    name="parity",
    topic="parity",
    title="Even or Odd",
    statement="You are given an integer N.\nDetermine whether N is even or odd.",
    input_format="N",
    output="Print $EVEN if N is even, and $ODD if N is odd.",
    constraints=("1 <= N <= $HI", "N is an integer."),
    steps=(
        "Read N.",
        "N is even exactly when N % 2 == 0.",
        "Print $EVEN in that case and $ODD otherwise, spelled exactly as asked.",
    ),
    solutions=(
        Solution(
            "modulo",
            "Test the remainder modulo 2 with an if.",
            "n = int(input())\nif n % 2 == 0:\n    print('$EVEN')\nelse:\n    print('$ODD')\n",
        ),
        Solution(
            "bit",
            "Index a pair of answers with the lowest bit.",
            "n = int(input())\nprint(['$EVEN', '$ODD'][n & 1])\n",
        ),
        Solution(
            "last-digit",
            "Look only at the last decimal digit.",
            "s = input().strip()\nprint('$EVEN' if s[-1] in '02468' else '$ODD')\n",
        ),
    ),
    knobs=_parity_knobs,
    gen=lambda rng, p: f"{rng.randint(1, p['HI'])}\n",
    ref=lambda inp, p: p["EVEN"] if int(inp) % 2 == 0 else p["ODD"],
    edges=lambda p: ["1\n", f"{p['HI']}\n"],
    level=1,
)


def _count_parity_knobs(rng: Random) -> Params:
    kind, r = rng.choice([("even", 0), ("odd", 1)])
    return {"KIND": kind, "R": r}


COUNT_PARITY = Family(
    name="count_parity",
    topic="counting",
    title="Count the $KIND Numbers",
    statement="You are given a sequence of N integers A = (A_1, A_2, ..., A_N).\nHow many of them are $KIND?",
    input_format="N\nA_1 A_2 ... A_N",
    output="Print the number of $KIND elements of A.",
    constraints=("1 <= N <= 100", "1 <= A_i <= 1000", "All input values are integers."),
    steps=(
        "Read N and the N integers.",
        "An integer a is $KIND exactly when a % 2 == $R.",
        "Count the elements that satisfy this test.",
        "Print the count.",
    ),
    solutions=(
        Solution(
            "loop",
            "Walk through the list and count with an if.",
            "n = int(input())\na = list(map(int, input().split()))\ncount = 0\nfor x in a:\n    if x % 2 == $R:\n"
            "        count += 1\nprint(count)\n",
        ),
        Solution(
            "generator",
            "Sum a generator of ones for the matching elements.",
            "input()\nprint(sum(1 for x in map(int, input().split()) if x % 2 == $R))\n",
        ),
        Solution(
            "filter",
            "Filter the list and take the length.",
            "input()\nnums = list(map(int, input().split()))\nprint(len(list(filter(lambda x: x % 2 == $R, nums))))\n",
        ),
    ),
    knobs=_count_parity_knobs,
    gen=lambda rng, p: (lambda n: f"{n}\n{join(rand_list(rng, n, 1, 1000))}\n")(rng.randint(1, 10)),
    ref=lambda inp, p: str(sum(1 for x in ints(inp)[1:] if x % 2 == p["R"])),
    edges=lambda p: ["1\n1\n", "3\n2 4 6\n"],
    level=1,
)


def _gcd_knobs(rng: Random) -> Params:
    return {"NAME": rng.choice(NAMES), "THING": rng.choice(["ribbons", "ropes", "planks", "cables"])}


GCD_TWO = Family(
    name="gcd_two",
    topic="gcd",
    title="Equal Pieces",
    statement=(
        "$NAME has two $THING of lengths A and B centimeters.\n"
        "$NAME wants to cut both of them into pieces that all have the same integer length L, with nothing left"
        " over.\nFind the largest possible L."
    ),
    input_format="A B",
    output="Print the largest possible L.",
    constraints=("1 <= A, B <= 10000", "All input values are integers."),
    steps=(
        "Read A and B.",
        "L must divide both A and B, so L is a common divisor; the largest one is gcd(A, B).",
        "Compute the gcd (Euclid: replace (a, b) by (b, a % b) until b is 0) and print it.",
    ),
    solutions=(
        Solution(
            "math-gcd",
            "Use math.gcd.",
            "import math\n\na, b = map(int, input().split())\nprint(math.gcd(a, b))\n",
        ),
        Solution(
            "euclid",
            "Run Euclid's algorithm in a loop.",
            "a, b = map(int, input().split())\nwhile b:\n    a, b = b, a % b\nprint(a)\n",
        ),
        Solution(
            "search",
            "Try lengths from min(A, B) downwards and stop at the first common divisor.",
            "a, b = map(int, input().split())\nfor d in range(min(a, b), 0, -1):\n    if a % d == 0 and b % d == 0:\n"
            "        print(d)\n        break\n",
        ),
    ),
    knobs=_gcd_knobs,
    gen=lambda rng, p: (lambda g: f"{g * rng.randint(1, 10000 // g)} {g * rng.randint(1, 10000 // g)}\n")(
        rng.choice([1, 2, 3, 6, 12, 25, 60])
    ),
    ref=lambda inp, p: str(math.gcd(*ints(inp))),
    edges=lambda p: ["1 1\n", "10000 9999\n"],
    level=2,
)


def _lcm_knobs(rng: Random) -> Params:
    return {"THING": rng.choice(["lighthouses", "bells", "lamps", "alarms"])}


LCM_TWO = Family(
    name="lcm_two",
    topic="gcd",
    title="Together Again",
    statement=(
        "Two $THING start together at time 0. The first one fires every A seconds and the second one every B"
        " seconds.\nAfter how many seconds do they next fire at the same time?"
    ),
    input_format="A B",
    output="Print the answer in seconds.",
    constraints=("1 <= A, B <= 1000", "All input values are integers."),
    steps=(
        "Read A and B.",
        "Both fire at time T exactly when T is a multiple of A and of B; the first such T > 0 is lcm(A, B).",
        "lcm(A, B) = A * B / gcd(A, B); print it.",
    ),
    solutions=(
        Solution(
            "math-lcm",
            "Use math.lcm.",
            "import math\n\na, b = map(int, input().split())\nprint(math.lcm(a, b))\n",
        ),
        Solution(
            "via-gcd",
            "Divide the product by the gcd.",
            "from math import gcd\n\na, b = map(int, input().split())\nprint(a * b // gcd(a, b))\n",
        ),
        Solution(
            "step",
            "Walk through the multiples of A until one is divisible by B.",
            "a, b = map(int, input().split())\nt = a\nwhile t % b != 0:\n    t += a\nprint(t)\n",
        ),
    ),
    knobs=_lcm_knobs,
    gen=lambda rng, p: f"{rng.randint(1, 1000)} {rng.randint(1, 60)}\n",
    ref=lambda inp, p: str(math.lcm(*ints(inp))),
    edges=lambda p: ["1 1\n", "1000 999\n"],
    level=2,
)


def _div_knobs(rng: Random) -> Params:
    return {"HI": rng.choice([1000, 5000, 10000])}


def _divisors(n: int) -> int:
    return sum(1 for d in range(1, n + 1) if n % d == 0)


COUNT_DIVISORS = Family(
    name="count_divisors",
    topic="divisors",
    title="Number of Divisors",
    statement="You are given a positive integer N.\nHow many positive integers divide N?",
    input_format="N",
    output="Print the number of positive divisors of N.",
    constraints=("1 <= N <= $HI", "N is an integer."),
    steps=(
        "Read N.",
        "A positive integer d divides N when N % d == 0, and every divisor lies between 1 and N.",
        "Divisors come in pairs (d, N / d), so checking d up to sqrt(N) and counting both members of each pair"
        " is enough; a square root counts once.",
        "Print the count.",
    ),
    solutions=(
        Solution(
            "pairs",
            "Check d up to the square root and count each pair.",
            "n = int(input())\ncount = 0\nd = 1\nwhile d * d <= n:\n    if n % d == 0:\n"
            "        count += 1 if d * d == n else 2\n    d += 1\nprint(count)\n",
        ),
        Solution(
            "brute",
            "Try every d from 1 to N.",
            "n = int(input())\ncount = 0\nfor d in range(1, n + 1):\n    if n % d == 0:\n        count += 1\nprint(count)\n",
        ),
        Solution(
            "comprehension",
            "Count with a comprehension over 1..N.",
            "n = int(input())\nprint(len([d for d in range(1, n + 1) if n % d == 0]))\n",
        ),
    ),
    knobs=_div_knobs,
    gen=lambda rng, p: f"{rng.randint(1, p['HI'])}\n",
    ref=lambda inp, p: str(_divisors(int(inp))),
    edges=lambda p: ["1\n", "36\n", f"{p['HI']}\n"],
    level=2,
)


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))


def _prime_gen(rng: Random, p: Params) -> str:
    while True:
        n = rng.randint(1, p["HI"])
        if _is_prime(n) or rng.random() < 0.4:  # about half the tests are primes
            return f"{n}\n"


IS_PRIME = Family(
    name="is_prime",
    topic="primes",
    title="Prime Check",
    statement="You are given an integer N.\nDetermine whether N is a prime number.",
    input_format="N",
    output="Print $YES if N is prime, and $NO otherwise.",
    constraints=("1 <= N <= $HI", "N is an integer."),
    steps=(
        "Read N.",
        "1 is not prime. For N >= 2, N is prime when no d with 2 <= d and d * d <= N divides N.",
        "Try those d; if one divides N, it is not prime.",
        "Print $YES or $NO.",
    ),
    solutions=(
        Solution(
            "trial",
            "Trial division up to the square root with an early exit.",
            "n = int(input())\nprime = n >= 2\nd = 2\nwhile d * d <= n:\n    if n % d == 0:\n        prime = False\n"
            "        break\n    d += 1\nprint('$YES' if prime else '$NO')\n",
        ),
        Solution(
            "all",
            "Use all() over the candidate divisors from math.isqrt.",
            "import math\n\nn = int(input())\nok = n >= 2 and all(n % d != 0 for d in range(2, math.isqrt(n) + 1))\n"
            "print('$YES' if ok else '$NO')\n",
        ),
        Solution(
            "count",
            "A prime has exactly two divisors: count them all.",
            "n = int(input())\ndivs = sum(1 for d in range(1, n + 1) if n % d == 0)\nprint('$YES' if divs == 2 else '$NO')\n",
        ),
    ),
    knobs=lambda rng: {
        "HI": rng.choice([1000, 30000]),
        **dict(
            zip(
                ("YES", "NO"), rng.choice([("Yes", "No"), ("prime", "not prime"), ("YES", "NO")]), strict=True
            )
        ),
    },
    gen=_prime_gen,
    ref=lambda inp, p: p["YES"] if _is_prime(int(inp)) else p["NO"],
    edges=lambda p: ["1\n", "2\n", "9\n"],
    level=2,
)


def _mult_knobs(rng: Random) -> Params:
    return {
        "NAME": rng.choice(NAMES),
        "K": rng.choice([3, 4, 6, 7, 9, 11, 13]),
        "HI": rng.choice([1000, 10000]),
    }


MULTIPLES_IN_RANGE = Family(
    name="multiples_in_range",
    topic="counting",
    title="Multiples of $K",
    statement="$NAME likes multiples of $K.\nHow many multiples of $K are there among the integers L, L + 1, ..., R?",
    input_format="L R",
    output="Print the answer.",
    constraints=("1 <= L <= R <= $HI", "All input values are integers."),
    steps=(
        "Read L and R.",
        "The multiples of $K in 1..X number X // $K.",
        "So the count in L..R is R // $K - (L - 1) // $K.",
        "Print it.",
    ),
    solutions=(
        Solution(
            "formula",
            "Subtract floor counts.",
            "l, r = map(int, input().split())\nprint(r // $K - (l - 1) // $K)\n",
        ),
        Solution(
            "scan",
            "Scan the range and count.",
            "l, r = map(int, input().split())\nprint(sum(1 for x in range(l, r + 1) if x % $K == 0))\n",
        ),
        Solution(
            "stepped-range",
            "Jump to the first multiple and take the length of a stepped range.",
            "l, r = map(int, input().split())\nfirst = (l + $K - 1) // $K * $K\nprint(len(range(first, r + 1, $K)))\n",
        ),
    ),
    knobs=_mult_knobs,
    gen=lambda rng, p: (lambda a, b: f"{min(a, b)} {max(a, b)}\n")(
        rng.randint(1, p["HI"]), rng.randint(1, p["HI"])
    ),
    ref=lambda inp, p: str(ints(inp)[1] // p["K"] - (ints(inp)[0] - 1) // p["K"]),
    edges=lambda p: ["1 1\n", f"{p['K']} {p['K']}\n", f"1 {p['HI']}\n"],
    level=2,
)

FAMILIES = (PARITY, COUNT_PARITY, GCD_TWO, LCM_TWO, COUNT_DIVISORS, IS_PRIME, MULTIPLES_IN_RANGE)
