"""Simple simulation: walks, change-making, FizzBuzz-style rules, the Collatz process."""

from __future__ import annotations

from random import Random

from .base import NAMES, Family, Params, Solution, ints


def _walk_knobs(rng: Random) -> Params:
    left, right = rng.choice([("L", "R"), ("W", "E"), ("B", "F")])
    return {"NAME": rng.choice(NAMES), "X0": rng.choice([0, 5, 10, 100]), "LEFT": left, "RIGHT": right}


def _walk_ref(inp: str, p: Params) -> str:
    s = inp.strip()
    return str(p["X0"] + s.count(p["RIGHT"]) - s.count(p["LEFT"]))


WALK = Family(
    name="walk",
    topic="simulation",
    title="Walking on a Line",
    statement=(
        "$NAME starts at coordinate $X0 on a number line and follows a string of moves S.\n"
        "The move $LEFT decreases the coordinate by 1 and the move $RIGHT increases it by 1.\n"
        "Where is $NAME after all the moves?"
    ),
    input_format="S",
    output="Print the final coordinate.",
    constraints=("S is a string of length between 1 and 100, inclusive, consisting of $LEFT and $RIGHT.",),
    steps=(
        "Read S.",
        "Start from x = $X0; each $RIGHT adds 1 and each $LEFT subtracts 1.",
        "The order does not matter, so x = $X0 + (number of $RIGHT) - (number of $LEFT).",
        "Print x.",
    ),
    solutions=(
        Solution(
            "count",
            "Count both letters.",
            "s = input().strip()\nprint($X0 + s.count('$RIGHT') - s.count('$LEFT'))\n",
        ),
        Solution(
            "simulate",
            "Apply the moves one at a time.",
            "x = $X0\nfor c in input().strip():\n    if c == '$RIGHT':\n        x += 1\n    else:\n        x -= 1\nprint(x)\n",
        ),
        Solution(
            "lookup",
            "Map each move to +1 or -1 with a dict and sum.",
            "step = {'$LEFT': -1, '$RIGHT': 1}\nprint($X0 + sum(step[c] for c in input().strip()))\n",
        ),
    ),
    knobs=_walk_knobs,
    gen=lambda rng, p: "".join(rng.choice(p["LEFT"] + p["RIGHT"]) for _ in range(rng.randint(1, 12))) + "\n",
    ref=_walk_ref,
    edges=lambda p: [p["LEFT"] * 3 + "\n"],
    level=1,
)

COIN_SYSTEMS = ((500, 100, 50, 10, 5, 1), (25, 10, 5, 1), (50, 20, 10, 5, 2, 1), (100, 50, 10, 1))


def _coin_knobs(rng: Random) -> Params:
    coins = rng.choice(COIN_SYSTEMS)
    return {
        "COINS": repr(coins),
        "COINS_TXT": ", ".join(map(str, coins[:-1])) + " and " + str(coins[-1]),
        "TOP": coins[0],
        "NAME": rng.choice(NAMES),
        "_coins": coins,
    }


def _greedy(n: int, coins: tuple[int, ...]) -> int:
    count = 0
    for c in coins:
        count += n // c
        n %= c
    return count


COINS = Family(
    name="coins",
    topic="greedy",
    title="Change with Coins",
    statement=(
        "$NAME must pay exactly N yen using coins worth $COINS_TXT yen. There are enough coins of every kind.\n"
        "What is the minimum number of coins needed?"
    ),
    input_format="N",
    output="Print the minimum number of coins.",
    constraints=("1 <= N <= 1000", "N is an integer."),
    steps=(
        "Read N.",
        "For these coin values, taking as many of the largest coin as possible, then the next, is optimal.",
        "For each coin c from largest to smallest: add N // c to the count and set N = N % c.",
        "Print the count.",
    ),
    solutions=(
        Solution(
            "greedy",
            "Use as many large coins as possible with // and %.",
            "n = int(input())\ncount = 0\nfor c in $COINS:\n    count += n // c\n    n %= c\nprint(count)\n",
        ),
        Solution(
            "dp",
            "Dynamic programming over amounts, which needs no greedy argument.",
            "n = int(input())\nINF = float('inf')\nbest = [0] + [INF] * n\nfor v in range(1, n + 1):\n"
            "    for c in $COINS:\n        if c <= v and best[v - c] + 1 < best[v]:\n            best[v] = best[v - c] + 1\n"
            "print(best[n])\n",
        ),
        Solution(
            "subtract",
            "Repeatedly pay with the largest coin that still fits.",
            "n = int(input())\ncoins = $COINS\ncount = 0\nwhile n > 0:\n    c = next(c for c in coins if c <= n)\n"
            "    n -= c\n    count += 1\nprint(count)\n",
        ),
    ),
    knobs=_coin_knobs,
    gen=lambda rng, p: f"{rng.randint(1, 1000)}\n",
    ref=lambda inp, p: str(_greedy(int(inp), p["_coins"])),
    edges=lambda p: ["1\n", f"{p['TOP']}\n", "999\n"],
    level=2,
)


