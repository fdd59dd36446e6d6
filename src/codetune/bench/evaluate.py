"""Evaluate the base model and checkpoints: prompts -> generations -> scores -> summary, per model folder.

Each model's folder (RUN_DIR/eval/<checkpoint>/ or OUTPUT_DIR/eval/base/) gets, in order:
  prompts.jsonl      {"question_id", "style", "messages", "prompt"}: the prompt style, the chat messages and
                     the exact prompt text the model continued
  generations.json   [{"question_id", "code_list", "output_list", "extraction_failed"}] (LiveCodeBench layout)
  scores.json        LiveCodeBench eval-all layout plus per-test verdicts (see bench.scoring)
  summary.json       {"model", "run", "checkpoint", "step", "pass@1", "pass@k", "solved", "total", ...,
                     "scoring": the rules used (`scoring_rules`)}
Work in progress lives in generations.partial.jsonl / scores.partial.jsonl, one line per finished problem,
so a killed evaluation resumes at the next problem with no duplicates. summary.json is written last: its
presence (with a matching fingerprint) means the folder is complete and is skipped. eval-state.json holds
the fingerprint of the work in progress: when the benchmark selection, prompts or decoding change, the
folder is redone rather than mixed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from codetune.bench.extract import extract_code
from codetune.bench.generate import generate_texts, make_progress, render_chat
from codetune.bench.lcb import Problem, load_benchmark
from codetune.bench.prompts import build_prompt
from codetune.bench.rules import describe_rules, scoring_rules
from codetune.bench.scoring import grading_limits, score_generations, summarize_scores
from codetune.errors import CodetuneError
from codetune.files import write_json_atomic, write_text_atomic
from codetune.study.layout import (
    BASE_MODEL_NAME,
    base_eval_dir,
    eval_dir,
    list_checkpoints,
    parse_checkpoint_name,
    run_dir,
)

if TYPE_CHECKING:
    from codetune.config import BenchmarkConfig, StudyConfig

console = Console()
PROMPT_VERSION = 2  # bump when prompts change, so old evaluations are redone rather than mixed
SCORE_CHUNK = 16  # problems scored between two writes of scores.partial.jsonl


def read_partial(path: Path) -> dict[str, dict]:
    """Finished problems of an interrupted stage, by question_id (a line cut by a kill is dropped)."""
    done: dict[str, dict] = {}
    if not path.is_file():
        return done
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        # The last line was cut mid-write: drop it so the next append starts on a fresh line.
        data = data[: data.rfind(b"\n") + 1]
        path.write_bytes(data)
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "question_id" in row:
            done[row["question_id"]] = row
    return done


def _append_line(path: Path, row: dict) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def fingerprint(
    problems: Sequence[Problem],
    bench: BenchmarkConfig,
    system_prompt: str | None,
    model: str,
    provenance: dict | None = None,
) -> str:
    """What an evaluation's files depend on; a change means the folder must be redone.

    `provenance` (a hub benchmark's commit and file hashes, BenchmarkSelection.provenance): the files'
    sha256 enter the key, so a changed upstream file is a new evaluation; the commit alone does not (a README
    edit moves it without changing a row). Local and built-in sources have none: their keys stay as they were.
    """
    g = bench.generation
    key = {
        "prompt_version": PROMPT_VERSION,
        "model": model,
        "questions": [p.question_id for p in problems],
        "tests": [len(p.tests) for p in problems],
        "system_prompt": system_prompt,
        # How requests are batched (batch_size, one engine or one checkpoint at a time) is not what is asked.
        "generation": {k: v for k, v in g.model_dump().items() if k not in ("batch_size", "engine")},
        "limits": [bench.timeout_s, bench.memory_mb],
        "rules": scoring_rules(bench, model, system_prompt),
    }
    if provenance is not None:
        key["benchmark_files"] = provenance["files"]
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def complete_summary(folder: Path, fp: str | None = None) -> dict | None:
    """The folder's summary.json when it is complete (and made with fingerprint `fp`, when given)."""
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(summary, dict) or not summary.get("complete"):
        return None
    if fp is not None and summary.get("fingerprint") != fp:
        return None
    return summary


_STAGE_FILES = (
    "generations.partial.jsonl",
    "scores.partial.jsonl",
    "generations.json",
    "scores.json",
    "summary.json",
)


class EvalFolder:
    """One model's evaluation folder: its fingerprint, the partial files a resumed evaluation reads, and the
    final files. `evaluate_model` (one model) and `bench.sweep.evaluate_targets` (several models through one
    engine) both write through it, so their files are the same."""

    def __init__(
        self,
        out_dir: Path,
        problems: Sequence[Problem],
        *,
        bench: BenchmarkConfig,
        system_prompt: str | None,
        label: dict,
        model_name: str,
        provenance: dict | None = None,
        say: Callable[[str], None] | None = None,
    ):
        self.out_dir, self.problems, self.bench = Path(out_dir), list(problems), bench
        self.system_prompt, self.label, self.model_name = system_prompt, label, model_name
        self.provenance = provenance
        self.say = say or (lambda text: console.print(text, highlight=False))
        self.fp = fingerprint(problems, bench, system_prompt, model_name, provenance)
        self.rules = scoring_rules(bench, model_name, system_prompt)
        self.texts: list[str] = []  # the prompt text of each problem, set by open()
        self.generated: dict[str, dict] = {}
        self.scored: dict[str, dict] = {}

    @property
    def name(self) -> str:
        return self.label["model"]

    def complete(self) -> dict | None:
        """summary.json when this folder is already evaluated with the same settings (then it is skipped)."""
        done = complete_summary(self.out_dir, self.fp)
        if done is not None:
            self.say(f"{self.name}: already evaluated (pass@1 {done['pass@1']:.1%}), skipped")
        return done

    def open(self, tokenizer) -> None:
        """Start or resume: files made under other settings are removed; prompts.jsonl is written; the
        problems an interrupted evaluation finished are read back."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        state_path = self.out_dir / "eval-state.json"
        try:
            old_fp = json.loads(state_path.read_text()).get("fingerprint")
        except (OSError, json.JSONDecodeError, AttributeError):
            old_fp = None
        if old_fp != self.fp:
            if old_fp is not None:
                self.say(f"{self.name}: benchmark or generation settings changed; evaluating afresh")
            for name in _STAGE_FILES:
                (self.out_dir / name).unlink(missing_ok=True)
            write_json_atomic(state_path, {"fingerprint": self.fp}, indent=1)
        if self.bench.generation.stop_at_code_end:
            self.say(f"{self.name}: {describe_rules(self.rules)}")
        built = [build_prompt(p, self.rules["prompt_style"], self.system_prompt) for p in self.problems]
        self.texts = [b.text if b.text is not None else render_chat(tokenizer, b.messages) for b in built]
        prompt_rows = [
            {"question_id": p.question_id, "style": b.style, "messages": b.messages, "prompt": t}
            for p, b, t in zip(self.problems, built, self.texts, strict=True)
        ]
        write_text_atomic(
            self.out_dir / "prompts.jsonl",
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in prompt_rows),
        )
        self.generated = read_partial(self.out_dir / "generations.partial.jsonl")
        self.scored = read_partial(self.out_dir / "scores.partial.jsonl")
        if self.generated and len(self.generated) < len(self.problems):
            self.say(
                f"{self.name}: resuming, {len(self.generated)}/{len(self.problems)} problems already generated"
            )

    def todo(self) -> list[int]:
        """Indices of the problems still to generate."""
        return [i for i, p in enumerate(self.problems) if p.question_id not in self.generated]

    def save_generation(self, i: int, answers: list[str]) -> None:
        """Problem i's answers, appended to generations.partial.jsonl at once (a kill keeps them)."""
        p = self.problems[i]
        codes = [extract_code(a, self.bench.extraction) for a in answers]
        row = {
            "question_id": p.question_id,
            "code_list": [c or "" for c in codes],
            "output_list": answers,
            "extraction_failed": [c is None for c in codes],
        }
        _append_line(self.out_dir / "generations.partial.jsonl", row)
        self.generated[p.question_id] = row

    def write_generations(self) -> None:
        write_json_atomic(
            self.out_dir / "generations.json",
            [self.generated[p.question_id] for p in self.problems],
            indent=1,
        )

    def unscored(self) -> list[Problem]:
        """Problems generated but not yet scored, in benchmark order."""
        return [
            p for p in self.problems if p.question_id in self.generated and p.question_id not in self.scored
        ]

    def score(self, chunk: Sequence[Problem], *, limits, runner) -> None:
        """Score some generated problems in the sandbox and append them to scores.partial.jsonl."""
        rows = score_generations(
            chunk, [self.generated[p.question_id] for p in chunk], limits=limits, runner=runner
        )
        for row in rows:
            _append_line(self.out_dir / "scores.partial.jsonl", row)
            self.scored[row["question_id"]] = row

    def finish(
        self,
        *,
        generation_s: float,
        scoring_s: float,
        generated: int,
        wall_s: float | None = None,
        extra: dict | None = None,
    ) -> dict:
        """scores.json, then summary.json (written last: it marks the folder complete); partial files removed."""
        scores = [self.scored[p.question_id] for p in self.problems]
        write_json_atomic(self.out_dir / "scores.json", scores, indent=1)
        bench, g = self.bench, self.bench.generation
        stats = summarize_scores(scores, bench.k)
        with_private = [s for s in scores if s.get("n_private_tests")]
        summary = {
            **self.label,
            "base_model": self.model_name,
            **stats,
            "wall_time_s": round(wall_s if wall_s is not None else generation_s + scoring_s, 2),
            "generation_time_s": round(generation_s, 2),
            "scoring_time_s": round(scoring_s, 2),
            "problems_per_s": round(generated / generation_s, 4) if generated and generation_s > 0 else None,
            "resumed": generated < len(self.problems),
            "system_prompt": self.system_prompt,
            "generation": g.model_dump(),
            "scoring": self.rules,
            "benchmark": {
                "source": bench.source,
                "release": bench.release,
                "platform": bench.platform,
                "difficulty": bench.difficulty,
                "contest_start": bench.contest_start,
                "contest_end": bench.contest_end,
                **(self.provenance or {}),
            },
            **(extra or {}),
            "fingerprint": self.fp,
            "complete": True,
        }
        if with_private:
            summary["private_solved"] = sum(1 for s in with_private if any(s["graded_list"]))
        write_json_atomic(self.out_dir / "summary.json", summary, indent=1)
        for name in ("generations.partial.jsonl", "scores.partial.jsonl"):
            (self.out_dir / name).unlink(missing_ok=True)
        self.say(
            f"{self.name}: pass@1 {summary['pass@1']:.1%} ({summary['solved']}/{summary['total']} solved), "
            f"generation {generation_s:.1f}s, scoring {scoring_s:.1f}s"
        )
        return summary


def evaluate_model(
    generate: Callable[..., list[list[str]]],
    tokenizer,
    problems: Sequence[Problem],
    out_dir: Path,
    *,
    bench: BenchmarkConfig,
    limits,
    runner,
    system_prompt: str | None,
    label: dict,
    model_name: str,
    provenance: dict | None = None,
) -> dict:
    """Generate, score and summarise one model into `out_dir`; resumable.

    `generate(prompt_texts, *, max_new_tokens, ..., on_result)` is `generate_texts` bound to a model with its
    adapter active, or the vLLM backend's generator for one adapter: both write the same files.
    """
    folder = EvalFolder(
        out_dir,
        problems,
        bench=bench,
        system_prompt=system_prompt,
        label=label,
        model_name=model_name,
        provenance=provenance,
    )
    done = folder.complete()
    if done is not None:
        return done
    folder.open(tokenizer)

    # Generation: only the problems not already in the partial file.
    todo = folder.todo()
    t0 = time.perf_counter()
    if todo:
        generate(
            [folder.texts[i] for i in todo],
            **generation_kwargs(bench),
            desc=f"generate {folder.name}",
            on_result=lambda j, answers: folder.save_generation(todo[j], answers),
        )
    gen_time = time.perf_counter() - t0
    folder.write_generations()

    # Scoring, in chunks of problems so an interruption keeps what was scored.
    pending = folder.unscored()
    t1 = time.perf_counter()
    if pending:
        progress = make_progress()
        with progress:
            task = progress.add_task(f"score {folder.name}", total=len(pending))
            for s in range(0, len(pending), SCORE_CHUNK):
                chunk = pending[s : s + SCORE_CHUNK]
                folder.score(chunk, limits=limits, runner=runner)
                progress.advance(task, len(chunk))
    score_time = time.perf_counter() - t1
    return folder.finish(generation_s=gen_time, scoring_s=score_time, generated=len(todo))


def generation_kwargs(bench: BenchmarkConfig) -> dict:
    """The decoding settings every generate call of an evaluation passes (`generate_texts`' keywords)."""
    g = bench.generation
    return {
        "max_new_tokens": g.max_new_tokens,
        "temperature": g.temperature,
        "top_p": g.top_p,
        "n": g.n,
        "batch_size": g.batch_size,
        "stop": list(g.stop),
        "stop_at_code_end": g.stop_at_code_end,
    }


def _base_system_prompt(cfg: StudyConfig) -> str | None:
    """The base model gets the runs' system prompt when they all share one (the seed's case), else none."""
    return cfg.shared_system_prompt() if cfg.benchmark.use_system_prompt else None


def _best_checkpoint(cfg: StudyConfig, run: str, ckpts: list[Path]) -> Path:
    """selection.json's choice for the run when present, else the best evaluated checkpoint by pass@1."""
    by_name = {p.name: p for p in ckpts}
    sel_path = cfg.output_path / "selection.json"
    if sel_path.is_file():
        try:
            sel = json.loads(sel_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise CodetuneError(f"{sel_path}: invalid JSON ({e.msg})") from None
        entry = (sel.get("runs") or sel).get(run) if isinstance(sel, dict) else None
        if isinstance(entry, dict):
            entry = entry.get("best", entry)
            entry = entry.get("checkpoint") if isinstance(entry, dict) else entry
        if isinstance(entry, str) and entry in by_name:
            return by_name[entry]
    scored = []
    for p in ckpts:
        s = complete_summary(eval_dir(run_dir(cfg.output_path, run), p.name))
        if s is not None:
            step = (parse_checkpoint_name(p.name) or (0, 0))[0]
            scored.append((-s["pass@1"], -s["solved"], step, p))
    if not scored:
        raise CodetuneError(
            f"run {run}: --checkpoints best needs evaluated checkpoints or {sel_path.name}; "
            "evaluate with --checkpoints all first"
        )
    return min(scored, key=lambda t: t[:3])[3]


def select_checkpoints(cfg: StudyConfig, run: str, spec: str) -> list[Path]:
    """`all`, `best`, or comma-separated steps (`220,240`) -> checkpoint folders of the run."""
    ckpts = list_checkpoints(run_dir(cfg.output_path, run))
    if not ckpts:
        return []
    spec = spec.strip()
    if spec == "all":
        return ckpts
    if spec == "best":
        return [_best_checkpoint(cfg, run, ckpts)]
    by_step = {parse_checkpoint_name(p.name)[0]: p for p in ckpts}
    chosen = []
    for part in spec.split(","):
        part = part.strip()
        if not part.isdigit():
            raise CodetuneError(f"--checkpoints: expected all, best or comma-separated steps, got {part!r}")
        if int(part) not in by_step:
            raise CodetuneError(
                f"run {run}: no checkpoint at step {part}; steps saved: {', '.join(map(str, sorted(by_step)))}"
            )
        chosen.append(by_step[int(part)])
    return chosen


def evaluate_study(
    cfg: StudyConfig, *, run: str | None = None, checkpoints: str = "all", include_base: bool = False
) -> list[dict]:
    """Evaluate the selected checkpoints (and the base model) of a study; returns their summaries.

    Complete folders are skipped without loading a model; one base model carries every adapter.
    """
    bench = cfg.benchmark
    if bench.generation.backend == "vllm":
        from codetune.bench.vllm_backend import require_vllm

        require_vllm()  # fail before any work when vLLM or CUDA is missing
    runs = [run] if run else list(cfg.runs)
    for r in runs:
        cfg.run(r)  # unknown run: error naming the runs
    base_dir = cfg.path.parent if cfg.path else None
    selection = load_benchmark(bench, base_dir, seed=cfg.training.seed, report=console.print)
    problems, provenance = selection.problems, selection.provenance()
    model_name = cfg.model.source

    # (label, out_dir, system prompt, adapter name or None, checkpoint path or None)
    targets: list[tuple[dict, Path, str | None, str | None, Path | None]] = []
    if include_base:
        targets.append(
            (
                {
                    "model": BASE_MODEL_NAME,
                    "run": None,
                    "checkpoint": BASE_MODEL_NAME,
                    "step": None,
                    "epoch": None,
                },
                base_eval_dir(cfg.output_path),
                _base_system_prompt(cfg),
                None,
                None,
            )
        )
    for r in runs:
        chosen = select_checkpoints(cfg, r, checkpoints)
        if not chosen:
            msg = f"run {r}: no checkpoints in {run_dir(cfg.output_path, r) / 'checkpoints'}"
            if run:
                raise CodetuneError(msg + "; train it first")
            console.print(msg + ", skipped")
        sp = cfg.runs[r].system_prompt if bench.use_system_prompt else None
        for p in chosen:
            step, epoch = parse_checkpoint_name(p.name)
            label = {"model": f"{r}_{p.name}", "run": r, "checkpoint": p.name, "step": step, "epoch": epoch}
            targets.append((label, eval_dir(run_dir(cfg.output_path, r), p.name), sp, f"{r}__step{step}", p))
    if not targets:
        raise CodetuneError("nothing to evaluate: no checkpoints found and --include-base not given")

    summaries: dict[int, dict] = {}
    pending = []
    for i, (label, out, sp, _, _) in enumerate(targets):
        done = complete_summary(out, fingerprint(problems, bench, sp, model_name, provenance))
        if done is not None:
            console.print(f"{label['model']}: already evaluated (pass@1 {done['pass@1']:.1%}), skipped")
            summaries[i] = done
        else:
            pending.append(i)
    if pending:
        from codetune.models import attach_adapters, load_model_and_tokenizer, use_adapter
        from codetune.sandbox import get_runner

        adapters = {targets[i][3]: targets[i][4] for i in pending if targets[i][3] is not None}
        if bench.generation.backend == "vllm":
            from codetune.bench.vllm_backend import VLLMGenerator
            from codetune.models import load_tokenizer, resolve_model_source

            tokenizer = load_tokenizer(cfg.model)
            engine = VLLMGenerator(
                resolve_model_source(cfg.model.source),
                tokenizer,
                adapters,
                max_lora_rank=cfg.lora.r,
                tensor_parallel_size=bench.generation.tensor_parallel_size,
                dtype=cfg.model.dtype,
                seed=cfg.training.seed,
            )
            model = None
        else:
            model, tokenizer = load_model_and_tokenizer(cfg.model)
            if adapters:
                model = attach_adapters(model, adapters)
        limits = grading_limits(bench.timeout_s, bench.memory_mb)
        with get_runner(workers=bench.workers) as runner:
            for i in pending:
                label, out, sp, adapter, _ = targets[i]
                with contextlib.ExitStack() as stack:
                    if model is None:
                        generate = engine.for_adapter(adapter)
                    else:
                        generate = partial(
                            generate_texts, stack.enter_context(use_adapter(model, adapter)), tokenizer
                        )
                    summaries[i] = evaluate_model(
                        generate,
                        tokenizer,
                        problems,
                        out,
                        bench=bench,
                        limits=limits,
                        runner=runner,
                        system_prompt=sp,
                        label=label,
                        model_name=model_name,
                        provenance=provenance,
                    )
    return [summaries[i] for i in range(len(targets))]


def summary_table(summaries: Sequence[dict], title: str | None = None) -> Table:
    """The seed report's table: Model | Pass@1 | Solved Problems."""
    table = Table(title=title)
    table.add_column("Model")
    table.add_column("Pass@1", justify="right")
    table.add_column("Solved Problems", justify="right")
    for s in summaries:
        table.add_row(str(s.get("model")), f"{s['pass@1']:.1%}", f"{s['solved']}/{s['total']}")
    return table


def print_summary_tables(summaries: Sequence[dict], out: Console | None = None) -> None:
    """One table per run (the base model first, as a reference), as the seed report shows them."""
    out = out or console
    groups: dict[str | None, list[dict]] = {}
    for s in summaries:
        groups.setdefault(s.get("run"), []).append(s)
    for run, rows in groups.items():
        out.print(summary_table(rows, title="base model" if run is None else f"run {run}"))
