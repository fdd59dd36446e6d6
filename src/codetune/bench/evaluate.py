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

`EvalFolder` is the one writer of a folder's files; `evaluate_model` drives one folder with one generate
call, codetune.bench.sweep several folders through one engine. Both write the same files.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codetune import layout
from codetune.bench.extract import extract_code
from codetune.bench.generate import Decoding, render_chat, sample_seed
from codetune.bench.lcb import Problem
from codetune.bench.prompts import build_prompt
from codetune.bench.rules import describe_rules, scoring_rules
from codetune.bench.scoring import grading_limits, score_generations, summarize_scores
from codetune.files import json_text, write_json_atomic, write_text_atomic
from codetune.progress import progress_bar, say
from codetune.records import EngineShare, EvalSummary, ScoreEntry, write_list

if TYPE_CHECKING:
    from codetune.bench.engine import Generate
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
        f.write(json_text(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


class EvalFolder:
    """One model's evaluation folder: the prompts, the partial files a resumed evaluation reads back, and the
    final files and summary. Open it, save each problem's answers as they come, score, finish."""

    def __init__(
        self,
        out_dir: Path,
        problems: Sequence[Problem],
        *,
        bench: BenchmarkConfig,
        system_prompt: str | None,
        label: EvalLabel,
        base_model: str,
        provenance: dict | None = None,
        seed: int = 0,
        generated_by: dict | None = None,
    ):
        self.out_dir, self.problems, self.bench = Path(out_dir), list(problems), bench
        self.system_prompt, self.label, self.base_model = system_prompt, label, base_model
        self.provenance, self.generated_by = provenance, generated_by
        self.rules = scoring_rules(bench, base_model, system_prompt)
        self.decoding = Decoding.of(bench.generation)
        # Each problem's sampling seed (generate.sample_seed), the same for every model: paired comparisons
        # between checkpoints then differ by the model, not by the draw. Recorded when it matters.
        self.seeds = [sample_seed(seed, p.question_id) for p in self.problems]
        if bench.generation.temperature > 0:
            self.rules["sampling_seed"] = seed
        self.texts: list[str] = []  # each problem's prompt text, set by open()
        self.generated: dict[str, dict] = {}
        self.scored: dict[str, ScoreEntry] = {}

    @property
    def name(self) -> str:
        return self.label.model

    def open(self, tokenizer) -> None:
        """Write the prompts and read back what an interrupted evaluation finished."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        built = [build_prompt(p, self.rules["prompt_style"], self.system_prompt) for p in self.problems]
        self.texts = [b.text if b.text is not None else render_chat(tokenizer, b.messages) for b in built]
        prompt_rows = [
            {"question_id": p.question_id, "style": b.style, "messages": b.messages, "prompt": t}
            for p, b, t in zip(self.problems, built, self.texts, strict=True)
        ]
        write_text_atomic(
            layout.prompts_path(self.out_dir),
            "".join(json_text(r) + "\n" for r in prompt_rows),
        )
        self.generated = read_partial(layout.generations_partial_path(self.out_dir))
        score_path = layout.scores_partial_path(self.out_dir)
        self.scored = {
            q: ScoreEntry.parse(row, str(score_path)) for q, row in read_partial(score_path).items()
        }
        if self.generated and len(self.generated) < len(self.problems):
            say(
                f"{self.name}: resuming, {len(self.generated)}/{len(self.problems)} problems already generated"
            )

    def todo(self) -> list[int]:
        """Indices of the problems still to generate."""
        return [i for i, p in enumerate(self.problems) if p.question_id not in self.generated]

    def save_generation(self, i: int, answers: list[str]) -> None:
        """Problem i's answers, appended to the partial generations file at once (a kill keeps them)."""
        p = self.problems[i]
        codes = [extract_code(a, self.bench.extraction) for a in answers]
        row = {
            "question_id": p.question_id,
            "code_list": [c or "" for c in codes],
            "output_list": answers,
            "extraction_failed": [c is None for c in codes],
        }
        _append_line(layout.generations_partial_path(self.out_dir), row)
        self.generated[p.question_id] = row

    def write_generations(self) -> None:
        write_json_atomic(
            layout.generations_path(self.out_dir),
            [self.generated[p.question_id] for p in self.problems],
            indent=1,
        )

    def unscored(self) -> list[Problem]:
        """Problems generated but not yet scored, in benchmark order."""
        return [
            p for p in self.problems if p.question_id in self.generated and p.question_id not in self.scored
        ]

    def score(self, chunk: Sequence[Problem], *, runner) -> None:
        """Score generated problems in the sandbox and append them to the partial scores file."""
        entries = score_generations(
            chunk,
            [self.generated[p.question_id] for p in chunk],
            limits=bench_limits(self.bench),
            runner=runner,
        )
        for entry in entries:
            _append_line(layout.scores_partial_path(self.out_dir), entry.to_json())
            self.scored[entry.question_id] = entry

    def finish(
        self,
        *,
        generation_s: float,
        scoring_s: float,
        generated: int,
        wall_s: float | None = None,
        engine: EngineShare | None = None,
    ) -> EvalSummary:
        """The scores, then the summary (written last: the folder is complete); the partial files go."""
        scores = [self.scored[p.question_id] for p in self.problems]
        write_list(layout.scores_path(self.out_dir), scores)
        stats = summarize_scores(scores, self.bench.k)
        label = self.label
        summary = EvalSummary(
            **stats.model_dump(),
            model=label.model,
            run=label.run,
            checkpoint=label.checkpoint,
            step=label.step,
            epoch=label.epoch,
            base_model=self.base_model,
            system_prompt=self.system_prompt,
            wall_time_s=round(wall_s if wall_s is not None else generation_s + scoring_s, 2),
            generation_time_s=round(generation_s, 2),
            scoring_time_s=round(scoring_s, 2),
            problems_per_s=round(generated / generation_s, 4) if generated and generation_s > 0 else None,
            resumed=generated < len(self.problems),
            scoring=self.rules,
            benchmark_provenance=self.provenance,
            engine=engine,
            generated_by=self.generated_by,
        )
        summary.write(layout.eval_summary_path(self.out_dir), indent=1)
        layout.generations_partial_path(self.out_dir).unlink(missing_ok=True)
        layout.scores_partial_path(self.out_dir).unlink(missing_ok=True)
        say(
            f"{self.name}: pass@1 {summary.pass_at_1:.1%} ({summary.solved}/{summary.total} solved), "
            f"generation {generation_s:.1f}s, scoring {scoring_s:.1f}s"
        )
        return summary


def say_rules(folders: Sequence[EvalFolder]) -> None:
    """Before an evaluation of `folders` (one `codetune eval`, or a study's evaluations): its scoring rules,
    once, where they depart from LiveCodeBench's in what is scored (stop_at_code_end: the first block, not
    the last). Models whose rules differ (the system prompt of one run added, not another's) are named."""
    by_rules: dict[str, list[str]] = {}
    for folder in folders:
        if folder.bench.generation.stop_at_code_end:
            by_rules.setdefault(describe_rules(folder.rules), []).append(folder.name)
    for sentence, names in by_rules.items():
        whose = "" if len(names) == len(folders) else f" of {', '.join(names)}"
        say(f"scoring rules{whose}: {sentence}")


def evaluate_model(generate: Generate, tokenizer, folder: EvalFolder, *, runner) -> EvalSummary:
    """Generate, score and summarise one model into its EvalFolder, continuing any work in progress there.

    `generate(prompt_texts, decoding, *, seeds, desc, on_result)` is an engine's generator for one adapter
    (codetune.bench.engine.Engine.for_adapter), on either backend: both write the same files.
    """
    folder.open(tokenizer)

    # Generation: only the problems not already in the partial file.
    todo = folder.todo()
    t0 = time.perf_counter()
    if todo:
        generate(
            [folder.texts[i] for i in todo],
            folder.decoding,
            seeds=[folder.seeds[i] for i in todo],
            desc=f"generate {folder.name}",
            on_result=lambda j, answers: folder.save_generation(todo[j], answers),
        )
    gen_time = time.perf_counter() - t0
    folder.write_generations()

    # Scoring, in chunks of problems so an interruption keeps what was scored.
    pending = folder.unscored()
    t1 = time.perf_counter()
    if pending:
        with progress_bar() as progress:
            task = progress.add_task(f"score {folder.name}", total=len(pending))
            for s in range(0, len(pending), SCORE_CHUNK):
                chunk = pending[s : s + SCORE_CHUNK]
                folder.score(chunk, runner=runner)
                progress.advance(task, len(chunk))
    score_time = time.perf_counter() - t1
    return folder.finish(generation_s=gen_time, scoring_s=score_time, generated=len(todo))
