"""The `codetune` command line: parses arguments, calls the library, formats errors. Nothing imports this module.

Heavy libraries (torch, transformers) are imported inside the commands that need them, so `--help`,
`--dry-run` and config errors answer in well under a second.
"""

from __future__ import annotations

import errno
import signal
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from codetune import layout, progress
from codetune.bench.sources import kinds_text as benchmark_kinds
from codetune.config import (
    DEFAULT_COMPARE_MAX_NEW_TOKENS,
    DEFAULT_IMPORT_PATTERN,
    DEFAULT_MAX_SEQ_LENGTH,
    DEFAULT_MEMORY_MB,
    DEFAULT_SEED,
    DEFAULT_TIMEOUT_S,
)
from codetune.data.overlap import NGRAM as OVERLAP_NGRAM
from codetune.data.overlap import THRESHOLD as OVERLAP_THRESHOLD
from codetune.data.sources import kinds_text as dataset_kinds
from codetune.errors import CodetuneError
from codetune.files import no_space_error

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
err_console = progress.console  # stderr, shared with the progress bars
_state = {"debug": False, "interrupted": False}

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
    overwrite_stale: Annotated[
        bool,
        typer.Option(
            "--overwrite-stale",
            help="Retrain runs whose training was done with a different config (as `study --overwrite-stale`).",
        ),
    ] = False,
    overrides: SetOpt = None,
) -> None:
    """Run the whole study on the embedded default (SmolLM2-135M-Instruct, built-in data and benchmark) on CPU.

    Uses configs/demo.yaml with its output folder set to --out; finishes on 2 CPU cores in about 10 minutes
    from a fresh clone and prints where the report is. Re-running continues an interrupted demo.
    """
    import json

    from codetune.config import load_config
    from codetune.study.pipeline import demo_config_path, run_study

    out_dir = json.dumps(str(out.expanduser().resolve()))  # a JSON string is a YAML string, whatever it holds
    cfg = load_config(demo_config_path(), [f"output_dir={out_dir}", *(overrides or [])])
    html_path, md_path = run_study(cfg, overwrite_stale=overwrite_stale)
    console.print(f"report: {html_path}  (Markdown twin: {md_path})", markup=False, highlight=False)


@app.command()
def study(
    config: ConfigArg,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Validate the config, print the plan and, for an existing output folder, each stage's status "
            "(done, stale and why, or to do); load no model, touch no network.",
        ),
    ] = False,
    overwrite_stale: Annotated[
        bool,
        typer.Option(
            "--overwrite-stale",
            help="Retrain runs whose training was done with a different config (their checkpoints and "
            "evaluations are deleted); without it the study stops and names the settings that differ.",
        ),
    ] = False,
    overrides: SetOpt = None,
) -> None:
    """Run a whole study in order: profile and check the data, train each run, evaluate, select, compare, report.

    Each stage records what it was computed from; a stage whose settings or inputs are unchanged is kept, any
    other is computed afresh, so re-running continues after an interruption and redoes what a config change
    affects. Training done with other settings is never reused: the study stops and says so.
    """
    from codetune import render
    from codetune.config import load_config

    cfg = load_config(config, overrides or [])
    if dry_run:
        from codetune.study.pipeline import dry_run_status, stale_training_message
        from codetune.study.plan import make_plan

        render.plan(console, make_plan(cfg), config)
        render.training_plan(console, _training_plan(cfg))
        status = dry_run_status(cfg)
        if status is None:
            console.print(f"no study in {cfg.output_path} yet: every stage is to do", highlight=False)
            return
        stale = status.stale_training()
        stop = stale_training_message(stale) if stale and not overwrite_stale else None
        render.stage_statuses(console, status, cfg.output_path, stop)
        return
    from codetune.study.pipeline import run_study

    html_path, md_path = run_study(cfg, overwrite_stale=overwrite_stale)
    console.print(f"report: {html_path}  (Markdown twin: {md_path})", markup=False, highlight=False)


