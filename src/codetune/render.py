"""How the command line shows results: every table and summary the CLI prints (rich), from the records the
library returns. Progress bars and status lines during long work are codetune.progress's."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.columns import Columns
from rich.console import Console
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from codetune.records import DatasetProfile, EvalSummary, OverlapReport, RunSummary, ScoreStats, Selection
from codetune.study.select import interval, pct


def _line(console: Console, text: str, style: str | None = None) -> None:
    console.print(text, markup=False, highlight=False, style=style)


# ------------------------------------------------------------------------------------------------ study


def plan(console: Console, plan, config_path: Path) -> None:
    """`codetune study --dry-run`: what the config will do."""
    unknown = "unknown offline (hub dataset: known once it loads)"
    console.print(f"[bold]Study plan[/bold] for {config_path}  (config valid)")
    _line(console, f"  base model : {plan.base_model}")
    _line(console, f"  output dir : {plan.output_dir}")
    for r in plan.runs:
        console.print(f"[bold]run {r.name}[/bold]")
        _line(console, f"  dataset     : {r.dataset}  (mode: {r.mode})")
        if r.system_prompt:
            _line(console, f"  system      : {r.system_prompt!r}")
        _line(console, f"  train rows  : {r.train_rows if r.train_rows is not None else unknown}")
        _line(console, f"  steps/epoch : {r.steps_per_epoch or unknown}")
        _line(console, f"  total steps : {r.total_steps or unknown}")
        if r.checkpoints:
            shown = (
                r.checkpoints if len(r.checkpoints) <= 4 else [*r.checkpoints[:2], "…", *r.checkpoints[-2:]]
            )
            _line(console, f"  checkpoints : {len(r.checkpoints)} ({', '.join(shown)})")
        else:
            _line(console, "  checkpoints : one every save_every steps and at the end")
        _line(console, f"  run dir     : {r.run_dir}")
    filters = ", ".join(f"{k}={v}" for k, v in plan.benchmark_filters.items() if v is not None)
    console.print(f"[bold]benchmark[/bold] {plan.benchmark_source}: {filters}", highlight=False)


def stage_statuses(console: Console, study_status, output_dir: Path, stop_line: str | None) -> None:
    """Each stage of an existing study folder: done, stale (and why) or to do."""
    console.print(f"[bold]Stages[/bold] in {output_dir}", highlight=False)
    table = Table(show_header=True, box=None, pad_edge=False)
    table.add_column("stage", no_wrap=True)
    table.add_column("status", overflow="fold")
    styles = {"done": "green", "stale": "yellow", "todo": ""}
    for stage, st in study_status.stages:
        table.add_row(Text(stage.label), Text(str(st), style=styles[st.state]))
    console.print(table)
    if stop_line:
        _line(console, f"the study would stop before any work: {stop_line}", style="yellow")


# ------------------------------------------------------------------------------------------------- data


def profile(console: Console, prof: DatasetProfile) -> None:
    """`codetune data profile`: the dataset's shape as tables."""
    spp = prof.solutions_per_problem
    shape = Table(title=f"Dataset profile: {prof.source}", show_header=False, title_justify="left")
    shape.add_column(style="bold")
    shape.add_column()
    shape.add_row("rows", f"{prof.rows:,}")
    if prof.bad_rows_skipped:
        shape.add_row("bad rows skipped", f"{prof.bad_rows_skipped:,}")
        for example in prof.bad_row_examples:
            shape.add_row("", example)
    shape.add_row("unique problems", f"{prof.unique_problems:,}")
    shape.add_row(
        "solutions per problem", f"min {spp.min}, median {spp.median:g}, max {spp.max}, mean {spp.mean:g}"
    )
    hist = ", ".join(f"{k}×: {v:,}" for k, v in prof.problems_by_solution_count.items())
    shape.add_row("problems by solution count", hist)
    shape.add_row("duplicate rows (same problem + answer)", f"{prof.duplicate_rows:,}")
    shape.add_row("columns", ", ".join(prof.columns))
    console.print(shape)

    splits = Table(title=f"Splits ({prof.split_from})", title_justify="left")
    splits.add_column("split")
    splits.add_column("rows", justify="right")
    splits.add_column("problems", justify="right")
    for name, n in prof.splits.items():
        splits.add_row(name, f"{n:,}", f"{prof.split_problems[name]:,}")
    console.print(splits)
    leak = prof.cross_split_problems
    style = "bold red" if leak else "green"
    console.print(f"[{style}]problems in more than one split: {leak:,}[/{style}]")
    for ex in prof.cross_split_examples:
        _line(console, f"  {ex.problem_id} in {', '.join(ex.splits)}: {ex.problem}")
    if prof.tokens:
        tok = Table(title=f"Token lengths (whole chat; max length {prof.max_length:,})", title_justify="left")
        tok.add_column("mode")
        for q in (50, 90, 95, 99):
            tok.add_column(f"p{q}", justify="right")
        for col in ("max", "mean", "over max"):
            tok.add_column(col, justify="right")
        for mode, t in prof.tokens.items():
            tok.add_row(
                mode,
                *(f"{v:,}" for v in (t.p50, t.p90, t.p95, t.p99, t.max)),
                f"{t.mean:,}",
                f"{t.over_max_length:,} of {t.rows:,}",
            )
        console.print(tok)
    if prof.duplicate_examples:
        console.print("[bold]duplicate examples[/bold]")
        for dup in prof.duplicate_examples:
            _line(console, f"  {dup.copies} copies ({', '.join(dup.where)}): {dup.problem}")