def _fizz_knobs(rng: Random) -> Params:
    a, b = rng.choice([(3, 5), (2, 7), (3, 4), (4, 5), (2, 3)])
    w1, w2 = rng.choice([("Fizz", "Buzz"), ("Ping", "Pong"), ("Tic", "Tac"), ("Foo", "Bar")])
    return {"A": a, "B": b, "W1": w1, "W2": w2}


def _fizz(i: int, p: Params) -> str:
    s = (p["W1"] if i % p["A"] == 0 else "") + (p["W2"] if i % p["B"] == 0 else "")
    return s or str(i)


FIZZBUZZ = Family(
    name="fizzbuzz",
    topic="simulation",
    title="$W1$W2",
    statement=(
        "For each integer i from 1 to N, print one line:\n"
        "- $W1$W2 if i is a multiple of both $A and $B;\n"
        "- $W1 if i is a multiple of $A but not of $B;\n"
        "- $W2 if i is a multiple of $B but not of $A;\n"
        "- i itself otherwise."
    ),
    input_format="N",
    output="Print N lines as described.",
    constraints=("1 <= N <= 30", "N is an integer."),
    steps=(
        "Read N.",
        "For each i from 1 to N, test i % $A == 0 and i % $B == 0.",
        "Check the case 'both' first, then each single case, then print the number itself.",
    ),
    solutions=(
        Solution(
            "if-chain",
            "An if / elif chain with the combined case first.",
            "n = int(input())\nfor i in range(1, n + 1):\n    if i % $A == 0 and i % $B == 0:\n        print('$W1$W2')\n"
            "    elif i % $A == 0:\n        print('$W1')\n    elif i % $B == 0:\n        print('$W2')\n    else:\n"
            "        print(i)\n",
        ),
        Solution(
            "concat",
            "Concatenate the words that apply and fall back to the number.",
            "n = int(input())\nfor i in range(1, n + 1):\n    s = ''\n    if i % $A == 0:\n        s += '$W1'\n"
            "    if i % $B == 0:\n        s += '$W2'\n    print(s or i)\n",
        ),
        Solution(
            "join",
            "Build all lines with a comprehension and print them joined.",
            "n = int(input())\nprint('\\n'.join('$W1' * (i % $A == 0) + '$W2' * (i % $B == 0) or str(i) for i in range(1, n + 1)))\n",
        ),
    ),
    knobs=_fizz_knobs,
    gen=lambda rng, p: f"{rng.randint(1, 12)}\n",
    ref=lambda inp, p: "\n".join(_fizz(i, p) for i in range(1, int(inp) + 1)),
    edges=lambda p: ["1\n", "30\n"],
    level=2,
)


def _collatz(n: int) -> int:
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


COLLATZ = Family(
    name="collatz",
    topic="simulation",
    title="Halve or Triple",
    statement=(
        "Start with a positive integer N and repeat the following operation until the number becomes 1:\n"
        "- if the number is even, divide it by 2;\n- if it is odd, multiply it by 3 and add 1.\n"
        "How many operations are performed? (For every N in the constraints, the number does reach 1.)"
    ),
    input_format="N",
    output="Print the number of operations.",
    constraints=("1 <= N <= $HI", "N is an integer."),
    steps=(
        "Read N.",
        "Repeat while N != 1: N = N // 2 if N is even, else N = 3 * N + 1, counting the operations.",
        "If N is 1 from the start, the answer is 0.",
        "Print the count.",
    ),
    solutions=(
        Solution(
            "while",
            "Simulate with a while loop.",
            "n = int(input())\nsteps = 0\nwhile n != 1:\n    if n % 2 == 0:\n        n //= 2\n    else:\n        n = 3 * n + 1\n"
            "    steps += 1\nprint(steps)\n",
        ),
        Solution(
            "recursive",
            "Define the count recursively.",
            "def count(n):\n    if n == 1:\n        return 0\n    return 1 + count(n // 2 if n % 2 == 0 else 3 * n + 1)\n\n\n"
            "print(count(int(input())))\n",
        ),
        Solution(
            "counter",
            "Loop over itertools.count and break at 1.",
            "from itertools import count\n\nn = int(input())\nfor k in count():\n    if n == 1:\n        print(k)\n        break\n"
            "    n = n // 2 if n % 2 == 0 else 3 * n + 1\n",
        ),
    ),
    knobs=lambda rng: {"HI": rng.choice([100, 1000, 10000])},
    gen=lambda rng, p: f"{rng.randint(1, p['HI'])}\n",
    ref=lambda inp, p: str(_collatz(ints(inp)[0])),
    edges=lambda p: ["1\n", "27\n"],
    level=2,
)

FAMILIES = (WALK, COINS, FIZZBUZZ, COLLATZ)
