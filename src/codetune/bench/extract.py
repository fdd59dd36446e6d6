"""Code from a model answer, by one of two rules (`benchmark.extraction`).

`lcb` (the default) is LiveCodeBench's rule (lcb_runner/utils/extraction_utils.py `extract_code`, for every
chat style, at commit 28fef95ea8c9f7a547c8329f2cd3d32b92c1fa24): split the answer on "\\n", take the lines
that contain ``` anywhere, and return the lines strictly between the last two of them, joined by "\\n"; with
fewer than two such lines the code is the empty string. Nothing else is special: no language tag check,
`~~~` is not a fence, a fence inside a string counts, and `</think>` gets no treatment (that commit has
none: fences in the reasoning count like any others, so the last two fence lines still pick the answer's
block when it follows the reasoning). The text is returned as LiveCodeBench returns it, not normalised.

`lenient` is codetune's older rule, opt-in: after any `</think>`, the last python/untagged fenced block, else
an unclosed last block that parses, else a fence-less answer that parses. Small models that answer without
fences score higher with it than on LiveCodeBench.

`extract_code` returns None where the rule finds no program (LiveCodeBench's empty string): the caller
records an extraction failure, which scores as a failed sample, as LiveCodeBench's run of "" does.
"""

from __future__ import annotations

import ast
import re
from typing import Literal

Extraction = Literal["lcb", "lenient"]
EXTRACTION_RULES: dict[str, str] = {
    "lcb": "LiveCodeBench's: the text between the last two lines containing ```",
    "lenient": "lenient (codetune's): last python block, else an unclosed block or a bare program that parses",
}

# An opening fence with an optional language tag, the body, then a closing fence on its own line.
_BLOCK = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[^\n]*\n(.*?)^[ \t]*```", re.DOTALL | re.MULTILINE)
_PYTHON_TAGS = {"", "python", "py", "python3"}
_THINK_END = "</think>"


def extract_lcb(answer: str) -> str | None:
    """LiveCodeBench's rule; None where it returns the empty string for want of two fence lines."""
    lines = answer.split("\n")
    fences = [i for i, line in enumerate(lines) if "```" in line]
    if len(fences) < 2:
        return None
    return "\n".join(lines[fences[-2] + 1 : fences[-1]])


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def extract_lenient(answer: str) -> str | None:
    if _THINK_END in answer:  # reasoning models: only what follows the reasoning is the answer
        answer = answer.rsplit(_THINK_END, 1)[1]
    blocks = [body for tag, body in _BLOCK.findall(answer) if tag.lower() in _PYTHON_TAGS]
    if blocks:
        return blocks[-1].rstrip() + "\n"
    # An unclosed last block (the answer hit max_new_tokens): take it if it still parses.
    tail = re.split(r"^[ \t]*```[ \t]*(?:python3?|py)?[ \t]*\n", answer, flags=re.MULTILINE | re.IGNORECASE)
    if len(tail) > 1 and tail[-1].strip() and _parses(tail[-1]):
        return tail[-1].rstrip() + "\n"
    stripped = answer.strip()
    if stripped and "```" not in stripped and _parses(stripped):
        return stripped + "\n"
    return None


def extract_code(answer: str, rule: Extraction = "lcb") -> str | None:
    """The program in an answer by `rule`, or None (an extraction failure, recorded by the caller)."""
    if rule == "lcb":
        return extract_lcb(answer)
    if rule == "lenient":
        return extract_lenient(answer)
    raise ValueError(f"unknown extraction rule {rule!r}; expected one of {', '.join(EXTRACTION_RULES)}")