@data_app.command("profile")
def data_profile(
    source: Annotated[str, typer.Argument(help=f"The dataset: {dataset_kinds()}.")],
    tokenizer: Annotated[
        str | None,
        typer.Option("--tokenizer", help="Model whose tokenizer measures token lengths (id, dir or alias)."),
    ] = None,
    max_length: Annotated[
        int, typer.Option("--max-length", min=1, help="Count rows longer than this many tokens.")
    ] = DEFAULT_MAX_SEQ_LENGTH,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    skip_bad_rows: Annotated[
        bool, typer.Option("--skip-bad-rows", help="Skip (and count) broken or incomplete rows.")
    ] = False,
    seed: Annotated[
        int,
        typer.Option("--seed", help="Seed of the split by problem (no split column) and of built-in data."),
    ] = DEFAULT_SEED,
    system_prompt: Annotated[
        str | None,
        typer.Option("--system-prompt", help="System prompt included when measuring token lengths."),
    ] = None,
) -> None:
    """Measure a dataset's real shape: rows, unique problems, solutions per problem, splits, token lengths."""
    import json

    from codetune import render
    from codetune.config import DatasetConfig, ModelConfig
    from codetune.data.profile import profile_dataset

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
        print(json.dumps(prof.to_json()))
    else:
        render.profile(console, prof)


@data_app.command("overlap")
def data_overlap(
    train_source: Annotated[str, typer.Argument(help=f"Training data: {dataset_kinds()}.")],
    benchmark_source: Annotated[str, typer.Argument(help=f"Benchmark: {benchmark_kinds()}.")],
    threshold: Annotated[
        float, typer.Option("--threshold", help="Flag pairs whose similarity is at least this (0-1].")
    ] = OVERLAP_THRESHOLD,
    ngram: Annotated[int, typer.Option("--ngram", help="Word n-gram length.")] = OVERLAP_NGRAM,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of built-in data (the study's training.seed).")
    ] = DEFAULT_SEED,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Contamination check: benchmark problems whose statement has a near-duplicate in the training data.

    Similarity is the fraction of the benchmark statement's word n-grams found in a training statement,
    after lowercasing, replacing numbers with one token and collapsing whitespace. Repeated training
    statements are compared once.
    """
    import json

    from codetune import render
    from codetune.bench.lcb import load_benchmark
    from codetune.config import BenchmarkConfig, DatasetConfig
    from codetune.data.overlap import dataset_overlaps

    def note(msg: str) -> None:
        err_console.print(msg, markup=False, highlight=False, style="dim")

    hint = "data overlap reads every row: fix or remove the broken one"  # it has no --skip-bad-rows
    selection = load_benchmark(
        BenchmarkConfig(source=benchmark_source), Path.cwd(), seed=seed, report=note, bad_rows_hint=hint
    )
    bench = [(p.question_id, p.question_content) for p in selection.problems]
    res = dataset_overlaps(
        DatasetConfig(source=train_source),
        bench,
        Path.cwd(),
        ngram=ngram,
        threshold=threshold,
        seed=seed,
        bad_rows_hint=hint,
    )
    if as_json:
        doc = {"benchmark_source": benchmark_source, **res.to_json(), "possibly_seen": res.possibly_seen}
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    render.overlap(console, res, n_benchmark=len(bench))


@app.command(
    help=(
        "Train one LoRA run; losses every `eval_every` steps, a checkpoint every `save_every` steps.\n\n"
        f"Writes RUN_DIR/{layout.METRICS_FILE}, {layout.CHECKPOINTS_DIR}/checkpoint-step-S-epoch-E, "
        f"{layout.LOSS_PLOT_FILE} and {layout.RUN_SUMMARY_FILE}, and the run's stage record. Works unchanged "
        "under `accelerate launch` and `torchrun` (process 0 writes the files)."
    )
)
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
    import os

    from codetune import render
    from codetune.config import load_config
    from codetune.layout import run_summary_path
    from codetune.records import RunSummary
    from codetune.train.run import train_run

    if resume and overwrite:
        raise CodetuneError("--resume and --overwrite contradict each other; pass one")
    cfg = load_config(config, overrides or [])
    cfg.run(run)
    rdir = train_run(cfg, run, resume=resume, overwrite=overwrite)
    if os.environ.get("RANK", "0") != "0":  # under a launcher, process 0 reports
        return
    summary = RunSummary.read(run_summary_path(rdir))
    assert summary is not None  # train_run wrote it
    render.run_summary(console, run, rdir, summary)


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
    at the next problem, and one made with other settings (model, benchmark rows or tests, prompts, decoding,
    scoring, limits) is redone. Prints the table: checkpoint, Pass@1, solved/total.
    """
    from codetune import render
    from codetune.config import load_config
    from codetune.study.evaluate import evaluate_study

    cfg = load_config(config, overrides or [])
    summaries = evaluate_study(cfg, run=run, checkpoints=checkpoints, include_base=include_base)
    render.eval_tables(console, summaries)


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
    sel = load_benchmark(cfg.benchmark, cfg.base_dir, seed=cfg.training.seed, report=note)
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
    ] = DEFAULT_TIMEOUT_S,
    memory_mb: Annotated[
        int, typer.Option("--memory-mb", help="Address-space limit per test (MB).")
    ] = DEFAULT_MEMORY_MB,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Tests run in parallel (default: all cores).")
    ] = None,
) -> None:
    """Score existing generations in the sandbox, without a model; prints overall pass@1.

    Exits 0 whenever scoring ran, whatever the pass rate; a question_id not in the benchmark is an error.
    """
    from codetune import render
    from codetune.bench.scoring import grading_limits, score_files

    limits = grading_limits(timeout, memory_mb)
    stats = score_files(benchmark, generations, out, limits=limits, workers=workers)
    render.score_stats(console, stats, out)


