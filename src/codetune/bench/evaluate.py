"""Evaluate ONE model (the base model, or one checkpoint's adapter on it) into one folder:
prompts -> generations -> scores -> summary.

The folder gets, in order (file names: codetune.layout):
  prompts        {"question_id", "style", "messages", "prompt"}: the prompt style, the chat messages and the
                 exact prompt text the model continued
  generations    [{"question_id", "code_list", "output_list", "extraction_failed"}] (LiveCodeBench layout)
  scores         records.ScoreEntry per problem (LiveCodeBench eval-all layout plus per-test verdicts)
  summary        records.EvalSummary, written last: its presence means the evaluation is complete; it
                 names the scoring rules used (bench.rules) and the benchmark's provenance
Work in progress lives in the partial generations and scores files, one line per finished problem, so
a killed evaluation resumes at the next problem with no duplicates. Whether the folder's files were made with
the current settings is decided above this module (codetune.study.stages): it continues what it finds.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codetune import layout
from codetune.bench.extract import extract_code
from codetune.bench.generate import render_chat
from codetune.bench.lcb import Problem
from codetune.bench.prompts import build_prompt
from codetune.bench.rules import describe_rules, scoring_rules
from codetune.bench.scoring import grading_limits, score_generations, summarize_scores
from codetune.files import write_json_atomic, write_text_atomic
from codetune.progress import progress_bar, say
from codetune.records import EvalSummary, ScoreEntry, write_list

if TYPE_CHECKING:
    from codetune.config import BenchmarkConfig
    from codetune.sandbox import Limits

SCORE_CHUNK = 16  # problems scored between two writes of the partial scores file


@dataclass(frozen=True)
class EvalLabel:
    """Which model an evaluation is of, as its summary names it."""

    model: str  # "base" or "<run>_<checkpoint-name>"
    run: str | None
    checkpoint: str
    step: int | None
    epoch: int | None


def bench_limits(bench: BenchmarkConfig) -> Limits:
    """The sandbox limits every test of the benchmark runs under."""
    return grading_limits(bench.timeout_s, bench.memory_mb)


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


def evaluate_model(
    generate: Callable[..., list[list[str]]],
    tokenizer,
    problems: Sequence[Problem],
    out_dir: Path,
    *,
    bench: BenchmarkConfig,
    runner,
    system_prompt: str | None,
    label: EvalLabel,
    base_model: str,
    provenance: dict | None = None,
) -> EvalSummary:
    """Generate, score and summarise one model into `out_dir`, continuing any work in progress there.

    `generate(prompt_texts, *, max_new_tokens, ..., on_result)` is `generate_texts` bound to a model with its
    adapter active, or the vLLM backend's generator for one adapter: both write the same files.
    `provenance` (BenchmarkSelection.provenance: a hub benchmark's commit and file hashes) goes into the summary.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    g = bench.generation
    rules = scoring_rules(bench, base_model, system_prompt)
    if g.stop_at_code_end:
        say(f"{label.model}: {describe_rules(rules)}")
    built = [build_prompt(p, rules["prompt_style"], system_prompt) for p in problems]
    texts = [b.text if b.text is not None else render_chat(tokenizer, b.messages) for b in built]
    prompt_rows = [
        {"question_id": p.question_id, "style": b.style, "messages": b.messages, "prompt": t}
        for p, b, t in zip(problems, built, texts, strict=True)
    ]
    write_text_atomic(
        layout.prompts_path(out_dir),
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in prompt_rows),
    )

    # Generation: only the problems not already in the partial file.
    gen_path = layout.generations_partial_path(out_dir)
    generated = read_partial(gen_path)
    todo = [i for i, p in enumerate(problems) if p.question_id not in generated]
    t0 = time.perf_counter()
    if todo:
        if generated:
            say(f"{label.model}: resuming, {len(generated)}/{len(problems)} problems already generated")

        def save(j: int, answers: list[str]) -> None:
            p = problems[todo[j]]
            codes = [extract_code(a, bench.extraction) for a in answers]
            row = {
                "question_id": p.question_id,
                "code_list": [c or "" for c in codes],
                "output_list": answers,
                "extraction_failed": [c is None for c in codes],
            }
            _append_line(gen_path, row)
            generated[p.question_id] = row

        generate(
            [texts[i] for i in todo],
            max_new_tokens=g.max_new_tokens,
            temperature=g.temperature,
            top_p=g.top_p,
            n=g.n,
            batch_size=g.batch_size,
            stop=list(g.stop),
            stop_at_code_end=g.stop_at_code_end,
            desc=f"generate {label.model}",
            on_result=save,
        )
    gen_time = time.perf_counter() - t0
    generations = [generated[p.question_id] for p in problems]
    write_json_atomic(layout.generations_path(out_dir), generations, indent=1)

    # Scoring, in chunks of problems so an interruption keeps what was scored.
    score_path = layout.scores_partial_path(out_dir)
    scored = {q: ScoreEntry.parse(row, str(score_path)) for q, row in read_partial(score_path).items()}
    pending = [p for p in problems if p.question_id not in scored]
    t1 = time.perf_counter()
    if pending:
        with progress_bar() as progress:
            task = progress.add_task(f"score {label.model}", total=len(pending))
            for s in range(0, len(pending), SCORE_CHUNK):
                chunk = pending[s : s + SCORE_CHUNK]
                entries = score_generations(
                    chunk,
                    [generated[p.question_id] for p in chunk],
                    limits=bench_limits(bench),
                    runner=runner,
                )
                for entry in entries:
                    _append_line(score_path, entry.to_json())
                    scored[entry.question_id] = entry
                progress.advance(task, len(chunk))
    score_time = time.perf_counter() - t1
    scores = [scored[p.question_id] for p in problems]
    write_list(layout.scores_path(out_dir), scores)

    stats = summarize_scores(scores, bench.k)
    summary = EvalSummary(
        **stats.model_dump(),
        model=label.model,
        run=label.run,
        checkpoint=label.checkpoint,
        step=label.step,
        epoch=label.epoch,
        base_model=base_model,
        system_prompt=system_prompt,
        wall_time_s=round(gen_time + score_time, 2),
        generation_time_s=round(gen_time, 2),
        scoring_time_s=round(score_time, 2),
        problems_per_s=round(len(todo) / gen_time, 4) if todo and gen_time > 0 else None,
        resumed=len(todo) < len(problems),
        scoring=rules,
        benchmark_provenance=provenance,
    )
    summary.write(layout.eval_summary_path(out_dir), indent=1)
    gen_path.unlink(missing_ok=True)
    score_path.unlink(missing_ok=True)
    say(
        f"{label.model}: pass@1 {summary.pass_at_1:.1%} ({summary.solved}/{summary.total} solved), "
        f"generation {gen_time:.1f}s, scoring {score_time:.1f}s"
    )
    return summary
