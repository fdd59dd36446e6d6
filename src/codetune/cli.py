"""The `codetune` command line: parses arguments, calls the library, formats errors. Nothing imports this module.

Heavy libraries (torch, transformers) are imported inside the commands that need them, so `--help`,
`--dry-run` and config errors answer in well under a second.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from codetune.errors import CodetuneError

app = typer.Typer(
    name="codetune",
    help=(
        "Run a whole LoRA fine-tuning study of a code LLM from one YAML file: train each run, record "
        "train/validation/test loss every N steps, benchmark every checkpoint on LiveCodeBench-style problems "
        "in a sandbox, select the best checkpoint per run, compare behaviour, and write a report.\n\n"
        "Start with `codetune demo` (embedded SmolLM2-135M, built-in data, CPU) or "
        "`codetune study configs/seed-qwen2.5-coder-1.5b.yaml --dry-run`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
data_app = typer.Typer(help="Inspect and check instruction datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

console = Console()
err_console = Console(stderr=True)
_state = {"debug": False}

ConfigArg = Annotated[
    Path, typer.Argument(help="Study config (YAML), e.g. configs/demo.yaml.", show_default=False)
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY.PATH=VALUE",
        help="Override a config value (repeatable), parsed as YAML and validated like the file, e.g. "
        "--set training.max_steps=100 --set runs.deep_instruction.dataset.source=data.jsonl",
        show_default=False,
    ),
]


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Study folder to write.")] = Path("studies/demo"),
    overrides: SetOpt = None,
) -> None:
    """Run the whole study on the embedded default (SmolLM2-135M-Instruct, built-in data and benchmark) on CPU.

    Uses configs/demo.yaml with its output folder set to --out; finishes on 2 CPU cores in about 15 minutes
    and prints where the report is. Re-running continues an interrupted demo.
    """
    import json

    from codetune.config import load_config
    from codetune.study.pipeline import demo_config_path, run_study

    out_dir = json.dumps(str(out.expanduser().resolve()))  # a JSON string is a YAML string, whatever it holds
    cfg = load_config(demo_config_path(), [f"output_dir={out_dir}", *(overrides or [])])
    html_path, md_path = run_study(cfg, console)
    console.print(f"report: {html_path}  (Markdown twin: {md_path})", markup=False, highlight=False)


@app.command()
def study(
    config: ConfigArg,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Validate the config and print the plan; load no model, touch no network."
        ),
    ] = False,
    overrides: SetOpt = None,
) -> None:
    """Run a whole study in order: train each run, evaluate, select, compare, report.

    Work already complete is skipped, so re-running after an interruption continues where it stopped.
    """
    from codetune.config import load_config

    cfg = load_config(config, overrides or [])
    if dry_run:
        from codetune.study.plan import make_plan

        _print_plan(make_plan(cfg), config)
        return
    from codetune.study.pipeline import run_study

    html_path, md_path = run_study(cfg, console)
    console.print(f"report: {html_path}  (Markdown twin: {md_path})", markup=False, highlight=False)


def _print_plan(plan, config_path: Path) -> None:
    unknown = "unknown offline (hub dataset: known once it loads)"
    console.print(f"[bold]Study plan[/bold] for {config_path}  (config valid)")
    console.print(f"  base model : {plan.base_model}")
    console.print(f"  output dir : {plan.output_dir}")
    for r in plan.runs:
        console.print(f"[bold]run {r.name}[/bold]")
        console.print(f"  dataset     : {r.dataset}  (mode: {r.mode})")
        if r.system_prompt:
            console.print(f"  system      : {r.system_prompt!r}", markup=False)
        console.print(f"  train rows  : {r.train_rows if r.train_rows is not None else unknown}")
        console.print(f"  steps/epoch : {r.steps_per_epoch or unknown}")
        console.print(f"  total steps : {r.total_steps or unknown}")
        if r.checkpoints:
            shown = (
                r.checkpoints if len(r.checkpoints) <= 4 else [*r.checkpoints[:2], "…", *r.checkpoints[-2:]]
            )
            console.print(f"  checkpoints : {len(r.checkpoints)} ({', '.join(shown)})")
        else:
            console.print("  checkpoints : one every save_every steps and at the end")
        console.print(f"  run dir     : {r.run_dir}")
    filters = ", ".join(f"{k}={v}" for k, v in plan.benchmark_filters.items() if v is not None)
    console.print(f"[bold]benchmark[/bold] {plan.benchmark_source}: {filters}", markup=True, highlight=False)


@data_app.command("profile")
def data_profile(
    source: Annotated[
        str, typer.Argument(help="Hub id, local .jsonl/.json/.parquet file, or builtin:deep|builtin:diverse.")
    ],
    tokenizer: Annotated[
        str | None,
        typer.Option("--tokenizer", help="Model whose tokenizer measures token lengths (id, dir or alias)."),
    ] = None,
    max_length: Annotated[
        int, typer.Option("--max-length", min=1, help="Count rows longer than this many tokens.")
    ] = 2048,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    skip_bad_rows: Annotated[
        bool, typer.Option("--skip-bad-rows", help="Skip (and count) broken or incomplete rows.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split by problem (no split column).")] = 42,
    system_prompt: Annotated[
        str | None,
        typer.Option("--system-prompt", help="System prompt included when measuring token lengths."),
    ] = None,
) -> None:
    """Measure a dataset's real shape: rows, unique problems, solutions per problem, splits, token lengths."""
    import json

    from codetune.config import DatasetConfig, ModelConfig
    from codetune.data.profile import profile_dataset, render_profile

    tok = None
    if tokenizer:
        from codetune.models import load_tokenizer

        tok = load_tokenizer(ModelConfig(source=tokenizer))
    prof = profile_dataset(
        DatasetConfig(source=source, skip_bad_rows=skip_bad_rows),
        base_dir=Path.cwd(),
        tokenizer=tok,
        max_length=max_length,
        seed=seed,
        system_prompt=system_prompt,
    )
    if as_json:
        print(json.dumps(prof))
    else:
        render_profile(prof, console)


