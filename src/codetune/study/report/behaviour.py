"""The behaviour comparison: the same prompts through the base model and the selected checkpoints, read
from the compare stage's files."""

from __future__ import annotations

from codetune import layout
from codetune.study.compare import AGGREGATE_ROWS, METRIC_ROWS, load_compare
from codetune.study.document import Block, Bullets, Heading, Note, Para, SideBySide, Table
from codetune.study.report.common import plural
from codetune.study.report.inputs import ReportInputs


def section(inp: ReportInputs) -> list[Block]:
    out: list[Block] = [Heading(2, "Behaviour comparison")]
    folder = layout.compare_dir(inp.dir)
    cmp = load_compare(folder)
    if cmp is None:
        rel = layout.compare_answers_path(folder).relative_to(inp.dir)
        return out + [Note(f"No behaviour comparison yet (no {rel}).")]
    if note := inp.record_note("compare", None, "The behaviour comparison"):
        out.append(Note(note))
    out += _checkpoints_note(inp)
    answers, metrics = cmp.answers, cmp.metrics.models
    names = [m.name for m in answers.models]
    system = f' with the system prompt "{answers.system_prompt}"' if answers.system_prompt else ""
    out.append(
        Para(
            f"The same {plural(len(answers.prompts), 'prompt')} sent to {len(names)} models "
            f"({', '.join(names)}){system}, greedy decoding and at most "
            f"{answers.decoding.max_new_tokens} new tokens; the metrics are computed from each answer's text "
            "(prose before the first code block, markdown headers, code blocks, imports and functions from "
            "the Python AST, length)."
        )
    )
    for i, prompt in enumerate(answers.prompts):
        out += [
            Heading(3, f"Prompt {i + 1}"),
            Para(prompt),
            SideBySide([(m.name, m.answers[i]) for m in answers.models]),
            Table(
                ["metric", *names],
                [[label] + [fn(m.metrics[i]) for m in metrics] for label, fn in METRIC_ROWS],
            ),
        ]
    out += [
        Heading(3, "Per model, all prompts"),
        Table(
            ["metric", *names], [[label] + [fn(m.aggregate) for m in metrics] for label, fn in AGGREGATE_ROWS]
        ),
    ]
    facts = []
    for m in metrics:
        a = m.aggregate
        libs = ", ".join(a.libraries) or "no library"
        facts.append(
            f"{m.name}: prose before the first code block in {a.explanation_before_code} of "
            f"{a.answers} answers (mean {a.mean_explanation_chars:g} characters), "
            f"{plural(a.headers, 'markdown header')}, {plural(a.code_blocks, 'code block')}, "
            f"{plural(a.functions, 'function')} defined, imports {libs}; "
            f"mean answer length {a.mean_answer_chars:g} characters."
        )
    return out + [Bullets(facts)]


def _checkpoints_note(inp: ReportInputs) -> list[Block]:
    """The comparison's record names the checkpoints it ran; said when they are not the selected ones."""
    rec = inp.study.records.get(("compare", None))
    if rec is None:
        return []
    ran = {n: c.get("name") for n, c in (rec.inputs.get("checkpoints") or {}).items() if isinstance(c, dict)}
    chosen = {n: m.row.checkpoint for n, m in inp.best.items()}
    differ = sorted(n for n in set(ran) | set(chosen) if ran.get(n) != chosen.get(n))
    if not differ:
        return []
    said = "; ".join(
        f"{n}: compared {ran.get(n) or 'none'}, selected {chosen.get(n) or 'none'}" for n in differ
    )
    return [Note(f"The comparison ran on checkpoints other than the ones selected now ({said}).")]