def overlap(console: Console, res: OverlapReport, *, n_benchmark: int) -> None:
    """`codetune data overlap`: the near-duplicate pairs and the count of possibly seen problems."""
    if res.pairs:
        t = Table(title=f"near-duplicates (similarity >= {res.threshold:g}, {res.ngram}-word n-grams)")
        for col in ("benchmark", "similarity", "train row", "benchmark statement", "training statement"):
            t.add_column(col, overflow="fold")
        for p in res.pairs:
            t.add_row(
                p.benchmark_id,
                f"{p.similarity:.2f}",
                str(p.train_id),
                p.benchmark_excerpt[:80],
                p.train_excerpt[:80],
            )
        console.print(t)
    _line(
        console,
        f"{res.possibly_seen} of {n_benchmark} benchmark problems possibly seen in training "
        f"({len(res.pairs)} pair(s); {res.train_rows} training rows, {res.train_statements} distinct "
        f"statements; {res.seconds:.1f} s)",
    )


# ---------------------------------------------------------------------------------------- train, eval


def run_summary(console: Console, run: str, rdir: Path, summary: RunSummary) -> None:
    console.print(f"[bold]run {run}[/bold] complete: {rdir}", highlight=False)
    bv, bt, final = summary.best_val, summary.best_test, summary.final
    if bv is not None:
        _line(console, f"  best val  : {bv.loss:.4f} at step {bv.step}")
    if bt is not None:
        _line(console, f"  best test : {bt.loss:.4f} at step {bt.step}")
    _line(console, f"  final     : val {final.val_loss:.4f}, test {final.test_loss:.4f} at step {final.step}")
    over = summary.overfitting_step
    _line(
        console,
        f"  overfitting signal: {'step ' + str(over) if over is not None else 'none'}"
        f" (val loss rising {summary.overfit_patience} evals in a row)",
    )


def eval_tables(console: Console, summaries: Sequence[EvalSummary]) -> None:
    """The seed report's table per run (Model | Pass@1 | Solved Problems), the base model first."""
    groups: dict[str | None, list[EvalSummary]] = {}
    for s in summaries:
        groups.setdefault(s.run, []).append(s)
    for run, rows in groups.items():
        table = Table(title="base model" if run is None else f"run {run}")
        table.add_column("Model")
        table.add_column("Pass@1", justify="right")
        table.add_column("Solved Problems", justify="right")
        for s in rows:
            table.add_row(s.model, pct(s.pass_at_1), f"{s.solved}/{s.total}")
        console.print(table)