@data_app.command("overlap")
def data_overlap(
    train_source: Annotated[
        str,
        typer.Argument(
            help="Training data: hub id, local .jsonl/.json/.parquet, or builtin:deep|builtin:diverse."
        ),
    ],
    benchmark_source: Annotated[
        str, typer.Argument(help="Benchmark: LiveCodeBench-layout JSONL, hub id, or builtin.")
    ],
    threshold: Annotated[
        float, typer.Option("--threshold", help="Flag pairs whose similarity is at least this (0-1].")
    ] = 0.5,
    ngram: Annotated[int, typer.Option("--ngram", help="Word n-gram length.")] = 5,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of built-in data (the study's training.seed).")
    ] = 42,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Contamination check: benchmark problems whose statement has a near-duplicate in the training data.

    Similarity is the fraction of the benchmark statement's word n-grams found in a training statement,
    after lowercasing, replacing numbers with one token and collapsing whitespace. Repeated training
    statements are compared once.
    """
    import json

    from rich.table import Table

    from codetune.bench.lcb import load_benchmark
    from codetune.config import BenchmarkConfig, DatasetConfig
    from codetune.data.overlap import dataset_overlaps

    def note(msg: str) -> None:
        err_console.print(msg, markup=False, highlight=False, style="dim")

    selection = load_benchmark(BenchmarkConfig(source=benchmark_source), Path.cwd(), seed=seed, report=note)
    bench = [(p.question_id, p.question_content) for p in selection.problems]
    res = dataset_overlaps(
        DatasetConfig(source=train_source), bench, Path.cwd(), ngram=ngram, threshold=threshold, seed=seed
    )
    if as_json:
        print(
            json.dumps({"benchmark_source": benchmark_source, **res.to_dict()}, indent=2, ensure_ascii=False)
        )
        return
    pairs = res.pairs
    if pairs:
        t = Table(title=f"near-duplicates (similarity >= {threshold:g}, {ngram}-word n-grams)")
        for col in ("benchmark", "similarity", "train row", "benchmark statement", "training statement"):
            t.add_column(col, overflow="fold")
        for p in pairs:
            t.add_row(
                p.benchmark_id,
                f"{p.similarity:.2f}",
                str(p.train_id),
                p.benchmark_excerpt[:80],
                p.train_excerpt[:80],
            )
        console.print(t)
    console.print(
        f"{res.possibly_seen} of {len(bench)} benchmark problems possibly seen in training "
        f"({len(pairs)} pair(s); {res.train_rows} training rows, {res.train_statements} distinct "
        f"statements; {res.seconds:.1f} s)",
        markup=False,
        highlight=False,
    )


@app.command()
def train(
    config: ConfigArg,
    run: Annotated[
        str,
        typer.Option(
            "--run",
            "--run-name",  # torchrun's parser mistakes `--run` for its own --run-path
            help="Run name from the config's `runs` section.",
        ),
    ],
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the latest complete checkpoint.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Delete an existing run folder and start over.")
    ] = False,
    overrides: SetOpt = None,
) -> None:
    """Train one LoRA run; losses every `eval_every` steps, a checkpoint every `save_every` steps.

    Writes RUN_DIR/metrics.jsonl, checkpoints/checkpoint-step-S-epoch-E, loss.png and summary.json. Works
    unchanged under `accelerate launch` and `torchrun` (process 0 writes the files).
    """
    import json
    import os

    from codetune.config import load_config
    from codetune.train.run import train_run
    from codetune.train.summary import SUMMARY_FILE

    if resume and overwrite:
        raise CodetuneError("--resume and --overwrite contradict each other; pass one")
    cfg = load_config(config, overrides or [])
    cfg.run(run)
    rdir = train_run(cfg, run, resume=resume, overwrite=overwrite)
    if os.environ.get("RANK", "0") != "0":  # under a launcher, process 0 reports
        return
    summary = json.loads((rdir / SUMMARY_FILE).read_text(encoding="utf-8"))
    bv, bt, final = summary["best_val"], summary["best_test"], summary["final"]
    console.print(f"[bold]run {run}[/bold] complete: {rdir}")
    console.print(f"  best val  : {bv['loss']:.4f} at step {bv['step']}")
    console.print(f"  best test : {bt['loss']:.4f} at step {bt['step']}")
    console.print(
        f"  final     : val {final['val_loss']:.4f}, test {final['test_loss']:.4f} at step {final['step']}"
    )
    over = summary["overfitting_step"]
    console.print(
        f"  overfitting signal: {'step ' + str(over) if over is not None else 'none'}"
        f" (val loss rising {summary['overfit_patience']} evals in a row)"
    )


@app.command("eval")
def eval_cmd(
    config: ConfigArg,
    run: Annotated[str | None, typer.Option("--run", help="Run to evaluate (default: all runs).")] = None,
    checkpoints: Annotated[
        str, typer.Option("--checkpoints", help="all | best | comma-separated steps, e.g. 220,240.")
    ] = "all",
    include_base: Annotated[
        bool, typer.Option("--include-base", help="Also evaluate the base model.")
    ] = False,
    overrides: SetOpt = None,
) -> None:
    """Generate and score benchmark answers for the base model and each selected checkpoint (resumable).

    Writes RUN_DIR/eval/<checkpoint>/ (prompts, generations, scores, summary); an interrupted eval continues
    at the next problem. Prints the table: checkpoint, Pass@1, solved/total.
    """
    from codetune.bench.evaluate import evaluate_study, print_summary_tables
    from codetune.config import load_config

    cfg = load_config(config, overrides or [])
    summaries = evaluate_study(cfg, run=run, checkpoints=checkpoints, include_base=include_base)
    print_summary_tables(summaries, console)


@app.command()
def bench(
    config: ConfigArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")] = False,
    overrides: SetOpt = None,
) -> None:
    """Load and filter the configured benchmark, without a model: which problems will the study score?

    Prints the source, release, files read (with their hub commit and sha256), the count after each filter
    and the selected question_ids. --json prints one object: source, release, revision, files, counts
    [{step, count}], question_ids, problems, public_tests, private_tests, tests.
    """
    import json

    from codetune.bench.lcb import load_benchmark
    from codetune.config import load_config

    def note(msg: str) -> None:
        err_console.print(msg, markup=False, highlight=False, style="dim")

    cfg = load_config(config, overrides or [])
    sel = load_benchmark(
        cfg.benchmark, cfg.path.parent if cfg.path else None, seed=cfg.training.seed, report=note
    )
    data = sel.to_dict()
    if as_json:
        print(json.dumps(data, indent=1))
        return
    say = lambda text: console.print(text, markup=False, highlight=False, soft_wrap=True)  # noqa: E731
    say(f"source   : {sel.source}")
    if sel.release:
        say(f"release  : {sel.release}  (revision {sel.revision or 'unknown'})")
    for f in sel.files:
        say(f"file     : {f['name']}  sha256 {f['sha256']}")
    for c in data["counts"]:
        say(f"  {c['step']:<24} {c['count']}")
    say(
        f"selected : {data['problems']} problems, {data['tests']} tests "
        f"({data['public_tests']} public, {data['private_tests']} private)"
    )
    say("question_ids: " + " ".join(data["question_ids"]))


@app.command()
def fetch(config: ConfigArg, overrides: SetOpt = None) -> None:
    """Download everything CONFIG reads from the hub (model, each run's dataset, the benchmark release's
    files) into the Hugging Face cache ($HF_HOME), so the study then runs with HF_HUB_OFFLINE=1."""
    from codetune.config import load_config
    from codetune.study.fetch import fetch_study

    cfg = load_config(config, overrides or [])
    fetched = fetch_study(
        cfg, report=lambda m: console.print(m, markup=False, highlight=False, soft_wrap=True)
    )
    console.print(f"{len(fetched)} item(s) ready; run the study with HF_HUB_OFFLINE=1", markup=False)


@app.command()
def score(
    benchmark: Annotated[
        Path, typer.Option("--benchmark", help="Benchmark JSONL in LiveCodeBench row layout.")
    ],
    generations: Annotated[
        Path, typer.Option("--generations", help='JSON list of {"question_id", "code_list": [...]}.')
    ],
    out: Annotated[Path, typer.Option("--out", help="Scores JSON to write (LiveCodeBench eval-all layout).")],
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds per test (wall clock, as LiveCodeBench's --timeout).")
    ] = 6.0,
    memory_mb: Annotated[int, typer.Option("--memory-mb", help="Address-space limit per test (MB).")] = 1024,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Tests run in parallel (default: all cores).")
    ] = None,
) -> None:
    """Score existing generations in the sandbox, without a model; prints overall pass@1.

    Exits 0 whenever scoring ran, whatever the pass rate; a question_id not in the benchmark is an error.
    """
    from codetune.bench.scoring import grading_limits, score_files

    limits = grading_limits(timeout, memory_mb)
    s = score_files(benchmark, generations, out, limits=limits, workers=workers)
    passk = "  ".join(f"{k} {v:.1%}" for k, v in s["pass@k"].items())
    verdicts = ", ".join(f"{k} {v}" for k, v in sorted(s["sample_verdicts"].items()))
    console.print(f"scored {s['total']} problems x {s['n_samples']} sample(s): {passk}", highlight=False)
    console.print(f"solved {s['solved']}/{s['total']}; sample verdicts: {verdicts}", highlight=False)
    console.print(f"pass@1 {s['pass@1']:.1%}  -> {out}", highlight=False)


@app.command()
def select(
    study_dir: Annotated[Path, typer.Argument(help="Study output folder.")],
) -> None:
    """Pick each run's best checkpoint by pass@1 and write STUDY_DIR/selection.json.

    Ties: more problems solved on private tests (when recorded), then lower validation loss, then the earlier
    step. Prints per run the table Model | Pass@1 | Solved with 95% intervals and the base model as reference.
    """
    from codetune.study.select import print_selection, select_study, write_selection

    selection = select_study(study_dir)
    path = write_selection(study_dir, selection)
    print_selection(selection, console)
    console.print(f"wrote {path}", markup=False, highlight=False)


@app.command()
def compare(
    checkpoint: Annotated[
        list[Path], typer.Option("--checkpoint", help="Checkpoint folder; repeat for each model to compare.")
    ],
    prompts: Annotated[
        Path | None,
        typer.Option(
            "--prompts",
            help="Text file, one prompt per line (default: the seed's binary-search and distance prompts).",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for answers.json and metrics.json.")] = Path(
        "compare"
    ),
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, help="Tokens per answer.")] = 512,
    system: Annotated[
        str | None, typer.Option("--system", help="System prompt sent before each prompt.")
    ] = None,
    include_base: Annotated[
        bool, typer.Option("--include-base", help="Also answer with the bare base model.")
    ] = False,
) -> None:
    """Send the same prompts through each checkpoint and show the answers side by side with behaviour metrics.

    Greedy decoding, all checkpoints on one base model. Metrics per answer are computed from its text:
    explanation before the first code block (and its length), markdown headers, code blocks, libraries
    imported and functions defined (from the AST), answer length; then aggregated per checkpoint.
    """
    from codetune.config import DEFAULT_COMPARE_PROMPTS
    from codetune.study.compare import (
        check_checkpoints,
        print_compare,
        read_prompts,
        run_compare,
        save_compare,
    )

    check_checkpoints(checkpoint)  # a missing checkpoint fails before any model loads
    texts = read_prompts(prompts) if prompts else list(DEFAULT_COMPARE_PROMPTS)
    result = run_compare(
        checkpoint, texts, max_new_tokens=max_new_tokens, include_base=include_base, system_prompt=system
    )
    print_compare(result, console)
    answers, metrics = save_compare(result, out)
    console.print(f"wrote {answers} and {metrics}", markup=False, highlight=False)


@app.command()
def report(
    study_dir: Annotated[Path, typer.Argument(help="Study output folder.")],
) -> None:
    """Write STUDY_DIR/report.html (self-contained) and report.md from the study's own files.

    Missing or partial runs are reported as missing; nothing is re-generated.
    """
    from codetune.study.report import write_report

    html_path, md_path = write_report(study_dir)
    console.print(f"report: {html_path}  (Markdown twin: {md_path})", markup=False, highlight=False)


@app.command("compare-scores")
def compare_scores(
    a: Annotated[
        Path,
        typer.Argument(
            help="Model A: scores.json (eval-all layout), its eval folder, or a checkpoint folder."
        ),
    ],
    b: Annotated[Path, typer.Argument(help="Model B, same forms as A.")],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap resampling.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Is A's pass@1 really different from B's? Paired comparison on the problems both were scored on.

    Prints problems solved by both / only A / only B / neither, each pass@1 with Wilson and bootstrap 95%
    intervals, the exact McNemar p-value, the exact interval of the difference in problems solved that this
    test inverts (Clopper-Pearson on the discordant problems: it holds 0 exactly when p >= 0.05), and the
    verdict. A problem counts as solved when its pass@1 is at least 0.5.
    """
    import json

    from rich.table import Table

    from codetune.study.stats import load_scores, paired_comparison

    res = paired_comparison(load_scores(a), load_scores(b), seed=seed, name_a="A", name_b="B")
    if as_json:
        print(json.dumps({"a": str(a), "b": str(b), "seed": seed, **res.to_dict()}, indent=2))
        return

    def pct(x: float) -> str:
        return f"{100 * x:.1f}%"

    def ci(t: tuple[float, float]) -> str:
        return f"[{pct(t[0])}, {pct(t[1])}]"

    console.print(f"A = {a}\nB = {b}", markup=False, highlight=False)
    t = Table(title=f"pass@1 on the {res.n} problems both were scored on")
    for col in ("model", "pass@1", "solved", "Wilson 95%", "bootstrap 95%"):
        t.add_column(col)
    t.add_row("A", pct(res.pass_a), f"{res.solved_a}/{res.n}", ci(res.wilson_a), ci(res.bootstrap_a))
    t.add_row("B", pct(res.pass_b), f"{res.solved_b}/{res.n}", ci(res.wilson_b), ci(res.bootstrap_b))
    console.print(t)
    c = Table(title="problems solved (pass@1 >= 0.5)")
    for col in ("both", "only A", "only B", "neither"):
        c.add_column(col, justify="right")
    c.add_row(str(res.both), str(res.only_a), str(res.only_b), str(res.neither))
    console.print(c)
    if res.only_in_a or res.only_in_b:
        console.print(
            f"left out: {res.only_in_a} problem(s) scored only for A, {res.only_in_b} only for B",
            markup=False,
        )
    console.print(
        f"difference A - B in problems solved: {100 * res.solved_diff:+.1f} points, 95% "
        f"[{100 * res.diff_ci[0]:+.1f}, {100 * res.diff_ci[1]:+.1f}] ({res.diff_ci_method})",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if abs(res.diff - res.solved_diff) > 1e-12:
        console.print(f"difference A - B in mean pass@1: {100 * res.diff:+.1f} points", markup=False)
    console.print(f"exact McNemar p = {res.p_value:.4g}", markup=False, highlight=False)
    console.print(f"verdict: {res.verdict}", markup=False, highlight=False)


@app.command()
def doctor(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the protections as one JSON object.")
    ] = False,
) -> None:
    """Say which sandbox protections are active on this machine (namespaces, no network, job uid, limits)."""
    import json

    from rich.table import Table

    from codetune.sandbox import protections

    found = protections()
    if as_json:
        console.print_json(json.dumps(found))
        return
    table = Table(title="codetune sandbox protections on this machine", title_justify="left")
    table.add_column("protection")
    table.add_column("active")
    for name, value in found.items():
        if name == "notes":
            continue
        shown = value if isinstance(value, str) else ("yes" if value else "[red]no[/red]")
        table.add_row(name.replace("_", " "), shown)
    console.print(table)
    console.print(f"notes: {found['notes']}", markup=False, highlight=False)


def main() -> None:
    try:
        app()
    except CodetuneError as e:
        if _state["debug"]:
            traceback.print_exc()
        err_console.print(f"codetune: error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("codetune: interrupted", markup=False)
        sys.exit(130)
