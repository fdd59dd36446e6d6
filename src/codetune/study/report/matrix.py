"""Every problem traceable: a problem x model grid (the base model and every shown checkpoint, by step) whose
cells name each outcome and link to the answer behind it, and the problems gained and lost between the
base model and each selected checkpoint and between the runs' selected checkpoints."""

from __future__ import annotations

from codetune.study.document import Block, Cell, Heading, Matrix, Note, Para, Table
from codetune.study.report.inputs import Model, ReportInputs
from codetune.study.report.outcomes import KINDS, LABELS, SHORT, problem_kind


def header(m: Model) -> str:
    if m.run is None:
        return "base"
    return f"{m.run}\n{m.step}" + (" *" if m.selected else "")


def grid(inp: ReportInputs, linked: set[str]) -> Matrix:
    """`linked`: keys of the models whose answers the page holds (their cells link there)."""
    models = inp.models
    per = [m.scores(None) for m in models]
    rows = []
    seen: set[str] = set()
    for q, p in inp.problems.items():
        title = p.question_title or q
        cells = [Cell(p.difficulty[:1].upper() or "", title=p.difficulty)]
        for m, scores in zip(models, per, strict=True):
            s = scores.get(q)
            if s is None:
                cells.append(Cell("", "", f"{m.label}: not scored"))
                continue
            kind = problem_kind(s)
            seen.add(kind)
            href = f"#ans-{m.anchor}-{q}" if m.key in linked else ""
            cells.append(Cell(SHORT[kind], kind, f"{m.label}, {title}: {LABELS[kind]}", href))
        rows.append(([f"{q} {p.question_title}".strip()], cells))
    legend = [(k, SHORT[k], LABELS[k]) for k in KINDS if k in seen]
    return Matrix(
        ["problem", "diff."] + [header(m) for m in models],
        rows,
        caption="Outcome of each problem for each model (columns: run and step; * outlined: selected checkpoint)",
        legend=legend,
        # Column 0 is the difficulty; the models follow.
        emphasis={1 + i for i, m in enumerate(models) if m.selected},
    )


def _solved(m: Model, ids: set[str] | None) -> set[str]:
    return {q for q, s in m.scores(ids).items() if s.solved}


def changes(inp: ReportInputs) -> list[Block]:
    ids = set(inp.problems)
    pairs = [(b, inp.base) for b in inp.best.values()] if inp.base else []
    bests = list(inp.best.values())
    pairs += [(a, b) for i, a in enumerate(bests) for b in bests[i + 1 :]]
    out: list[Block] = []
    for a, b in pairs:
        sa, sb = _solved(a, ids), _solved(b, ids)
        # in the report's problem order (a set's order changes with each process's string hashing)
        gained = [q for q in inp.problems if q in sa - sb]
        lost = [q for q in inp.problems if q in sb - sa]
        name_a, name_b = inp.name(a), inp.name(b)
        out.append(Heading(3, f"{name_a} against {name_b}"))
        if not gained and not lost:
            out.append(Para(f"{name_a} and {name_b} solve the same {len(sa)} problems."))
            continue
        rows = []
        for change, qs in ((f"solved only by {name_a}", gained), (f"solved only by {name_b}", lost)):
            for q in qs:
                p = inp.problems[q]
                contest = " ".join(x for x in (p.platform, p.contest_id, (p.contest_date or "")[:10]) if x)
                rows.append([change, q, p.question_title, p.difficulty, contest])
        out.append(
            Table(
                ["change", "problem", "title", "difficulty", "contest"],
                rows,
                caption=f"{len(gained)} gained, {len(lost)} lost ({name_a} against {name_b})",
            )
        )
    return out


def section(inp: ReportInputs, linked: set[str]) -> list[Block]:
    out: list[Block] = [Heading(2, "Problems", anchor="problems")]
    if not inp.models or not inp.problems:
        return out + [Note("No per-problem scores to show.")]
    part = ""
    if inp.report_ids is not None and inp.sel is not None:
        part = f" (the problems reported on; the {len(inp.sel.select_ids or [])} that selected are left out)"
    out.append(
        Para(
            f"{len(inp.problems)} problems{part} x {len(inp.models)} models. A cell links to the answer that "
            "decided it where the page holds that answer (see Answers); hovering a cell names it."
        )
    )
    out.append(grid(inp, linked))
    out += changes(inp)
    return out