@app.command(
    help=(
        f"Pick each run's best checkpoint by pass@1 and write STUDY_DIR/{layout.SELECTION_FILE}.\n\n"
        "Ties: more problems solved on private tests (when recorded), then lower validation loss, then the "
        "earlier step. Prints per run the table Model | Pass@1 | Solved with 95% intervals and the base model "
        "as reference."
    )
)
def select(
    study_dir: Annotated[Path, typer.Argument(help="Study output folder.")],
) -> None:
    from codetune import render
    from codetune.study.select import select_study, write_selection

    selection = select_study(study_dir)
    path = write_selection(study_dir, selection)
    render.selection(console, selection)
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
    out: Annotated[
        Path,
        typer.Option(
            "--out", help=f"Folder for {layout.COMPARE_ANSWERS_FILE} and {layout.COMPARE_METRICS_FILE}."
        ),
    ] = Path(layout.COMPARE_DIR),
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", min=1, help="Tokens per answer.")
    ] = DEFAULT_COMPARE_MAX_NEW_TOKENS,
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
    from codetune import render
    from codetune.config import DEFAULT_COMPARE_PROMPTS
    from codetune.study.compare import (
        check_checkpoints,
        check_out_dir,
        read_prompts,
        run_compare,
        save_compare,
    )

    check_checkpoints(checkpoint)  # a missing checkpoint fails before any model loads
    check_out_dir(out)
    texts = read_prompts(prompts) if prompts else list(DEFAULT_COMPARE_PROMPTS)
    result = run_compare(
        checkpoint, texts, max_new_tokens=max_new_tokens, include_base=include_base, system_prompt=system
    )
    render.comparison(console, result)
    answers, metrics = save_compare(result, out)
    console.print(f"wrote {answers} and {metrics}", markup=False, highlight=False)


@app.command(
    help=(
        f"Write STUDY_DIR/{layout.REPORT_HTML} (self-contained) and {layout.REPORT_MD} from the study's own "
        "files.\n\nResults are read through the selection record (codetune select writes it) and the stage "
        "records; an evaluation they do not vouch for is listed, not shown. Missing or partial runs are reported "
        "as missing, and each result with the settings its stage ran with; nothing is re-generated."
    )
)
def report(
    study_dir: Annotated[Path, typer.Argument(help="Study output folder.")],
) -> None:
    from codetune.study.report import write_report

    html_path, md_path = write_report(study_dir)
    console.print(f"report: {html_path}  (Markdown twin: {md_path})", markup=False, highlight=False)


@app.command()
def export(
    study_dir: Annotated[Path, typer.Argument(help="Study output folder.")],
    run: Annotated[str, typer.Option("--run", help="Run name from the study's config.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write (must not exist, or be empty).")],
    checkpoint: Annotated[
        str, typer.Option("--checkpoint", help="best (the selection record's) or a step number.")
    ] = "best",
    merged: Annotated[
        bool,
        typer.Option(
            "--merged",
            help="Write the base model with the adapter merged in (safetensors, tokenizer, chat template, "
            "the study's decoding) instead of the adapter alone.",
        ),
    ] = False,
) -> None:
    """Export a run's checkpoint with its model card (README.md): the LoRA adapter in PEFT's layout, or with
    --merged a full model that transformers and vLLM load as is. Upload it with `hf upload`."""
    from codetune.study.export import export_checkpoint

    path = export_checkpoint(study_dir, run, out, which=checkpoint, merged=merged)
    console.print(
        f"exported {'merged model' if merged else 'adapter'}: {path}", markup=False, highlight=False
    )


