"""Code from a model answer: the last fenced python block, else the whole answer if it parses as Python."""

from __future__ import annotations

import ast
import re

# An opening fence with an optional language tag, the body, then a closing fence on its own line.
_BLOCK = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[^\n]*\n(.*?)^[ \t]*```", re.DOTALL | re.MULTILINE)
_PYTHON_TAGS = {"", "python", "py", "python3"}
_THINK_END = "</think>"


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def extract_code(answer: str) -> str | None:
    """The program in an answer, or None (an extraction failure, recorded by the caller)."""
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
