"""An evaluation that passes: through the real path (prompt rendering, batching, both engine modes, the sandbox,
scoring, summaries, selection), with an engine that answers known-correct programs for some of the seed's real
LiveCodeBench problems and wrong ones (of each failure kind) for others, finishing them in shuffled order.

A wrong-problem mix-up would show: each model solves a different set, and one checkpoint answers a problem with
the correct program of another problem, which must fail. The expected verdicts are written out by hand below,
not computed by codetune."""

from __future__ import annotations

import json
import random
import re
import shutil
from collections import Counter

import pytest

from codetune.layout import checkpoint_name, run_dir, scores_path, stages_dir
from codetune.study import evaluate as ev
from codetune.study.select import select_study
from helpers import bench_config, random_adapter
from parity_cases import SOLVED, WRONG

# SOLVED: correct programs for some of the first eight problems of tests/data; WRONG: programs that fail
# in each way codetune's verdicts name (both also held to LiveCodeBench's own verdicts, tests/test_lcb_parity).
PROBLEMS = ["abc365_a", "abc365_b", "abc366_a", "abc366_b", "abc367_a", "abc367_b", "abc368_a", "abc368_b"]

# model -> question_id -> what it answers: a problem id (that problem's correct program), a WRONG kind, or
# "prose" (no code block). Unlisted problems get a wrong answer.
PLAN = {
    "base": {"abc365_a": "abc365_a", "abc365_b": "prose"},
    "step2": {q: q for q in ("abc365_a", "abc365_b", "abc366_a")} | {"abc367_a": "runtime_error"},
    "step4": {q: q for q in ("abc365_a", "abc365_b", "abc366_a", "abc367_a", "abc367_b")},
    # Another problem's correct program: it must fail here, not pass where it came from.
    "step6": {"abc365_a": "abc365_b", "abc365_b": "abc365_a", "abc367_b": "abc367_b", "abc368_a": "abc368_a"}
    | {"abc366_b": "timeout"},
}
# Written out by hand from PLAN: the verdict of each (model, problem).
EXPECTED = {
    "base": ["passed", "extraction_failed"] + ["wrong_answer"] * 6,
    "step2": ["passed"] * 3 + ["wrong_answer", "runtime_error"] + ["wrong_answer"] * 3,
    "step4": ["passed"] * 3 + ["wrong_answer", "passed", "passed", "wrong_answer", "wrong_answer"],
    # abc365_b's program reads a second line abc365_a's input lacks (EOFError); abc365_a's prints a year length.
    "step6": ["runtime_error", "wrong_answer", "wrong_answer", "timeout", "wrong_answer", "passed", "passed"]
    + ["wrong_answer"],
}
STEPS = {2: "step2", 4: "step4", 6: "step6"}


def _answer(plan: dict[str, str], qid: str) -> str:
    what = plan.get(qid, "wrong_answer")
    if what == "prose":
        return "I would read the input and print the answer."
    code = SOLVED.get(what) or WRONG[what]
    return f"Here is my solution.\n```python\n{code}\n```\n"


class KnownAnswers:
    """An engine whose answers are chosen by (adapter, problem); the problem is recognised from the rendered
    prompt's statement text. It reports results to `on_result` in a shuffled order."""

    backend = "hf"

    def __init__(self, tokenizer, statements: dict[str, str]):
        self.tokenizer, self.statements, self.calls = tokenizer, statements, []
        self.models: dict[str, str] = {}  # adapter name -> PLAN key, from the checkpoint folder it loads
        self.closed = 0

    def load(self, model, generation, adapters, **kw):
        for name, folder in adapters.items():
            self.models[name] = STEPS[int(re.search(r"step-(\d+)-", str(folder))[1])]
        return self

    def _qid(self, prompt: str) -> str:
        (qid,) = [q for q, text in self.statements.items() if text in prompt]
        return qid

    def generate(self, requests, decoding, *, on_result=None, **kw):
        self.calls.append(len(requests))
        answers = []
        for adapter, prompt in requests:
            model = "base" if adapter is None else self.models[adapter]
            answers.append([_answer(PLAN[model], self._qid(prompt))] * decoding.n)
        order = list(range(len(requests)))
        random.Random(len(self.calls)).shuffle(order)
        for i in order:
            if on_result is not None:
                on_result(i, answers[i])
        return answers

    def for_adapter(self, adapter):
        return lambda prompts, decoding, **kw: self.generate([(adapter, p) for p in prompts], decoding, **kw)

    def close(self):
        self.closed += 1


