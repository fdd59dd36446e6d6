"""Each answer can be opened: for the base model and the selected checkpoints (every shown model while the
page stays small), per problem the raw answer, the extracted program and the first failing test, each cut at
a stated length. All of it is model or test text: the document renders it escaped, as text."""

from __future__ import annotations

from codetune.records import ScoreEntry
from codetune.study.document import Block, Details, Heading, Para
from codetune.study.report.inputs import Model, ReportInputs
from codetune.study.report.outcomes import LABELS, problem_kind, sample_kind

TEXT_LIMIT = 1500  # characters of an answer or a program shown; the rest is cut, and said so
TEST_LIMIT = 400  # characters of a test's input, expected output and actual output
ALL_MODELS_UP_TO = 300  # answers on the page: every shown model's while models x problems stays under this


def cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... (cut: {len(text) - limit} more characters of {len(text)})"


def models_with_answers(inp: ReportInputs) -> list[Model]:
    if len(inp.models) * len(inp.problems) <= ALL_MODELS_UP_TO:
        return inp.models
    return inp.selected


def parts(s: ScoreEntry) -> list:
    """The first sample: its raw answer, the program extracted from it, and how it failed."""
    out: list[tuple[str, str] | list[tuple[str, str]]] = []
    if s.output_list:
        out.append(("raw answer", cut(s.output_list[0], TEXT_LIMIT)))
    code = s.code_list[0] if s.code_list else None
    out.append(("extracted program", "(no code extracted)" if not code else cut(code, TEXT_LIMIT)))
    meta = s.metadata[0] if s.metadata else {}
    if s.graded_list[0]:
        out.append(("tests", "all tests passed"))
    elif "test_index" in meta:
        n = meta["test_index"]
        out += [
            [  # side by side: what went in, what was wanted, what came out
                (f"first failing test (test {n}): input", cut(str(meta.get("inputs", "")), TEST_LIMIT)),
                ("expected output", cut(str(meta.get("expected", "")), TEST_LIMIT)),
                ("actual output", cut(str(meta.get("output", "")), TEST_LIMIT)),
            ],
            ("error", str(meta.get("error_message", ""))),
        ]
    elif meta.get("error_message"):
        out.append(("error", str(meta["error_message"])))
    return out


def section(inp: ReportInputs) -> list[Block]:
    models = models_with_answers(inp)
    out: list[Block] = [Heading(2, "Answers")]
    if not models or not inp.problems:
        return out
    every = len(models) == len(inp.models)
    which = "every model shown" if every else "the base model and each selected checkpoint"
    out.append(
        Para(
            f"Answers of {which}, one per problem (the first sample). Raw answers and programs are cut at "
            f"{TEXT_LIMIT} characters, test input and outputs at {TEST_LIMIT} (the scorer itself keeps at "
            "most 300 of each); everything is shown as text."
        )
    )
    for m in models:
        out.append(Heading(3, m.label + (" (selected)" if m.selected else "")))
        scores = m.scores(set(inp.problems))
        for q in inp.problems:
            s = scores.get(q)
            if s is None:
                continue
            kind = problem_kind(s)
            first = sample_kind(s, 0)
            extra = "" if first == kind else f"; first sample: {LABELS[first]}"
            title = f"{q} {s.question_title}".strip()
            out.append(
                Details(
                    f"{title} ({s.difficulty or 'difficulty not recorded'}): {LABELS[kind]}{extra}",
                    parts(s),
                    anchor=f"ans-{m.anchor}-{q}",
                )
            )
    return out


def linked(inp: ReportInputs) -> set[str]:
    return {m.key for m in models_with_answers(inp)}
