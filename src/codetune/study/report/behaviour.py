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
