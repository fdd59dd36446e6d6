"""What a task family is: statement templates, an input generator, a reference solution, reasoning steps,
and several independent solutions.

Templates use `string.Template` (`$K`), so Python braces in code need no escaping. In statements,
` <= ` becomes ` \\leq ` and `...` becomes `\\ldots` when rendered, as in AtCoder statements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random
from typing import Any

# A family's template parameters: ints, strings, tuples, each family's functions knowing their own keys' types.
Params = dict[str, Any]

# Made-up names and items for the stories (no third-party text).
NAMES = ("Mika", "Ravi", "Ines", "Tomas", "Yuki", "Lena", "Omar", "Sana", "Kofi", "Aiko", "Bruno", "Nadia")
ITEMS = ("pencils", "apples", "tickets", "stamps", "marbles", "cookies", "candles", "buttons")


@dataclass(frozen=True)
class Solution:
    label: str  # short name of the approach: "loop", "builtin", "formula", ...
    idea: str  # one sentence (template) for the diverse rendering's reasoning
    code: str  # program text (template), reads stdin and writes stdout


@dataclass(frozen=True)
class Family:
    name: str
    topic: str
    title: str
    statement: str
    input_format: str
    output: str
    constraints: tuple[str, ...]
    steps: tuple[str, ...]  # numbered reasoning for the deep rendering (templates)
    solutions: tuple[Solution, ...]
    knobs: Callable[[Random], Params]  # the instance's statement parameters
    gen: Callable[[Random, Params], str]  # one random test input, ending with a newline
    ref: Callable[[str, Params], str]  # expected output (no trailing newline) for an input
    edges: Callable[[Params], list[str]] = field(default=lambda p: [])  # fixed edge-case inputs
    level: int = 1  # 1 trivial, 2 easy, 3 a little harder: orders the benchmark, sets `difficulty`
    held_out: bool = False  # benchmark only: never appears in the training rows


def ints(text: str) -> list[int]:
    return [int(t) for t in text.split()]


def lines(text: str) -> list[str]:
    return text.split("\n")


def rand_list(rng: Random, n: int, lo: int, hi: int) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(n)]


def join(xs) -> str:
    return " ".join(str(x) for x in xs)


def word(rng: Random, lo: int, hi: int, alphabet: str = "abcdefghijklmnopqrstuvwxyz") -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def no_knobs(rng: Random) -> Params:
    return {}
