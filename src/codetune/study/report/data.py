"""Each run's dataset as profiled, and the benchmark problems its data may have shown the model."""

from __future__ import annotations

from codetune import layout
from codetune.records import DatasetProfile, OverlapReport
from codetune.study.document import Block, Bullets, Heading, Note, Para, Table
from codetune.study.report.common import pct
from codetune.study.report.inputs import ReportInputs


def datasets(inp: ReportInputs) -> list[Block]:
    rows, facts = [], []
    out: list[Block] = []
    for name in inp.study.runs:
        path = layout.profile_path(inp.dir, name)
        prof = DatasetProfile.read(path)
        if prof is None:
            out.append(Note(f"{name}: no dataset profile ({path.relative_to(inp.dir)})"))
            continue
        if note := inp.record_note("profile", name, f"The dataset profile of {name}"):
            out.append(Note(note))
        spp = prof.solutions_per_problem
        rows.append(
            [
                name,
                prof.source,
                f"{prof.rows:,}",
                f"{prof.unique_problems:,}",
                f"{spp.min} / {spp.median:g} / {spp.max}",
                ", ".join(f"{k} {v:,}" for k, v in prof.splits.items()) or "n/a",
                str(prof.cross_split_problems),
                str(prof.duplicate_rows),
                ", ".join(f"{k} {v}" for k, v in (prof.rows_over_max_length or {}).items()) or "n/a",
            ]
        )
        facts.append(
            f"{name}: {prof.rows:,} rows of {prof.unique_problems:,} distinct problems "
            f"(median {spp.median:g} solutions per problem)."
        )
    if rows:
        table = Table(
            [
                "run",
                "source",
                "rows",
                "unique problems",
                "solutions/problem (min/median/max)",
                "rows per split",
                "problems in several splits",
                "duplicate rows",
                "rows over max length (tokens, per mode)",
            ],
            rows,
            numeric={2, 3},
        )
        out = [table, Bullets(facts), *out]
    return out


def contamination(inp: ReportInputs) -> list[Block]:
    out: list[Block] = [Heading(3, "Benchmark problems possibly seen in training")]
    rows, facts = [], []
    for name in inp.runs:
        path = layout.overlap_path(inp.dir, name)
        ov = OverlapReport.read(path)
        if ov is None:
            out.append(
                Note(f"{name}: overlap with the benchmark not computed (no {path.relative_to(inp.dir)}).")
            )
            continue
        if note := inp.record_note("overlap", name, f"The overlap check of {name}"):
            out.append(Note(note))
        seen = set(ov.possibly_seen_ids)
        n = ov.benchmark_problems
        without = with_all = "n/a"
        best = inp.best.get(name)
        if best is not None and not best.eval.per_problem:
            facts.append(
                f"{name}: {len(seen)} of {n} benchmark problems have a near-duplicate statement in its "
                "dataset; its best checkpoint has no per-problem scores to leave them out."
            )
        elif best is not None:
            e = best.eval
            ids = inp.report_ids or list(e.per_problem)
            keep = [q for q in ids if q not in seen]
            with_all = pct(e.on(ids)[0])
            without = pct(e.on(keep)[0]) if keep else "n/a"
            rest = (
                f"and {without} on the {len(keep)} others"
                if keep
                else "and every reported problem is among them, so there is no pass@1 without them"
            )
            facts.append(
                f"{name}: {len(seen)} of {n} benchmark problems have a near-duplicate statement in its "
                f"dataset (containment >= {ov.threshold:g} of {ov.ngram}-word "
                f"n-grams); its best checkpoint's pass@1 is {with_all} on all {len(ids)} reported problems "
                f"{rest}."
            )
        rows.append([name, f"{len(seen)} / {n}", with_all, without])
    if rows:
        out += [
            Table(
                [
                    "run",
                    "possibly seen / benchmark problems",
                    "best pass@1 (all)",
                    "best pass@1 (unseen only)",
                ],
                rows,
                numeric={2, 3},
            ),
            Bullets(facts) if facts else Para("No run has an evaluated checkpoint to compare."),
        ]
    return out


def section(inp: ReportInputs) -> list[Block]:
    return [Heading(2, "Datasets"), *datasets(inp), *contamination(inp)]
