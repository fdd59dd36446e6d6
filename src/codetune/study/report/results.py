"""The first screen: warnings, one results table (base and each run's selected checkpoint, with differences
and paired p-values), the pass@1-by-step figure and a few summary lines."""

from __future__ import annotations

from codetune import layout
from codetune.study.document import Block, Bullets, Heading, Image, Note, Para, Table
from codetune.study.report.common import interval, pct, plural, points, pvalue
from codetune.study.report.inputs import Model, ReportInputs


def warnings(inp: ReportInputs) -> list[Block]:
    """Stale or mixed settings, stated before any number so no reader misses them."""
    out: list[Block] = [Note(w) for w in inp.warnings]
    others = inp.disagreeing
    if others:
        names = ", ".join(r.stage if r.key is None else f"{r.stage} {r.key}" for r, _ in others[:6])
        more = f" and {len(others) - 6} more" if len(others) > 6 else ""
        out.append(
            Note(
                f"{plural(len(others), 'stage')} ({names}{more}) ran with settings other than "
                f"{layout.CONFIG_FILE}'s or did not finish: see the appendix (What produced each result)."
            )
        )
    if inp.not_shown:
        out.append(
            Note(
                f"{plural(len(inp.not_shown), 'evaluation')} on disk "
                f"{'is' if len(inp.not_shown) == 1 else 'are'} not a result of this study as recorded and not "
                "shown (listed in the appendix)."
            )
        )
    return out


def _diff(inp: ReportInputs, a: Model, b: Model) -> str:
    pc = inp.paired(a, b)
    if pc is None:
        return "no per-problem scores"
    lo, hi = pc.diff_ci
    return f"{points(pc.solved_diff)} ({points(lo)} to {points(hi)}), {pvalue(pc.p_value)}"


def results_table(inp: ReportInputs) -> Table:
    rows_models = inp.selected
    others = list(inp.best.values())
    headers = ["model", "selected", "pass@1", "solved", "95% interval"]
    if inp.base is not None:
        headers.append("vs base")
    headers += [f"vs {m.run}" for m in others] if len(others) > 1 else []
    rows, highlight = [], set()
    for i, m in enumerate(rows_models):
        r = m.row
        cells = [
            "base model" if m.run is None else m.run,
            "" if m.run is None else f"step {r.step}",
            pct(r.pass1),
            f"{r.solved}/{r.total}",
            interval(r.wilson),
        ]
        if inp.base is not None:
            cells.append("" if m is inp.base else _diff(inp, m, inp.base))
        if len(others) > 1:
            cells += ["" if o is m or m.run is None else _diff(inp, m, o) for o in others]
        if m.run is not None and r.pass1 == max(o.row.pass1 for o in others):
            highlight.add(i)
        rows.append(cells)
    return Table(
        headers,
        rows,
        caption="Results: the base model and each run's selected checkpoint (95% Wilson interval); vs: "
        "difference in problems solved in points, exact 95% interval, McNemar p",
        highlight=highlight,
        numeric={2, 3},
    )


def _summary_lines(inp: ReportInputs) -> list[str]:
    lines = []
    if inp.best:
        top = max(inp.best.values(), key=lambda m: m.row.pass1)
        s = f"Highest pass@1: {top.run}'s checkpoint at step {top.step}, {pct(top.row.pass1)} ({top.row.solved}/{top.row.total})"
        if inp.base is not None and (pc := inp.paired(top, inp.base)) is not None:
            s += f", {points(pc.solved_diff)} points against the base model: {pc.verdict}"
        lines.append(s + ".")
    for name in inp.sel.runs if inp.sel else []:
        if name not in inp.best and name in inp.runs:
            lines.append(f"Run {name}: no selected checkpoint to report.")
    pcs = [inp.paired(a, b) for a, b in _run_pairs(inp)]
    lines += [
        f"{pc.name_a} vs {pc.name_b}: {points(pc.solved_diff)} points, {pc.verdict}." for pc in pcs if pc
    ]
    if inp.sel is not None:
        lines.append(inp.sel.note)
    from codetune.study.report.provenance import engine_sentence

    if (engine := engine_sentence(inp)) is not None:
        lines.append(engine)
    return lines


def _run_pairs(inp: ReportInputs) -> list[tuple[Model, Model]]:
    bests = list(inp.best.values())
    return [(a, b) for i, a in enumerate(bests) for b in bests[i + 1 :]]


def pass_at_step_figure(inp: ReportInputs) -> list[Block]:
    from codetune.study.plots import pass_at_step_png

    series = {n: [m.row for m in ms] for n, ms in inp.runs.items() if ms}
    if not series:
        return []
    png = pass_at_step_png(
        series,
        base=inp.base.row if inp.base else None,
        best={n: m.row for n, m in inp.best.items()},
        title="pass@1 per checkpoint (95% Wilson intervals)",
    )
    return [
        Image(
            layout.PASS_AT_STEP_ASSET,
            png,
            alt="pass@1 against training step for every run",
            caption="pass@1 against step for every run; error bars: 95% Wilson intervals; star: "
            "selected checkpoint; dashed line and band: base model and its interval.",
            first_screen=True,
        )
    ]


def section(inp: ReportInputs) -> list[Block]:
    out: list[Block] = [Heading(2, "Results")]
    if not inp.selected:
        out.append(Note("No result to report: no evaluation named by the selection record is on disk."))
    else:
        out.append(results_table(inp))
    out += pass_at_step_figure(inp)
    out += [Heading(3, "Summary"), Bullets(_summary_lines(inp))]
    gaps = (inp.sel.gaps if inp.sel else []) + [g for r in inp.study.runs.values() for g in r.gaps]
    gaps = list(dict.fromkeys(gaps + inp.study.gaps))
    if gaps:
        out += [Heading(3, "What is missing"), Bullets(gaps)]
    if inp.not_shown:
        out.append(Para(f"{plural(len(inp.not_shown), 'evaluation')} not shown: see the appendix."))
    return out
