"""Evaluate several models (the base model, checkpoints) through one loaded engine.

`evaluate_targets(engine, problems, targets, ...)` writes each target's folder exactly as `evaluate_model`
does. With `benchmark.generation.engine` resolving to `per_checkpoint`, it is `evaluate_model` once per
target. With `one_engine`, every pending target's unanswered problems go to the engine in one `generate`
call (requests of different checkpoints share batches); each answer is appended to its target's
generations.partial.jsonl as it arrives, and a background thread scores finished problems in the sandbox
while the model keeps generating. A kill at any point resumes at the next unanswered or unscored problem.

Timings in one-engine summaries are shares of the sweep: a target's generation_time_s and wall_time_s are
the sweep's times multiplied by its share of the requests (so they still add up to the time spent), its
scoring_time_s the sandbox time of its own problems; `engine` records the sweep's totals.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codetune.bench.engine import Engine, Request, engine_mode
from codetune.bench.evaluate import SCORE_CHUNK, EvalFolder, evaluate_model, generation_kwargs
from codetune.bench.generate import make_progress

if TYPE_CHECKING:
    from codetune.bench.lcb import Problem
    from codetune.config import BenchmarkConfig


@dataclass(frozen=True)
class EvalTarget:
    """One model to evaluate: its eval folder, the adapter that answers (None: the base model), the system
    prompt its prompts start with, and the label its summary carries (model, run, checkpoint, step, epoch)."""

    out_dir: Path
    adapter: str | None
    system_prompt: str | None
    label: dict


def evaluate_targets(
    engine: Engine,
    problems: Sequence[Problem],
    targets: Sequence[EvalTarget],
    *,
    bench: BenchmarkConfig,
    limits,
    runner,
    model_name: str,
    provenance: dict | None = None,
) -> list[dict]:
    """Evaluate every target (skipping complete folders); returns their summaries in the targets' order.

    `provenance` is the benchmark selection's (`BenchmarkSelection.provenance()`), as for `evaluate_model`."""
    if engine_mode(bench.generation, engine) == "per_checkpoint":
        return [
            evaluate_model(
                partial_generate(engine, t.adapter),
                engine.tokenizer,
                problems,
                t.out_dir,
                bench=bench,
                limits=limits,
                runner=runner,
                system_prompt=t.system_prompt,
                label=t.label,
                model_name=model_name,
                provenance=provenance,
            )
            for t in targets
        ]
    return _one_engine(
        engine,
        problems,
        targets,
        bench=bench,
        limits=limits,
        runner=runner,
        model_name=model_name,
        provenance=provenance,
    )


def partial_generate(engine: Engine, adapter: str | None):
    """`generate_texts`' signature for one adapter's prompt texts."""

    def generate(prompts: list[str], **kwargs) -> list[list[str]]:
        return engine.generate([(adapter, p) for p in prompts], **kwargs)

    return generate


class _Scorer(threading.Thread):
    """Scores generated problems from a queue, up to SCORE_CHUNK at a time, while generation goes on."""

    def __init__(self, folders: dict[int, EvalFolder], *, limits, runner, advance):
        super().__init__(name="codetune-scorer", daemon=True)
        self.folders, self.limits, self.runner, self.advance = folders, limits, runner, advance
        self.todo: queue.SimpleQueue = queue.SimpleQueue()
        self.seconds: Counter[int] = Counter()
        self.error: BaseException | None = None
        self.abandon = False  # set when generation failed: stop after the chunk in hand

    def put(self, target: int, problems: Sequence[Problem]) -> None:
        for p in problems:
            self.todo.put((target, p))

    def run(self) -> None:
        stop = False
        while not stop and not self.abandon:
            batch = [self.todo.get()]
            while len(batch) < SCORE_CHUNK:
                try:
                    batch.append(self.todo.get_nowait())
                except queue.Empty:
                    break
            if None in batch:
                stop = True
                batch = [b for b in batch if b is not None]
            by_target: dict[int, list[Problem]] = {}
            for target, p in batch:
                by_target.setdefault(target, []).append(p)
            try:
                for target, chunk in by_target.items():
                    t0 = time.perf_counter()
                    self.folders[target].score(chunk, limits=self.limits, runner=self.runner)
                    self.seconds[target] += time.perf_counter() - t0
                    self.advance(len(chunk))
            except BaseException as e:  # handed to the generating thread, which stops and re-raises it
                self.error = e
                return

    def close(self, *, drain: bool = True) -> None:
        """Score what is queued (or, with drain=False, only the chunk in hand), then stop; re-raise a
        scoring error. What is left unscored is scored when the evaluation resumes."""
        self.abandon = not drain
        self.todo.put(None)
        self.join()
        if self.error is not None and drain:
            raise self.error


