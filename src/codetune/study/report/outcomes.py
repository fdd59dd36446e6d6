"""What happened to one answer, as one kind, read off its scores entry (records.ScoreEntry).

codetune's scorer records per sample the verdict of each test run up to the first failure and, in its
metadata, why it failed; a program that does not compile fails its first test as a runtime error whose
message is Python's SyntaxError (or IndentationError / TabError), so syntax errors are told apart by that
message. LiveCodeBench's own files carry only metadata error codes: those are mapped the same way.
"""

from __future__ import annotations

from collections import Counter

from codetune.records import ScoreEntry

KINDS = (
    "solved",
    "wrong_answer",
    "runtime_error",
    "syntax_error",
    "timeout",
    "memory_limit",
    "no_code",
    "sandbox_error",
    "unknown",
)
LABELS = {
    "solved": "solved",
    "wrong_answer": "wrong answer",
    "runtime_error": "runtime error",
    "syntax_error": "syntax error",
    "timeout": "time limit",
    "memory_limit": "memory limit",
    "no_code": "no code extracted",
    "sandbox_error": "sandbox error",
    "unknown": "not recorded",
}
SHORT = {
    "solved": "✓",
    "wrong_answer": "WA",
    "runtime_error": "RE",
    "syntax_error": "SE",
    "timeout": "TLE",
    "memory_limit": "MLE",
    "no_code": "NC",
    "sandbox_error": "SBX",
    "unknown": "?",
}
COLORS = {
    "solved": "#3a9a4f",
    "wrong_answer": "#d9534f",
    "runtime_error": "#e8962e",
    "syntax_error": "#a557b8",
    "timeout": "#4a78d0",
    "memory_limit": "#2bb0c0",
    "no_code": "#9a9a9a",
    "sandbox_error": "#333333",
    "unknown": "#dddddd",
}
_SYNTAX = ("SyntaxError", "IndentationError", "TabError")
_CODES = {
    -1: "no_code",
    -2: "wrong_answer",
    -3: "timeout",
    -4: "runtime_error",
    -5: "memory_limit",
    -6: "sandbox_error",
}


def sample_kind(s: ScoreEntry, i: int) -> str:
    if s.graded_list[i]:
        return "solved"
    if s.extraction_failed is not None and s.extraction_failed[i]:
        return "no_code"
    meta = s.metadata[i] if i < len(s.metadata) else {}
    message = str(meta.get("error_message", ""))
    kind = None
    if s.verdicts is not None and i < len(s.verdicts):
        kind = next((v for v in s.verdicts[i] if v != "passed"), None)
    if kind is None:
        kind = _CODES.get(meta["error_code"]) if "error_code" in meta else None
    if kind == "extraction_failed":
        kind = "no_code"
    if kind == "runtime_error" and any(x in message for x in _SYNTAX):
        kind = "syntax_error"
    return kind if kind in KINDS else "unknown"


def problem_kind(s: ScoreEntry) -> str:
    """Solved (records.is_solved), else its samples' most common failure kind (ties: the order of KINDS)."""
    if s.solved:
        return "solved"
    counts = Counter(k for i in range(len(s.graded_list)) if (k := sample_kind(s, i)) != "solved")
    return min(counts, key=lambda k: (-counts[k], KINDS.index(k))) if counts else "unknown"


def sample_counts(scores: list[ScoreEntry]) -> Counter:
    """Samples per kind over a model's problems."""
    return Counter(sample_kind(s, i) for s in scores for i in range(len(s.graded_list)))