def score_stats(console: Console, s: ScoreStats, out: Path) -> None:
    passk = "  ".join(f"{k} {v:.1%}" for k, v in s.pass_at_k.items())
    verdicts = ", ".join(f"{k} {v}" for k, v in sorted(s.sample_verdicts.items()))
    _line(console, f"scored {s.total} problems x {s.n_samples} sample(s): {passk}")
    _line(console, f"solved {s.solved}/{s.total}; sample verdicts: {verdicts}")
    _line(console, f"pass@1 {s.pass_at_1:.1%}  -> {out}")


def selection(console: Console, sel: Selection) -> None:
    """The seed's table per run (Model | Pass@1 | Solved), with 95% intervals and the base model on top."""
    split = sel.select_ids is not None
    for name, rs in sel.runs.items():
        if not rs.rows:
            _line(console, f"run {name}: no evaluated checkpoints", style="yellow")
            for gap in rs.missing:
                _line(console, f"missing: {gap}", style="yellow")
            continue
        table = Table(title=f"run {name}", title_justify="left")
        table.add_column("", no_wrap=True)
        table.add_column("Model", overflow="fold")  # long names wrap instead of losing their step
        table.add_column("Pass@1", justify="right")
        table.add_column("Solved", justify="right")
        table.add_column("95% CI (Wilson)", justify="right")
        if split:
            table.add_column("Pass@1 (selection part)", justify="right")
        best = rs.best.model if rs.best else None
        for row in ([sel.base] if sel.base else []) + rs.rows:
            is_best = row.model == best
            cells = [
                "best" if is_best else "",
                row.model + (" (reference)" if row.run is None else ""),
                pct(row.pass1),
                f"{row.solved}/{row.total}",
                interval(row.wilson),
            ]
            if split:
                cells.append(pct(row.select_pass1) if row.run is not None else "")
            table.add_row(*cells, style="bold green" if is_best else ("dim" if row.run is None else None))
        console.print(table)
        if rs.best is not None:
            how = "" if rs.decided_by == "pass@1" else f" (tie on pass@1 broken by {rs.decided_by})"
            _line(console, f"best of {name}: {rs.best.checkpoint}{how}")
        for gap in rs.missing:
            _line(console, f"missing: {gap}", style="yellow")
    for gap in sel.gaps:
        _line(console, f"missing: {gap}", style="yellow")
    _line(console, sel.note)