def _one_engine(
    engine: Engine,
    problems: Sequence[Problem],
    targets: Sequence[EvalTarget],
    *,
    bench: BenchmarkConfig,
    limits,
    runner,
    model_name: str,
    provenance: dict | None,
) -> list[dict]:
    progress = make_progress()
    say = progress.console.print
    folders = {
        i: EvalFolder(
            t.out_dir,
            problems,
            bench=bench,
            system_prompt=t.system_prompt,
            label=t.label,
            model_name=model_name,
            provenance=provenance,
            say=say,
        )
        for i, t in enumerate(targets)
    }
    summaries: dict[int, dict] = {}
    for i, folder in folders.items():
        done = folder.complete()
        if done is not None:
            summaries[i] = done
    live = {i: f for i, f in folders.items() if i not in summaries}
    if not live:
        return [summaries[i] for i in range(len(targets))]

    requests: list[Request] = []
    owners: list[tuple[int, int]] = []  # request -> (target, problem index)
    for i, folder in live.items():
        folder.open(engine.tokenizer)
        for j in folder.todo():
            requests.append((targets[i].adapter, folder.texts[j]))
            owners.append((i, j))
    waiting = Counter(i for i, _ in owners)  # answers each target still waits for
    to_score = sum(len(f.unscored()) for f in live.values()) + len(requests)

    t0 = time.perf_counter()
    with progress:
        gen_task = progress.add_task(f"generate {len(live)} models", total=len(requests))
        score_task = progress.add_task("score", total=to_score)
        scorer = _Scorer(
            live, limits=limits, runner=runner, advance=lambda k: progress.advance(score_task, k)
        )
        scorer.start()
        try:
            for i, folder in live.items():
                scorer.put(i, folder.unscored())
                if not waiting[i]:
                    folder.write_generations()

            def on_result(k: int, answers: list[str]) -> None:
                if scorer.error is not None:
                    raise scorer.error  # stop generating: scoring failed
                i, j = owners[k]
                live[i].save_generation(j, answers)
                scorer.put(i, [problems[j]])
                waiting[i] -= 1
                if not waiting[i]:
                    live[i].write_generations()
                progress.advance(gen_task)

            if requests:
                engine.generate(
                    requests,
                    **generation_kwargs(bench),
                    desc=f"generate {len(live)} models",
                    on_result=on_result,
                    show_progress=False,
                )
            gen_time = time.perf_counter() - t0
        except BaseException:
            scorer.close(drain=False)
            raise
        scorer.close()
    wall = time.perf_counter() - t0

    asked = Counter(i for i, _ in owners)
    for i, folder in live.items():
        share = asked[i] / len(requests) if requests else 1 / len(live)
        summaries[i] = folder.finish(
            generation_s=gen_time * share if requests else 0.0,
            scoring_s=scorer.seconds[i],
            generated=asked[i],
            wall_s=wall * share,
            extra={
                "engine": {
                    "mode": "one_engine",
                    "backend": engine.backend,
                    "models": len(live),
                    "requests": len(requests),
                    "generation_s": round(gen_time, 2),
                    "wall_s": round(wall, 2),
                }
            },
        )
    return [summaries[i] for i in range(len(targets))]
