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

from codetune.errors import CodetuneError, NotImplementedYet

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


def _not_yet(what: str, issue: int) -> None:
    raise NotImplementedYet(f"{what}: not implemented yet (tracked in issue #{issue})")


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Study folder to write.")] = Path("studies/demo"),
) -> None:
    """Run the whole study on the embedded default (SmolLM2-135M-Instruct, built-in data and benchmark) on CPU.

    Uses configs/demo.yaml; finishes on 2 CPU cores in about 15 minutes and prints where the report is.
    """
    _not_yet("codetune demo", 7)


@app.command()
def study(
    config: ConfigArg,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Validate the config and print the plan; load no model, touch no network."
        ),
    ] = False,
) -> None:
    """Run a whole study in order: train each run, evaluate, select, compare, report.

    Work already complete is skipped, so re-running after an interruption continues where it stopped.
    """
    from codetune.config import load_config

    cfg = load_config(config)
    if dry_run:
        from codetune.study.plan import make_plan

        _print_plan(make_plan(cfg), config)
        return
    _not_yet("codetune study (full pipeline)", 7)


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
        int, typer.Option("--max-length", help="Count rows longer than this many tokens.")
    ] = 2048,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Measure a dataset's real shape: rows, unique problems, solutions per problem, splits, token lengths."""
    _not_yet("codetune data profile", 3)


@app.command()
def train(
    config: ConfigArg,
    run: Annotated[str, typer.Option("--run", help="Run name from the config's `runs` section.")],
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the latest complete checkpoint.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Delete an existing run folder and start over.")
    ] = False,
) -> None:
    """Train one LoRA run; losses every `eval_every` steps, a checkpoint every `save_every` steps."""
    _not_yet("codetune train", 4)


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
) -> None:
    """Generate and score benchmark answers for the base model and each selected checkpoint (resumable)."""
    _not_yet("codetune eval", 5)


@app.command()
def score(
    benchmark: Annotated[
        Path, typer.Option("--benchmark", help="Benchmark JSONL in LiveCodeBench row layout.")
    ],
    generations: Annotated[
        Path, typer.Option("--generations", help='JSON list of {"question_id", "code_list": [...]}.')
    ],
    out: Annotated[Path, typer.Option("--out", help="Scores JSON to write (LiveCodeBench eval-all layout).")],
) -> None:
    """Score existing generations in the sandbox, without a model; prints overall pass@1."""
    _not_yet("codetune score", 5)


@app.command()
def select(
    study_dir: Annotated[Path, typer.Argument(help="Study output folder.")],
) -> None:
    """Pick each run's best checkpoint by pass@1 and write STUDY_DIR/selection.json."""
    _not_yet("codetune select", 7)


@app.command()
def compare(
    checkpoint: Annotated[
        list[Path], typer.Option("--checkpoint", help="Checkpoint folder; repeat for each model to compare.")
    ],
    prompts: Annotated[Path | None, typer.Option("--prompts", help="Text file, one prompt per line.")] = None,
) -> None:
    """Send the same prompts through each checkpoint and show the answers side by side with behaviour metrics."""
    _not_yet("codetune compare", 7)


@app.command()
def report(
    study_dir: Annotated[Path, typer.Argument(help="Study output folder.")],
) -> None:
    """Write STUDY_DIR/report.html (self-contained) and report.md from the study's own files."""
    _not_yet("codetune report", 7)


def main() -> None:
    try:
        app()
    except CodetuneError as e:
        if _state["debug"]:
            traceback.print_exc()
        err_console.print(f"codetune: error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1 if isinstance(e, NotImplementedYet) else 2)
    except KeyboardInterrupt:
        err_console.print("codetune: interrupted", markup=False)
        sys.exit(130)
