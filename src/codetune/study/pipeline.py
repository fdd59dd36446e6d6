"""The whole study in order: profile each run's data, check it against the benchmark, train each run,
evaluate the base model and every checkpoint, select, compare the selected checkpoints, report.

Every stage skips work whose output is already complete (a profile or overlap file, a run's summary.json,
an eval folder's summary.json, a comparison with the same checkpoints and prompts), so running the study
again after an interruption continues where it stopped. The report is always rebuilt: it is cheap.
"""

from __future__ import annotations

import json
from pathlib import Path

from codetune.config import StudyConfig, dump_config
from codetune.errors import CodetuneError
from codetune.files import write_json_atomic
from codetune.study.compare import ANSWERS_FILE, run_compare, save_compare
from codetune.study.environment import write_environment
from codetune.study.layout import base_eval_dir, data_profile_path, run_dir
from codetune.study.report import overlap_path, write_report
from codetune.study.select import print_selection, select_study, write_selection

STAGES = (
    "config",
    "data profiles",
    "benchmark overlap",
    "training",
    "evaluation",
    "selection",
    "comparison",
    "report",
)


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, data)


def _stage(console, i: int, note: str = "") -> None:
    console.rule(f"[bold]{i + 1}/{len(STAGES)} {STAGES[i]}[/bold]" + (f" — {note}" if note else ""))


def profile_runs(cfg: StudyConfig, console) -> None:
    from codetune.data.profile import profile_dataset
    from codetune.models import load_tokenizer

    base_dir = cfg.path.parent if cfg.path else None
    tokenizer = None
    for name, run in cfg.runs.items():
        path = data_profile_path(cfg.output_path, name)
        if path.is_file():
            console.print(f"{name}: profile exists, skipped", markup=False)
            continue
        tokenizer = tokenizer or load_tokenizer(cfg.model)
        prof = profile_dataset(
            run.dataset,
            base_dir=base_dir,
            tokenizer=tokenizer,
            max_length=cfg.training.max_seq_length,
            seed=cfg.training.seed,
            system_prompt=run.system_prompt,
        )
        _write_json(path, prof)
        console.print(
            f"{name}: {prof['rows']:,} rows, {prof['unique_problems']:,} unique problems -> {path}",
            markup=False,
        )


def overlap_runs(cfg: StudyConfig, console, *, ngram: int = 5, threshold: float = 0.5) -> None:
    """data/<run>/overlap.json: benchmark problems whose statement has a near-duplicate in the run's data."""
    from codetune.bench.lcb import load_benchmark
    from codetune.data.overlap import dataset_overlaps

    todo = [n for n in cfg.runs if not overlap_path(cfg.output_path, n).is_file()]
    if not todo:
        console.print("overlap files exist, skipped", markup=False)
        return
    base_dir = cfg.path.parent if cfg.path else None
    selection = load_benchmark(cfg.benchmark, base_dir, seed=cfg.training.seed, report=lambda _: None)
    bench = [(p.question_id, p.question_content) for p in selection.problems]
    for name in todo:
        rep = dataset_overlaps(
            cfg.runs[name].dataset, bench, base_dir, ngram=ngram, threshold=threshold, seed=cfg.training.seed
        )
        _write_json(overlap_path(cfg.output_path, name), rep.to_dict())
        console.print(
            f"{name}: {rep.possibly_seen} of {len(bench)} benchmark problems possibly seen in training",
            markup=False,
        )


def compare_best(cfg: StudyConfig, selection, console) -> None:
    """The selected checkpoint of each run (and the base model) on the config's compare prompts."""
    out = cfg.output_path / "compare"
    ckpts = [Path(rs.best.checkpoint_dir) for rs in selection.runs.values() if rs.best is not None]
    ckpts = [c for c in ckpts if c.is_dir()]
    if not ckpts:
        console.print("no selected checkpoint on disk: comparison skipped", markup=False)
        return
    prompts = list(cfg.compare.prompts)
    existing = out / ANSWERS_FILE
    if existing.is_file():
        try:
            old = json.loads(existing.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            old = {}
        same = (
            old.get("prompts") == prompts
            and old.get("decoding", {}).get("max_new_tokens") == cfg.compare.max_new_tokens
            and [m.get("checkpoint") for m in old.get("models", []) if m.get("checkpoint")]
            == [str(c) for c in ckpts]
        )
        if same:
            console.print("comparison of the selected checkpoints exists, skipped", markup=False)
            return
    result = run_compare(
        ckpts,
        prompts,
        max_new_tokens=cfg.compare.max_new_tokens,
        include_base=True,
        system_prompt=cfg.shared_system_prompt(),
        model_cfg=cfg.model,
        batch_size=cfg.benchmark.generation.batch_size,
    )
    answers, _ = save_compare(result, out)
    console.print(f"answers of {len(result['models'])} models -> {answers}", markup=False)


def demo_config_path() -> Path:
    """configs/demo.yaml of the codetune checkout (the package is installed from it)."""
    import codetune

    path = Path(codetune.__file__).resolve().parents[2] / "configs" / "demo.yaml"
    if not path.is_file():
        raise CodetuneError(f"the demo config is not at {path}: run codetune demo from a codetune checkout")
    return path


def run_study(cfg: StudyConfig, console) -> tuple[Path, Path]:
    """Run every stage, skipping completed work; returns (report.html, report.md)."""
    from codetune.bench.evaluate import evaluate_study
    from codetune.train.run import train_run

    out = cfg.output_path
    out.mkdir(parents=True, exist_ok=True)
    _stage(console, 0, str(out))
    (out / "config.yaml").write_text(dump_config(cfg), encoding="utf-8")
    write_environment(out)
    try:
        _stage(console, 1)
        profile_runs(cfg, console)
        _stage(console, 2)
        overlap_runs(cfg, console)
        for i, name in enumerate(cfg.runs):
            done = (run_dir(out, name) / "summary.json").is_file()
            _stage(
                console, 3, f"run {name} ({i + 1}/{len(cfg.runs)})" + (", complete: skipped" if done else "")
            )
            if not done:
                train_run(cfg, name, resume=True)
        _stage(console, 4)
        evaluate_study(cfg, checkpoints="all", include_base=True)
        _stage(console, 5)
        selection = select_study(out)
        write_selection(out, selection)
        print_selection(selection, console)
        _stage(console, 6)
        compare_best(cfg, selection, console)
    except CodetuneError:
        # A report of what exists (and what is missing) is still worth having; then the error is shown.
        if base_eval_dir(out).is_dir() or (out / "runs").is_dir():
            try:
                write_report(out)
            except CodetuneError as e:
                console.print(f"(no partial report: {e})", markup=False)
        raise
    _stage(console, 7)
    return write_report(out)
