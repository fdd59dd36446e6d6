"""Fakes of codetune's two seams that tests drive by hand: the sandbox's `Runner` (codetune.sandbox.runner) and
the evaluation engine's `Engine` (codetune.bench.engine).

Each fake subclasses the protocol it stands in for and is checked by mypy (pyproject.toml's [tool.mypy] files
name this module), so a fake that drifts from its protocol fails CI: a method whose signature no longer
matches is an incompatible override, and `@final` makes a member the fake lacks an error too."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any, final

from codetune.bench.engine import Engine, Generate, Request
from codetune.bench.generate import Decoding, OnResult
from codetune.sandbox.limits import Job, Result, Status
from codetune.sandbox.runner import Progress, Runner


class _FakeRunner(Runner):
    """A runner with no processes of its own: nothing to close."""

    def close(self) -> None:
        pass

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Each outcome the stand-in runner can give a test: (sandbox status, stdout, stderr).
_MARK = re.compile(r"# fake (\w+) ([a-z_]+)")


@final
class StandInRunner(_FakeRunner):
    """Runs nothing: each program carries a marker naming its problem and outcome, and the runner answers as
    the sandbox would (right output, wrong output, a traceback, a limit). `problems` (parsed benchmark rows)
    give the right outputs."""

    def __init__(self, problems: Sequence[Any]):
        self.expected = {(p.question_id, t.input): t.output for p in problems for t in p.tests}

    def run(self, jobs: Sequence[Job], progress: Progress | None = None) -> list[Result]:
        out = []
        for job in jobs:
            qid, outcome = _MARK.findall(job.program)[0]
            status: Status
            status, stdout, stderr = "ok", self.expected.get((qid, job.stdin), ""), ""
            if outcome == "wrong_answer":
                stdout = "definitely not it\n"
            elif outcome == "runtime_error":
                status, stderr = "runtime_error", "Traceback (most recent call last):\nValueError: bad input"
            elif outcome == "syntax_error":
                status, stderr = "runtime_error", '  File "prog.py", line 1\nSyntaxError: invalid syntax'
            elif outcome in ("timeout", "memory_limit"):
                status, stdout = outcome, ""
            out.append(Result(status, 0 if status == "ok" else 1, stdout, stderr, False, 0.01, 0.01))
        return out


@final
class StarvedOnceRunner(_FakeRunner):
    """Answers its first batch with `starved` for every job, then each job right (twice its input); `calls`
    gets each batch's size."""

    def __init__(self, starved: Result, calls: list[int]):
        self.starved, self.calls = starved, calls

    def run(self, jobs: Sequence[Job], progress: Progress | None = None) -> list[Result]:
        self.calls.append(len(jobs))
        if len(self.calls) == 1:
            return [self.starved] * len(jobs)
        return [Result("ok", 0, f"{2 * int(j.stdin)}\n", "", False, 0.01, 0.01, 0.0) for j in jobs]


@final
class SignallingRunner(_FakeRunner):
    """Runs through `real` (which its owner closes), and sets `scored` once a batch is scored."""

    def __init__(self, real: Runner, scored: threading.Event):
        self.real, self.scored = real, scored

    def run(self, jobs: Sequence[Job], progress: Progress | None = None) -> list[Result]:
        out = self.real.run(jobs, progress)
        self.scored.set()
        return out


class _SweepEngine(Engine):
    """An engine the one-engine sweep (codetune.bench.sweep) drives: every checkpoint's requests in one
    generate call, never one checkpoint's through for_adapter."""

    def for_adapter(self, adapter: str | None) -> Generate:
        raise NotImplementedError("a fake of the one-engine sweep")

    def close(self) -> None:
        pass


@final
class ScriptedEngine(_SweepEngine):
    """Answers with a correct-looking program; after the first answer it waits until that answer is scored."""

    backend = "hf"

    def __init__(self, tokenizer: object, scored: threading.Event):
        self.tokenizer, self.scored = tokenizer, scored

    def generate(
        self,
        requests: Sequence[Request],
        decoding: Decoding,
        *,
        seeds: Sequence[int] | None = None,
        desc: str | None = None,
        on_result: OnResult | None = None,
        show_progress: bool = True,
    ) -> list[list[str]]:
        on_result = on_result or (lambda i, answers: None)
        answers = []
        for i, _ in enumerate(requests):
            answers.append(["```python\nprint(input())\n```"])
            on_result(i, answers[-1])
            if i == 0:
                assert self.scored.wait(60), "the first answer was not scored while generation went on"
        return answers


@final
class StarvingEngine(_SweepEngine):
    """Answers every request with a correct but slow program, and while it "generates", CPU-bound processes
    (`busy` of them) hold the machine, as generation beside scoring does, until the first test process of that
    program has ended; then generation ends."""

    backend = "hf"

    def __init__(self, tokenizer: object, program: str, mark: str, busy: int):
        self.tokenizer, self.program, self.mark, self.busy = tokenizer, program, mark, busy
        self.loaded = threading.Event()  # set while the machine counts as oversubscribed

    def generate(
        self,
        requests: Sequence[Request],
        decoding: Decoding,
        *,
        seeds: Sequence[int] | None = None,
        desc: str | None = None,
        on_result: OnResult | None = None,
        show_progress: bool = True,
    ) -> list[list[str]]:
        on_result = on_result or (lambda i, answers: None)
        import resource
        import subprocess
        import sys

        from helpers import marked_processes, wait_for

        def bound() -> None:  # never more than two minutes of CPU each, whatever happens to this test
            resource.setrlimit(resource.RLIMIT_CPU, (120, 120))

        burn = [sys.executable, "-c", "while True:\n    pass"]
        # Each in its own session: with autogroup scheduling, one session's processes share one CPU share.
        busy = [subprocess.Popen(burn, preexec_fn=bound, start_new_session=True) for _ in range(self.busy)]
        self.loaded.set()
        try:
            answers = [[f"```python\n{self.program}\n```"] for _ in requests]
            for i, a in enumerate(answers):
                on_result(i, a)
            assert wait_for(lambda: marked_processes(self.mark), 60, interval=0.005), "the test never ran"
            assert wait_for(lambda: not marked_processes(self.mark), 60, interval=0.005)
        finally:
            for p in busy:
                p.kill()
                p.wait()
            self.loaded.clear()
        return answers