@app.command("import")
def import_cmd(
    answers_dir: Annotated[
        Path, typer.Argument(help="Folder of LiveCodeBench answers files, one per checkpoint.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Study folder to write (new, or an earlier import).")],
    model: Annotated[str, typer.Option("--model", help="The base model the answers came from (stated).")],
    benchmark: Annotated[
        str,
        typer.Option(
            "--benchmark",
            help="Benchmark the answers were made on: LiveCodeBench-layout JSONL or hub id; filters with "
            "--set benchmark.release=... / contest_start / contest_end / platform / difficulty.",
        ),
    ],
    pattern: Annotated[
        str,
        typer.Option(
            "--pattern", help="File name -> run and step: {run}, {step}, optional {epoch}, * any text."
        ),
    ] = DEFAULT_IMPORT_PATTERN,
    base: Annotated[
        Path | None, typer.Option("--base", help="The base model's answers file (for the paired tests).")
    ] = None,
    metrics: Annotated[
        list[str] | None,
        typer.Option("--metrics", metavar="RUN=FILE", help="A run's metrics.jsonl (losses); repeatable."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Tests run in parallel (default: all cores).")
    ] = None,
    overrides: SetOpt = None,
) -> None:
    """Bring existing LiveCodeBench runs in: score each answers file with codetune's grader into a study
    folder (generation marked as imported, each file's sha256 recorded, no training claimed), then select and
    write the report, as `codetune select` and `codetune report` would."""
    from codetune import render
    from codetune.study.importing import import_answers
    from codetune.study.report import write_report
    from codetune.study.select import select_study, write_selection

    given = {}
    for item in metrics or []:
        run, sep, path = item.partition("=")
        if not sep or not run or not path:
            raise CodetuneError(f"--metrics {item!r}: expected RUN=FILE")
        given[run] = Path(path)
    import_answers(
        answers_dir,
        out,
        model=model,
        benchmark={"source": benchmark},
        pattern=pattern,
        base=base,
        metrics=given,
        overrides=overrides or [],
        workers=workers,
    )
    selection = select_study(out)
    write_selection(out, selection)
    render.selection(console, selection)
    html_path, md_path = write_report(out)
    console.print(f"report: {html_path}  (Markdown twin: {md_path})", markup=False, highlight=False)


@app.command()
def prune(
    study_dir: Annotated[Path, typer.Argument(help="Study output folder.")],
    keep_resume: Annotated[
        str,
        typer.Option(
            "--keep-resume",
            help="none, or last: keep each run's last checkpoint's resume state (to continue training).",
        ),
    ] = "none",
) -> None:
    """Free disk after selection: remove every checkpoint's optimizer and resume state, keep each adapter (the
    records, the selection and the report stay valid). A run whose training is unfinished keeps its last
    checkpoint's resume state."""
    from codetune.study.prune import prune_study

    if keep_resume not in ("none", "last"):
        raise CodetuneError(f"--keep-resume {keep_resume!r}: expected none or last")
    res = prune_study(study_dir, keep_resume="last" if keep_resume == "last" else "none")
    for k in res.kept_resume:
        console.print(f"kept resume state: {k}", markup=False, highlight=False)
    console.print(
        f"freed {res.freed / 2**20:,.1f} MiB ({res.files} files in {res.checkpoints} checkpoints)",
        markup=False,
        highlight=False,
    )


@app.command("compare-scores")
def compare_scores(
    a: Annotated[
        Path,
        typer.Argument(
            help=f"Model A: {layout.SCORES_FILE} (eval-all layout), its eval folder, or a checkpoint folder."
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

    from codetune import render
    from codetune.study.stats import load_scores, paired_comparison

    res = paired_comparison(load_scores(a), load_scores(b), seed=seed, name_a="A", name_b="B")
    if as_json:
        print(json.dumps({"a": str(a), "b": str(b), "seed": seed, **res.to_dict()}, indent=2))
        return
    render.paired(console, res, a, b, seed)


@app.command()
def doctor(
    config: Annotated[
        Path | None,
        typer.Argument(
            help="A study config: adds its training plan on this machine (precision, memory estimate, "
            "gradient checkpointing); its model's config.json may be fetched from the hub (a few kB)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the protections and the GPU path as one JSON object.")
    ] = False,
) -> None:
    """Say which sandbox protections are active on this machine (namespaces, no network, job uid, limits) and
    what the GPU path will use (card, bf16 or fp16, vLLM and its LoRA serving, Liger, flash-attn, 4-bit)."""
    import json

    from codetune import render
    from codetune.config import load_config
    from codetune.gpu import gpu_facts
    from codetune.sandbox import protections

    found = protections()
    gpu = gpu_facts(load_config(config, []) if config else None)
    if as_json:
        console.print_json(json.dumps({**found, "gpu": gpu}))
        return
    render.protections(console, found)
    render.gpu_facts(console, gpu)


def _training_plan(cfg) -> dict:
    """The run's precision and memory plan on the card `model.device` resolves to (dry run: no download)."""
    from codetune.gpu import detect_card, training_plan
    from codetune.models import resolve_device

    device = resolve_device(cfg.model.device)
    card = detect_card(device) if device.startswith("cuda") else None
    return training_plan(cfg, card, local_only=True)


INTERRUPTED = "codetune: interrupted; rerun the same command to resume"


def _on_stop_signal(signum: int, frame: object) -> None:
    """SIGINT or SIGTERM: unwind like Ctrl-C, so every `finally` runs (the sandbox stops its jobs)."""
    # Further signals are ignored: the cleanup the first one started must run to its end.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    _state["interrupted"] = True
    raise KeyboardInterrupt


def os_error_line(e: OSError) -> str:
    """One line for an OS error: the path(s) and the cause, and what to do when the disk is full."""
    where = e.filename if e.filename2 is None else f"{e.filename} -> {e.filename2}"
    cause = e.strerror or str(e) or type(e).__name__
    if e.errno == errno.ENOSPC:
        if e.filename is not None and not cause.startswith("no space left on "):
            cause = no_space_error(e.filename).strerror or cause  # which disk, and what it has left
        cause += "; free some space, then rerun the same command"
    return f"{where}: {cause}" if where is not None else cause


def _fail(message: str, code: int = 2) -> None:
    if _state["debug"]:
        traceback.print_exc()
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)
    sys.exit(code)


def main() -> None:
    """The `codetune` entry point: every failure a user can act on ends as one line (exit 2), an interrupt
    as one line (exit 130); `--debug` adds the traceback.

    The app runs with click's standalone mode off, so that errors reach the handlers here instead of
    typer's (which turns Ctrl-C into a silent exit 130)."""
    progress.quiet_library_warnings()
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:  # an ignored SIGINT (nohup, `cmd &`) stays ignored
            signal.signal(sig, _on_stop_signal)
    try:
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        code = 130
    except typer.TyperException as e:  # usage errors (click's, vendored by typer): shown as typer shows them
        from typer import rich_utils

        # typer annotates click's ClickException, its subclass, but formats any (it reads ctx with getattr)
        rich_utils.rich_format_error(e)  # type: ignore[arg-type]
        sys.exit(e.exit_code)
    except typer.Abort:  # end of input at a prompt
        _fail("codetune: aborted", 1)
    except CodetuneError as e:
        if _state["interrupted"]:
            _fail(INTERRUPTED, 130)
        _fail(f"codetune: error: {e}")
    except OSError as e:
        if _state["interrupted"]:
            _fail(INTERRUPTED, 130)
        _fail(f"codetune: error: {os_error_line(e)}")
    except Exception as e:
        if _state["interrupted"]:
            _fail(INTERRUPTED, 130)
        if type(e).__name__ != "SafetensorError":  # a bug: the traceback is what a report needs
            raise
        _fail(f"codetune: error: writing a safetensors file failed: {e}")
    if _state["interrupted"] or code == 130:  # typer returns 130 for a KeyboardInterrupt it caught
        _fail(INTERRUPTED, 130)
    sys.exit(code if isinstance(code, int) else 0)
