"""Every shown checkpoint of each run with its intervals, how each best was selected, the paired comparisons
in full and the scoring rules the evaluations ran under."""

from __future__ import annotations

from codetune import layout
from codetune.bench.rules import describe_rules
from codetune.study.document import Block, Bullets, Heading, Note, Para, Table
from codetune.study.report.common import interval, loss, pct
from codetune.study.report.facts import paired_sentence
from codetune.study.report.inputs import ReportInputs


def scoring_rules(inp: ReportInputs) -> list[Block]:
    """The rules the evaluations were scored under (summary.json "scoring"), so studies compare."""
    rules = {m.key: m.eval.summary.scoring for m in inp.models}
    stated = {describe_rules(r) for r in rules.values() if r}
    missing = sorted(m for m, r in rules.items() if not r)
    out: list[Block] = []
    if len(stated) == 1:
        out.append(Para(f"Scoring rules: {stated.pop()}."))
    elif stated:
        out.append(
            Note(
                "Scoring rules differ between evaluations, so their scores do not compare: "
                + " | ".join(sorted(stated))
                + "."
            )
        )
    if missing:
        out.append(
            Note(f"Scoring rules not recorded for {', '.join(missing)} (evaluated by an older codetune).")
        )
    return out


def run_tables(inp: ReportInputs) -> list[Block]:
    split = inp.report_ids is not None
    headers = ["Model", "Step", "Pass@1", "Solved", "95% CI (Wilson)", "95% CI (bootstrap)", "Val loss"]
    if split:
        headers.append("Pass@1 (selection part)")
    out: list[Block] = []
    for name, models in inp.runs.items():
        if not models:
            out.append(Note(f"Run {name}: no evaluated checkpoints shown."))
            continue
        rows: list[list[str]] = []
        highlight: set[int] = set()
        for m in ([inp.base] if inp.base else []) + models:
            r = m.row
            if m.selected:
                highlight.add(len(rows))
            label = (
                r.model + (" (selected)" if m.selected else "") + (" (reference)" if r.run is None else "")
            )
            cells = [
                label,
                "" if r.step is None else str(r.step),
                pct(r.pass1),
                f"{r.solved}/{r.total}",
                interval(r.wilson),
                interval(r.bootstrap),
                loss(r.val_loss),
            ]
            if split:
                cells.append(pct(r.select_pass1) if r.run else "")
            rows.append(cells)
        out.append(
            Table(headers, rows, caption=f"Run {name}", highlight=highlight, numeric={1, 2, 3, 4, 5, 6})
        )
        vals = [m.row for m in models if m.step is not None]
        if len(vals) >= 2 and len({round(r.pass1, 9) for r in vals}) == 1:
            out.append(
                Para(f"All {len(vals)} evaluated checkpoints of {name} have pass@1 {pct(vals[0].pass1)}.")
            )
        elif len(vals) >= 2:
            lo = min(vals, key=lambda r: (r.pass1, r.step))
            hi = min(vals, key=lambda r: (-r.pass1, r.step))
            out.append(
                Para(
                    f"Across {name}'s {len(vals)} evaluated checkpoints pass@1 ranges from {pct(lo.pass1)} "
                    f"(step {lo.step}) to {pct(hi.pass1)} (step {hi.step})."
                )
            )
    return out


def selection(inp: ReportInputs) -> list[Block]:
    rows = []
    for name, rs in inp.sel.runs.items() if inp.sel else []:
        m = inp.best.get(name)
        if m is None:
            rows.append([name, "none shown", "", "", "", ""])
            continue
        r = m.row
        decided = (rs.decided_by or "") + (f" (tied with {', '.join(rs.tied)})" if rs.tied else "")
        rows.append(
            [name, r.checkpoint or "", pct(r.pass1), f"{r.solved}/{r.total}", interval(r.wilson), decided]
        )
    out: list[Block] = [
        Heading(3, "Selected checkpoints"),
        Table(
            ["run", "selected checkpoint", "pass@1", "solved", "95% CI (Wilson)", "decided by"],
            rows,
            numeric={2, 3},
        ),
        Para(
            "Rule: highest pass@1; ties broken by more problems solved on private tests (when recorded), "
            "then lower validation loss, then the earlier step. " + (inp.sel.note if inp.sel else "")
        ),
    ]
    pcs = inp.paired_all()
    if pcs:
        out += [
            Heading(3, "Paired comparisons"),
            Table(
                [
                    "A",
                    "B",
                    "problems",
                    "both",
                    "only A",
                    "only B",
                    "neither",
                    "A - B solved (points)",
                    "95% CI (exact, as McNemar)",
                    "McNemar p",
                    "verdict",
                ],
                [
                    [
                        pc.name_a,
                        pc.name_b,
                        str(pc.n),
                        str(pc.both),
                        str(pc.only_a),
                        str(pc.only_b),
                        str(pc.neither),
                        f"{100 * pc.solved_diff:+.1f}",
                        f"{100 * pc.diff_ci[0]:+.1f} to {100 * pc.diff_ci[1]:+.1f}",
                        f"{pc.p_value:.2g}",
                        pc.verdict,
                    ]
                    for pc in pcs
                ],
                numeric={2, 3, 4, 5, 6, 7, 9},
            ),
            Bullets([paired_sentence(pc) for pc in pcs]),
        ]
    elif inp.best:
        out.append(
            Note(f"No paired comparison: the evaluations have no per-problem scores ({layout.SCORES_FILE}).")
        )
    return out


def section(inp: ReportInputs) -> list[Block]:
    out: list[Block] = [Heading(2, "Benchmark: every checkpoint")]
    n = len(inp.problems) or max([m.row.total for m in inp.models] + [0])
    intro = f"{n} problems"
    if inp.cfg is not None:
        g = inp.cfg.benchmark.generation
        intro += f", {'greedy decoding' if g.temperature == 0 else f'temperature {g.temperature:g}'}"
        intro += f", {g.n} sample(s) per problem, answers run in the sandbox."
    out.append(Para(f"Benchmark: {intro}"))
    out += scoring_rules(inp)
    out += run_tables(inp)
    out += selection(inp)
    return out
