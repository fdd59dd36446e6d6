"""Several models' evaluations (the base model, checkpoints) through one engine call.

`evaluate_folders(engine, jobs, ...)` takes (adapter name or None, EvalFolder) pairs and writes each folder
exactly as `evaluate_model` does: every folder's unanswered problems go to the engine in ONE `generate` call
(requests of different checkpoints share batches: PEFT's mixed-adapter batches, or vLLM's LoRA requests);
each answer is appended to its folder's partial generations file as it arrives, and a background thread
scores finished problems in the sandbox while the model keeps generating. A kill at any point resumes at
the next unanswered or unscored problem. Which evaluations are pending, and their stage records, are the
caller's (codetune.study.evaluate).

Timings in these summaries are shares of the sweep: a model's generation_time_s and wall_time_s are the
sweep's times multiplied by its share of the requests (so they still add up to the time spent), its
scoring_time_s the sandbox time of its own problems; `engine` (records.EngineShare) holds the sweep's totals.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

from codetune.bench.engine import Engine, Request
from codetune.bench.evaluate import SCORE_CHUNK, EvalFolder
from codetune.bench.lcb import Problem
from codetune.progress import progress_bar
from codetune.records import EngineShare, EvalSummary


class _Scorer(threading.Thread):
    """Scores generated problems from a queue, up to SCORE_CHUNK at a time, while generation goes on."""

    def __init__(self, folders: Sequence[EvalFolder], *, runner, advance: Callable[[int], None]):
        super().__init__(name="codetune-scorer", daemon=True)
        self.folders, self.runner, self.advance = folders, runner, advance
        self.todo: queue.SimpleQueue = queue.SimpleQueue()
        self.seconds: defaultdict[int, float] = defaultdict(float)  # sandbox time per folder
        self.error: BaseException | None = None
        self.abandon = False  # set when generation failed: stop after the chunk in hand

    def put(self, folder: int, problems: Sequence[Problem]) -> None:
        for p in problems:
            self.todo.put((folder, p))

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
            by_folder: dict[int, list[Problem]] = {}
            for k, p in batch:
                by_folder.setdefault(k, []).append(p)
            try:
                for k, chunk in by_folder.items():
                    t0 = time.perf_counter()
                    self.folders[k].score(chunk, runner=self.runner)
                    self.seconds[k] += time.perf_counter() - t0
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


def evaluate_folders(
    engine: Engine,
    jobs: Sequence[tuple[str | None, EvalFolder]],
    *,
    runner,
    on_finished: Callable[[int, EvalSummary], None] | None = None,
) -> list[EvalSummary]:
    """Evaluate every (adapter, folder) job through one `engine.generate` call, continuing the work in
    progress each folder holds; returns the summaries in the jobs' order. `on_finished(k, summary)` is called
    as job k's summary is written (the caller records its stage finished there)."""
    if not jobs:
        return []
    folders = [f for _, f in jobs]
    requests: list[Request] = []
    owners: list[tuple[int, int]] = []  # request -> (job, problem index)
    seeds: list[int] = []
    for k, (adapter, folder) in enumerate(jobs):
        folder.open(engine.tokenizer)
        for j in folder.todo():
            requests.append((adapter, folder.texts[j]))
            owners.append((k, j))
            seeds.append(folder.seeds[j])
    asked = Counter(k for k, _ in owners)
    waiting = Counter(asked)  # answers each folder still waits for
    to_score = sum(len(f.unscored()) for f in folders) + len(requests)
    desc = f"generate {len(folders)} models"

    t0 = time.perf_counter()
    with progress_bar() as progress:
        gen_task = progress.add_task(desc, total=len(requests))
        score_task = progress.add_task("score", total=to_score)
        scorer = _Scorer(folders, runner=runner, advance=lambda n: progress.advance(score_task, n))
        scorer.start()
        try:
            for k, folder in enumerate(folders):
                scorer.put(k, folder.unscored())
                if not waiting[k]:
                    folder.write_generations()

            def on_result(r: int, answers: list[str]) -> None:
                if scorer.error is not None:
                    raise scorer.error  # stop generating: scoring failed
                k, j = owners[r]
                folders[k].save_generation(j, answers)
                scorer.put(k, [folders[k].problems[j]])
                waiting[k] -= 1
                if not waiting[k]:
                    folders[k].write_generations()
                progress.advance(gen_task)

            if requests:
                engine.generate(
                    requests,
                    folders[0].decoding,
                    seeds=seeds,
                    desc=desc,
                    on_result=on_result,
                    show_progress=False,
                )
            gen_time = time.perf_counter() - t0
        except BaseException:
            scorer.close(drain=False)
            raise
        scorer.close()
    wall = time.perf_counter() - t0

    share = EngineShare(
        mode="one_engine",
        backend=engine.backend,
        models=len(folders),
        requests=len(requests),
        generation_s=round(gen_time, 2),
        wall_s=round(wall, 2),
        settings=getattr(engine, "settings", None),
    )
    summaries = []
    for k, folder in enumerate(folders):
        part = asked[k] / len(requests) if requests else 1 / len(folders)
        summary = folder.finish(
            generation_s=gen_time * part if requests else 0.0,
            scoring_s=scorer.seconds[k],
            generated=asked[k],
            wall_s=wall * part,
            engine=share,
        )
        if on_finished is not None:
            on_finished(k, summary)
        summaries.append(summary)
    return summaries