def comparison(console: Console, result) -> None:
    """`codetune compare`: per prompt the answers side by side, then their metrics; then the aggregates."""
    from codetune.study.compare import AGGREGATE_ROWS, METRIC_ROWS

    answers, metrics = result.answers, result.metrics.models
    names = [m.name for m in answers.models]
    width = max(30, console.width // max(1, len(names)) - 2)
    for i, prompt in enumerate(answers.prompts):
        console.print(Rule(f"prompt {i + 1}"))
        console.print(Text(prompt, style="bold"))
        panels = [Panel(Text(m.answers[i]), title=m.name, width=width) for m in answers.models]
        console.print(Columns(panels, equal=True))
        table = Table(show_header=True)
        table.add_column("metric")
        for n in names:
            table.add_column(n)
        for label, row in METRIC_ROWS:
            table.add_row(label, *(row(m.metrics[i]) for m in metrics))
        console.print(table)
    table = Table(title="per model, all prompts", title_justify="left")
    table.add_column("metric")
    for n in names:
        table.add_column(n)
    for label, aggregate in AGGREGATE_ROWS:
        table.add_row(label, *(aggregate(m.aggregate) for m in metrics))
    console.print(table)


def paired(console: Console, res, a: Path, b: Path, seed: int) -> None:
    """`codetune compare-scores`: both pass@1 with intervals, the discordant problems, the test's verdict."""

    def ci(t: Sequence[float]) -> str:
        return f"[{pct(t[0])}, {pct(t[1])}]"

    _line(console, f"A = {a}\nB = {b}")
    t = Table(title=f"pass@1 on the {res.n} problems both were scored on")
    for col in ("model", "pass@1", "solved", "Wilson 95%", "bootstrap 95%"):
        t.add_column(col)
    t.add_row("A", pct(res.pass_a), f"{res.solved_a}/{res.n}", ci(res.wilson_a), ci(res.bootstrap_a))
    t.add_row("B", pct(res.pass_b), f"{res.solved_b}/{res.n}", ci(res.wilson_b), ci(res.bootstrap_b))
    console.print(t)
    c = Table(title=f"problems solved (pass@1 >= {res.solved_at:g})")
    for col in ("both", "only A", "only B", "neither"):
        c.add_column(col, justify="right")
    c.add_row(str(res.both), str(res.only_a), str(res.only_b), str(res.neither))
    console.print(c)
    if res.only_in_a or res.only_in_b:
        _line(console, f"left out: {res.only_in_a} problem(s) scored only for A, {res.only_in_b} only for B")
    _line(
        console,
        f"difference A - B in problems solved: {100 * res.solved_diff:+.1f} points, 95% "
        f"[{100 * res.diff_ci[0]:+.1f}, {100 * res.diff_ci[1]:+.1f}] ({res.diff_ci_method})",
    )
    if abs(res.diff - res.solved_diff) > 1e-12:
        _line(console, f"difference A - B in mean pass@1: {100 * res.diff:+.1f} points")
    _line(console, f"exact McNemar p = {res.p_value:.4g}")
    _line(console, f"verdict: {res.verdict}")


def protections(console: Console, found: dict) -> None:
    """`codetune doctor`: which sandbox protections are active here."""
    table = Table(title="codetune sandbox protections on this machine", title_justify="left")
    table.add_column("protection")
    table.add_column("active")
    for name, value in found.items():
        if name == "notes":
            continue
        shown = value if isinstance(value, str) else ("yes" if value else "[red]no[/red]")
        table.add_row(name.replace("_", " "), shown)
    console.print(table)
    _line(console, f"notes: {found['notes']}")


def training_plan(console: Console, plan: dict) -> None:
    """`codetune study --dry-run`: the precision and memory plan of a run on this machine's card."""
    if "error" in plan:
        _line(console, f"training on {plan['device']}: {plan['error']}")
        return
    _line(
        console, f"training on {plan['device']}: {plan['dtype']}; gradient checkpointing {plan['estimate']}"
    )


def gpu_facts(console: Console, facts: dict) -> None:
    """`codetune doctor`: what the GPU path (training precision, vLLM, kernels, memory) will use here."""
    table = Table(title="codetune GPU path on this machine", title_justify="left")
    table.add_column("what")
    table.add_column("here")
    card = facts["card"]
    table.add_row("torch", facts["torch"])
    table.add_row(
        "device",
        f"{card['name']} (compute capability {card['capability']})"
        if card
        else f"[red]no CUDA GPU[/red] (CPU){': ' + facts['no_gpu_why'] if facts.get('no_gpu_why') else ''}",
    )
    if card:
        table.add_row("free memory", card["memory"])
    table.add_row("precision (model.dtype: auto)", facts["precision"])
    vllm = facts["vllm"]
    table.add_row("vLLM", vllm["installed"] or "[red]not installed[/red]")
    if vllm["installed"]:
        table.add_row("vLLM for backend: auto", "yes" if vllm["runs_here"] else "[red]no[/red] (hf backend)")
    table.add_row("vLLM LoRA serving", vllm["lora"])
    for key, label in (
        ("liger_kernel", "Liger kernels"),
        ("flash_attn", "flash-attn"),
        ("4bit", "4-bit (QLoRA)"),
    ):
        table.add_row(label, facts[key] or "[red]not installed[/red]")
    plan = facts.get("training_plan")
    if plan:
        shown = plan.get("error") or f"{plan['dtype']}; gradient checkpointing {plan.get('estimate')}"
        table.add_row(f"training {plan['config'] or 'the config'}", shown)
    console.print(table)
