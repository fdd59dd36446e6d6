"""Text of a problem: the AtCoder-style statement, the deep and diverse answers, the benchmark row.

The statement layout copies LiveCodeBench's AtCoder rows: the story, then `Input`, `Output`,
`Constraints` and numbered `Sample Input k` / `Sample Output k` sections.
"""

from __future__ import annotations

import json
from string import Template

from .families.base import Params


def fill(template: str, params: Params) -> str:
    return Template(template).substitute(params)


def fill_text(template: str, params: Params) -> str:
    """Like fill, for statement text: large powers of ten read as in AtCoder (`10^9`, not `1000000000`)."""
    shown = {k: _power_of_ten(v) if isinstance(v, int) else v for k, v in params.items()}
    return Template(template).substitute(shown)


def _power_of_ten(n: int) -> str | int:
    s = str(n)
    return f"10^{len(s) - 1}" if n >= 10**5 and s == "1" + "0" * (len(s) - 1) else n


SMALL_WORDS = {"a", "an", "and", "by", "for", "in", "of", "on", "or", "the", "to", "with"}


def title_case(title: str) -> str:
    """`count the odd numbers` -> `Count the Odd Numbers`; one-letter words (variables, letters) stay as given."""
    words = title.split()
    return " ".join(
        w if len(w) == 1 or (i and w.lower() in SMALL_WORDS) else w[0].upper() + w[1:]
        for i, w in enumerate(words)
    )


def math_style(text: str) -> str:
    """AtCoder's TeX-flavoured notation: `a <= b` -> `a \\leq b`, `...` -> `\\ldots`."""
    return (
        text.replace(" <= ", " \\leq ")
        .replace(" >= ", " \\geq ")
        .replace(" != ", " \\neq ")
        .replace("...", "\\ldots")
    )


def statement(body: str, input_format: str, output: str, constraints: list[str], samples: list[dict]) -> str:
    parts = [
        math_style(body),
        "Input",
        "The input is given from Standard Input in the following format:\n" + math_style(input_format),
        "Output",
        math_style(output),
        "Constraints",
        "\n" + "\n".join("- " + math_style(c) for c in constraints),
    ]
    for k, t in enumerate(samples, 1):
        parts += [
            f"Sample Input {k}",
            t["input"].rstrip("\n"),
            f"Sample Output {k}",
            t["output"].rstrip("\n"),
        ]
    return "\n\n".join(parts)


def numbered(steps: list[str]) -> str:
    return "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))


def answer(steps: list[str], code: str) -> str:
    """The `output` column: numbered reasoning inside <think>, then the program in a python block."""
    return f"<think>\n{numbered(steps)}\n</think>\n\n```python\n{code.rstrip()}\n```"


def deep_steps(steps: list[str], sample: dict) -> list[str]:
    """The family's reasoning plus a check against the first sample (computed, never hand-written)."""
    shown = sample["input"].rstrip("\n").replace("\n", " / ")
    expected = sample["output"].rstrip("\n").replace("\n", " / ")
    if len(shown) > 24 or len(expected) > 24:  # long samples would only eat the token budget
        return [*steps, "Check with Sample Input 1: this gives exactly Sample Output 1."]
    return [
        *steps,
        f"Check with Sample Input 1 ({shown}): this gives {expected}, which matches Sample Output 1.",
    ]


def diverse_steps(steps: list[str], solution: dict) -> list[str]:
    """Short reasoning: the problem's key observation, then this solution's approach."""
    return [steps[1] if len(steps) > 2 else steps[0], f"Approach ({solution['label']}): {solution['idea']}"]


def tests_json(tests: list[dict]) -> str:
    return json.dumps([{"input": t["input"], "output": t["output"], "testtype": "stdin"} for t in tests])