@pytest.fixture(scope="module")
def adapters(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("verdict-adapters")
    return {s: random_adapter(tiny_model_dir, root / f"ck{s}", seed=s) for s in STEPS}


@pytest.mark.parametrize("engine", ["per_checkpoint", "one_engine"])
def test_each_verdict_lands_on_its_problem_and_selection_is_exact(
    engine, adapters, tmp_path, tiny_model_dir, shared_benchmark, monkeypatch
):
    from transformers import AutoTokenizer

    cfg = bench_config(
        tmp_path,
        tiny_model_dir,
        shared_benchmark,
        max_problems=len(PROBLEMS),
        timeout_s=2.0,
        generation={"max_new_tokens": 64, "batch_size": 3, "engine": engine},
    )
    cfg.lora.r = 4
    for step, src in adapters.items():
        shutil.copytree(src, run_dir(cfg.output_path, "r1") / "checkpoints" / checkpoint_name(step, 0))
    stages_dir(cfg.output_path).mkdir()  # a study folder, as training leaves it
    rows = [json.loads(line) for line in shared_benchmark.read_text().splitlines()]
    statements = {r["question_id"]: r["question_content"][:200] for r in rows[: len(PROBLEMS)]}
    assert list(statements) == PROBLEMS
    fake = KnownAnswers(AutoTokenizer.from_pretrained(tiny_model_dir), statements)
    monkeypatch.setattr("codetune.bench.engine.load_engine", fake.load)

    summaries = ev.evaluate_study(cfg, include_base=True)

    assert fake.calls == ([8, 8, 8, 8] if engine == "per_checkpoint" else [32])
    assert fake.closed == 1  # stopped once the evaluations are done (vLLM's processes, not at exit)
    by_model = {("base" if s.step is None else STEPS[s.step]): s for s in summaries}
    for model, expected in EXPECTED.items():
        summary = by_model[model]
        entries = json.loads(scores_path(_eval_folder(cfg, summary)).read_text())
        assert [e["question_id"] for e in entries] == PROBLEMS, model
        got = ["extraction_failed" if e["extraction_failed"][0] else e["verdicts"][0][-1] for e in entries]
        assert got == expected, model
        assert [e["graded_list"] for e in entries] == [[v == "passed"] for v in expected], model
        assert summary.sample_verdicts == Counter(expected), model
        assert summary.solved == expected.count("passed"), model
        assert summary.pass_at_1 == pytest.approx(expected.count("passed") / len(PROBLEMS)), model
    selection = select_study(cfg.output_path, cfg=cfg)
    best = selection.runs["r1"].best
    assert best.step == 4 and best.solved == 5 and best.total == 8 and best.pass1 == pytest.approx(5 / 8)
    assert selection.runs["r1"].decided_by == "pass@1"
    assert selection.base.solved == 1 and selection.base.pass1 == pytest.approx(1 / 8)
    assert [r.solved for r in sorted(selection.runs["r1"].rows, key=lambda r: r.step)] == [3, 5, 2]


def _eval_folder(cfg, summary):
    from codetune.layout import base_eval_dir, eval_dir

    if summary.run is None:
        return base_eval_dir(cfg.output_path)
    return eval_dir(run_dir(cfg.output_path, summary.run), summary.checkpoint)
