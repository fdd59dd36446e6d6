"""A study's evaluations through one engine (benchmark.generation.engine: one_engine) write the same files
as one checkpoint at a time, resume after a kill, record each stage, and score while generating. The tiny
model carries three random LoRA checkpoints of run r1; the base model is evaluated too."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from codetune.bench.engine import HFEngine, engine_mode
from codetune.bench.evaluate import EvalFolder, EvalLabel
from codetune.bench.lcb import load_benchmark
from codetune.bench.sweep import evaluate_folders
from codetune.layout import (
    base_eval_dir,
    checkpoint_name,
    eval_dir,
    eval_key,
    eval_summary_path,
    generations_partial_path,
    generations_path,
    prompts_path,
    run_dir,
    scores_path,
    stage_record_path,
    stages_dir,
)
from codetune.records import EvalSummary, StageRecord
from codetune.sandbox import get_runner
from codetune.study import evaluate as ev
from fakes import ScriptedEngine, SignallingRunner, StarvingEngine
from helpers import bench_config, random_adapter

# How the answers were produced (times, the sweep's share, the engine mode in generated_by), not what they are.
TIMING = {"wall_time_s", "generation_time_s", "scoring_time_s", "problems_per_s", "engine", "generated_by"}
STEPS = (2, 4, 6)


@pytest.fixture(scope="module")
def adapters(tmp_path_factory, tiny_model_dir) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return {s: random_adapter(tiny_model_dir, root / f"ck{s}", seed=s) for s in STEPS}


def _study(tmp_path: Path, tiny_model_dir, shared_benchmark, adapters, engine: str):
    cfg = bench_config(
        tmp_path,
        tiny_model_dir,
        shared_benchmark,
        max_problems=3,
        generation={"max_new_tokens": 12, "batch_size": 4, "engine": engine},
    )
    cfg.lora.r = 4
    for step, src in adapters.items():
        shutil.copytree(src, run_dir(cfg.output_path, "r1") / "checkpoints" / checkpoint_name(step, 0))
    stages_dir(cfg.output_path).mkdir()  # a study folder, as training leaves it
    return cfg


def _folders(cfg) -> dict[str, Path]:
    out = {"base": base_eval_dir(cfg.output_path)}
    for step in STEPS:
        name = checkpoint_name(step, 0)
        out[f"r1_{name}"] = eval_dir(run_dir(cfg.output_path, "r1"), name)
    return out


def _files(folder: Path) -> dict:
    out = {
        p.name: p.read_text() for p in (prompts_path(folder), generations_path(folder), scores_path(folder))
    }
    summary = json.loads(eval_summary_path(folder).read_text())
    out["summary"] = {k: v for k, v in summary.items() if k not in TIMING}
    return out


def _records(cfg, summaries: list[EvalSummary]) -> list[StageRecord]:
    return [
        StageRecord.read(stage_record_path(cfg.output_path, "eval", eval_key(s.run, s.checkpoint)))
        for s in summaries
    ]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, adapters, tiny_model_dir, shared_benchmark):
    """Every model evaluated one checkpoint at a time: the files one engine must reproduce."""
    cfg = _study(tmp_path_factory.mktemp("per"), tiny_model_dir, shared_benchmark, adapters, "per_checkpoint")
    summaries = ev.evaluate_study(cfg, include_base=True)
    return cfg, {m: _files(f) for m, f in _folders(cfg).items()}, summaries


def _count_generate_calls(monkeypatch) -> list[tuple[int, int]]:
    """(prompts, distinct adapters) of each generate_texts call."""
    import codetune.bench.generate as gen

    calls, real = [], gen.generate_texts

    def counting(*a, **k):
        calls.append((len(a[2]), len(set(k.get("adapters") or [None]))))
        return real(*a, **k)

    monkeypatch.setattr(gen, "generate_texts", counting)
    return calls


def test_one_engine_writes_the_same_files_as_one_checkpoint_at_a_time(
    reference, adapters, tmp_path, tiny_model_dir, shared_benchmark, monkeypatch
):
    ref_cfg, ref, ref_summaries = reference
    # The adapters answer differently, so a request routed to the wrong adapter would show.
    assert len({r[generations_path(Path()).name] for r in ref.values()}) == 4
    assert all(r.finished for r in _records(ref_cfg, ref_summaries))
    assert all(s.engine is None for s in ref_summaries)

    cfg = _study(tmp_path, tiny_model_dir, shared_benchmark, adapters, "one_engine")
    calls = _count_generate_calls(monkeypatch)
    summaries = ev.evaluate_study(cfg, include_base=True)
    assert calls == [(12, 4)]  # one generate call for 4 models x 3 problems, adapters mixed in its batches
    for model, folder in _folders(cfg).items():
        assert _files(folder) == ref[model], model
        assert not list(folder.glob("*.partial.jsonl"))
    assert [s.pass_at_1 for s in summaries] == [s.pass_at_1 for s in ref_summaries]
    # Each stage is recorded as its evaluation's; the engine mode is in its fingerprint (in bf16 other batches
    # can give other answers), resolved, so `auto` records what it ran.
    records = _records(cfg, summaries)
    assert all(r.finished for r in records)
    assert all(r.inputs["resolved"]["engine"] == "one_engine" for r in records)
    assert all(r.inputs["resolved"]["engine"] == "per_checkpoint" for r in _records(ref_cfg, ref_summaries))
    # The backend as `auto` resolved it here (no vLLM in this venv), and each summary says what generated it.
    assert all(r.inputs["resolved"]["backend"] == "hf" for r in records)
    import transformers

    hf = {"backend": "hf", "package": f"transformers {transformers.__version__}"}
    hf["settings"] = {"device": "cpu", "dtype": "float32"}
    assert all(s.generated_by == hf | {"engine": "one_engine"} for s in summaries)
    assert all(s.generated_by == hf | {"engine": "per_checkpoint"} for s in ref_summaries)
    shared = summaries[1].engine
    assert shared.mode == "one_engine" and shared.models == 4 and shared.requests == 12
    # Each model is charged a quarter of the shared generation time, so the times still add up.
    assert sum(s.generation_time_s for s in summaries) == pytest.approx(shared.generation_s, abs=0.05)


@pytest.mark.parametrize("engine", ["per_checkpoint", "one_engine"])
def test_the_scoring_rules_are_said_once_per_evaluation(
    engine, adapters, tmp_path, tiny_model_dir, shared_benchmark, capsys
):
    """With stop_at_code_end (scored on the first block, not LiveCodeBench's last) the rules are said before
    an evaluation: once for its four models, not once per model."""
    cfg = _study(tmp_path, tiny_model_dir, shared_benchmark, adapters, engine)
    cfg.benchmark.generation.stop_at_code_end = True
    assert len(ev.evaluate_study(cfg, include_base=True)) == 4
    said = " ".join(capsys.readouterr().err.split())  # rich wraps long lines on a narrow console
    assert said.count("stop_at_code_end, a speed option") == 1
    assert said.count("scoring rules: prompt style") == 1


def test_auto_engine_is_recorded_as_what_it_resolves_to_so_spelling_it_out_redoes_nothing(
    reference, monkeypatch
):
    cfg, _, summaries = reference
    cfg = cfg.model_copy(deep=True)
    cfg.benchmark.generation.engine = "per_checkpoint"  # what auto became on the hf backend

    def no_load(*a, **k):
        raise AssertionError("a complete evaluation must not load the model")

    monkeypatch.setattr("codetune.models.load_model_and_tokenizer", no_load)
    from codetune.study.stages.context import StudyContext
    from codetune.study.stages.eval import eval_stage, eval_targets

    ctx = StudyContext(cfg)
    assert {eval_stage(ctx, t).status(ctx).state for t in eval_targets(ctx)} == {"done"}
    assert ev.evaluate_study(cfg, include_base=True) == summaries
    cfg.benchmark.generation.engine = "one_engine"  # another engine mode: another evaluation
    ctx = StudyContext(cfg)
    assert {eval_stage(ctx, t).status(ctx).state for t in eval_targets(ctx)} == {"stale"}


def test_one_engine_resumes_after_a_kill(
    reference, adapters, tmp_path, tiny_model_dir, shared_benchmark, monkeypatch
):
    _, ref, _ = reference
    cfg = _study(tmp_path, tiny_model_dir, shared_benchmark, adapters, "one_engine")
    import codetune.bench.generate as gen

    real, asked = gen.generate_texts, []

    def killed_after_five(model, tok, prompts, decoding, **kw):
        asked.append(len(prompts))
        on_result, seen = kw.pop("on_result"), []

        def counting(i, answers):
            on_result(i, answers)
            seen.append(i)
            if len(seen) == 5:
                raise KeyboardInterrupt

        return real(model, tok, prompts, decoding, on_result=counting, **kw)

    monkeypatch.setattr(gen, "generate_texts", killed_after_five)
    with pytest.raises(KeyboardInterrupt):
        ev.evaluate_study(cfg, include_base=True)
    folders = _folders(cfg)
    partial = [generations_partial_path(f) for f in folders.values() if generations_partial_path(f).exists()]
    assert sum(len(p.read_text().splitlines()) for p in partial) == 5
    assert not any(eval_summary_path(f).exists() for f in folders.values())
    # Every stage was recorded started, none finished.
    keys = ["base"] + [f"r1/{checkpoint_name(s, 0)}" for s in STEPS]
    started = [StageRecord.read(stage_record_path(cfg.output_path, "eval", k)) for k in keys]
    assert all(r is not None and not r.finished for r in started)

    monkeypatch.setattr(gen, "generate_texts", lambda *a, **k: (asked.append(len(a[2])), real(*a, **k))[1])
    summaries = ev.evaluate_study(cfg, include_base=True)
    assert asked == [12, 7]  # the second sweep asked only for the answers the first did not write
    assert sum(s.resumed for s in summaries) >= 1
    assert all(r.finished for r in _records(cfg, summaries))
    for model, folder in folders.items():
        files = _files(folder)
        files["summary"].pop("resumed")
        expected = {
            **ref[model],
            "summary": {k: v for k, v in ref[model]["summary"].items() if k != "resumed"},
        }
        assert files == expected, model


def test_per_checkpoint_resumes_after_a_kill(
    reference, adapters, tmp_path, tiny_model_dir, shared_benchmark, monkeypatch
):
    """Killed after its fifth answer (base done, step 2 at 2 of 3): the rerun asks for step 2's last problem
    and the other checkpoints, nothing the first run wrote."""
    _, ref, _ = reference
    cfg = _study(tmp_path, tiny_model_dir, shared_benchmark, adapters, "per_checkpoint")
    import codetune.bench.generate as gen

    real, asked, seen = gen.generate_texts, [], []

    def killed_after_five(model, tok, prompts, decoding, **kw):
        asked.append(len(prompts))
        on_result = kw.pop("on_result")

        def counting(i, answers):
            on_result(i, answers)
            seen.append(i)
            if len(seen) == 5:
                raise KeyboardInterrupt

        return real(model, tok, prompts, decoding, on_result=counting, **kw)

    monkeypatch.setattr(gen, "generate_texts", killed_after_five)
    with pytest.raises(KeyboardInterrupt):
        ev.evaluate_study(cfg, include_base=True)
    assert asked == [3, 3]
    asked.clear()
    monkeypatch.setattr(gen, "generate_texts", lambda *a, **k: (asked.append(len(a[2])), real(*a, **k))[1])
    summaries = ev.evaluate_study(cfg, include_base=True)
    assert asked == [1, 3, 3]
    assert [s.resumed for s in summaries] == [False, True, False, False]
    for model, folder in _folders(cfg).items():
        files = _files(folder)
        files["summary"].pop("resumed")
        expected = {
            **ref[model],
            "summary": {k: v for k, v in ref[model]["summary"].items() if k != "resumed"},
        }
        assert files == expected, model


def test_scoring_overlaps_generation(tmp_path, tiny_model_dir, shared_benchmark):
    from transformers import AutoTokenizer

    cfg = bench_config(tmp_path, tiny_model_dir, shared_benchmark, generation={"engine": "one_engine"})
    bench = cfg.benchmark
    problems = load_benchmark(bench, None, seed=0, report=lambda *_: None).problems
    scored = threading.Event()
    with get_runner(workers=1) as real_runner:
        engine = ScriptedEngine(AutoTokenizer.from_pretrained(tiny_model_dir), scored)
        label = EvalLabel("base", None, "base", None, None)
        folder = EvalFolder(
            tmp_path / "base", problems, bench=bench, system_prompt=None, label=label, base_model="t"
        )
        finished = []
        (summary,) = evaluate_folders(
            engine,
            [(None, folder)],
            runner=SignallingRunner(real_runner, scored),
            on_finished=lambda k, s: finished.append(k),
        )
    assert summary.total == 3 and summary.engine.mode == "one_engine" and finished == [0]
    assert len(json.loads(scores_path(tmp_path / "base").read_text())) == 3


def test_engine_mode_auto_per_backend(tiny_model_dir, shared_benchmark, tmp_path):
    cfg = bench_config(tmp_path, tiny_model_dir, shared_benchmark, generation={"engine": "auto"})
    hf = HFEngine(model=None, tokenizer=None)
    assert engine_mode(cfg.benchmark.generation, hf) == "per_checkpoint"
    vllm_like = type("V", (), {"backend": "vllm"})()
    assert engine_mode(cfg.benchmark.generation, vllm_like) == "one_engine"
    cfg.benchmark.generation.engine = "one_engine"
    assert engine_mode(cfg.benchmark.generation, hf) == "one_engine"


def test_mixed_adapter_rows_need_a_peft_model(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codetune.bench.generate import Decoding, generate_chat
    from codetune.errors import CodetuneError

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    conv = [{"role": "user", "content": "Input"}]
    short = Decoding(max_new_tokens=2)
    with pytest.raises(CodetuneError, match="needs a PEFT model"):
        generate_chat(model, tok, [conv], short, adapters=["a"], show_progress=False)
    # Base-model rows on a plain model are plain generation.
    assert generate_chat(model, tok, [conv], short, adapters=[None], show_progress=False) == (
        generate_chat(model, tok, [conv], short, show_progress=False)
    )


def test_a_slow_but_correct_program_keeps_its_verdict_under_an_overlapped_sweep(
    tmp_path, tiny_model_dir, shared_benchmark, monkeypatch
):
    """Leap Year by a program that burns ~0.7 s of CPU first, under a 2 s limit, scored while generation (three
    CPU-bound processes per core) goes on: it takes longer than the limit in wall clock, but its own time
    (its waits for a CPU left out) is within it, so it passes as it does alone, without a re-run."""
    from transformers import AutoTokenizer

    from codetune.bench import scoring

    cfg = bench_config(tmp_path, tiny_model_dir, shared_benchmark, max_problems=1, timeout_s=2.0)
    bench = cfg.benchmark
    problems = load_benchmark(bench, None, seed=0, report=lambda *_: None).problems
    mark = f"ct-slow-{os.getpid()}"
    program = (
        f"import ctypes\nctypes.CDLL(None).prctl(15, {mark.encode()!r}, 0, 0, 0)\n"
        "s = 0\nfor i in range(20_000_000):\n    s += i\n"
        "y = int(input())\nprint(366 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 365)"
    )
    busy = 3 * len(os.sched_getaffinity(0))
    engine = StarvingEngine(AutoTokenizer.from_pretrained(tiny_model_dir), program, mark, busy)
    monkeypatch.setattr(scoring, "oversubscribed", engine.loaded.is_set)
    label = EvalLabel("base", None, "base", None, None)

    folder = EvalFolder(
        tmp_path / "base", problems, bench=bench, system_prompt=None, label=label, base_model="t"
    )
    with get_runner(workers=1) as runner:
        (summary,) = evaluate_folders(engine, [(None, folder)], runner=runner)
    (entry,) = json.loads(scores_path(tmp_path / "base").read_text())
    assert entry["graded_list"] == [True] and summary.solved == 1
    assert entry["timeouts_rerun"] == 0 and summary.timeouts_rerun == 0
