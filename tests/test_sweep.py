"""Several checkpoints through one engine: the same files as one checkpoint at a time, resumable, scoring
overlapped with generation. The tiny model carries three random LoRA adapters; the base model is a target."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from codetune.bench.engine import HFEngine, engine_mode, load_engine
from codetune.bench.lcb import load_benchmark
from codetune.bench.sweep import EvalTarget, evaluate_targets
from codetune.sandbox import Limits, get_runner
from test_bench_eval import _config

SYSTEM = "You are an expert Python programmer."
TIMING = {"wall_time_s", "generation_time_s", "scoring_time_s", "problems_per_s", "engine"}


def _adapter(model_dir: Path, out: Path, seed: int) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    peft = get_peft_model(
        AutoModelForCausalLM.from_pretrained(model_dir),
        LoraConfig(r=4, lora_alpha=64, target_modules="all-linear", init_lora_weights=False),
    )
    peft.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def sweep_setup(tmp_path_factory, tiny_model_dir, shared_benchmark):
    root = tmp_path_factory.mktemp("sweep")
    adapters = {f"r1__step{s}": _adapter(tiny_model_dir, root / f"ck{s}", seed=s) for s in (2, 4, 6)}
    return root, adapters


def _cfg(tmp_path, tiny_model_dir, shared_benchmark, engine: str):
    return _config(
        tmp_path,
        tiny_model_dir,
        shared_benchmark,
        max_problems=3,
        generation={"max_new_tokens": 12, "batch_size": 4, "engine": engine},
    )


def _targets(out: Path, adapters: dict) -> list[EvalTarget]:
    targets = [EvalTarget(out / "base", None, None, {"model": "base", "run": None, "checkpoint": "base"})]
    for name in adapters:
        label = {"model": name, "run": "r1", "checkpoint": name}
        targets.append(EvalTarget(out / name, name, SYSTEM, label))
    return targets


def _sweep(cfg, adapters, out: Path, engine=None) -> list[dict]:
    bench = cfg.benchmark
    problems = load_benchmark(bench, None, seed=0, report=lambda *_: None).problems
    engine = engine or load_engine(cfg.model, bench.generation, adapters, max_lora_rank=4, seed=0)
    with get_runner(workers=1) as runner:
        return evaluate_targets(
            engine,
            problems,
            _targets(out, adapters),
            bench=bench,
            limits=Limits(cpu_time_s=2.0),
            runner=runner,
            model_name="tiny",
        )


def _files(folder: Path) -> dict:
    out = {name: (folder / name).read_text() for name in ("prompts.jsonl", "generations.json", "scores.json")}
    summary = json.loads((folder / "summary.json").read_text())
    summary["generation"].pop("engine")
    out["summary"] = {k: v for k, v in summary.items() if k not in TIMING}
    return out


@pytest.fixture(scope="module")
def reference(sweep_setup, tiny_model_dir, shared_benchmark):
    """Every target evaluated one checkpoint at a time: the files one engine must reproduce."""
    root, adapters = sweep_setup
    cfg = _cfg(root, tiny_model_dir, shared_benchmark, "per_checkpoint")
    summaries = _sweep(cfg, adapters, root / "per_checkpoint")
    return {
        t.label["model"]: _files(t.out_dir) for t in _targets(root / "per_checkpoint", adapters)
    }, summaries


def test_one_engine_writes_the_same_files_as_one_checkpoint_at_a_time(
    reference, sweep_setup, tmp_path, tiny_model_dir, shared_benchmark, monkeypatch
):
    ref, ref_summaries = reference
    _, adapters = sweep_setup
    # The adapters answer differently, so a request routed to the wrong adapter would show.
    assert len({r["generations.json"] for r in ref.values()}) == 4
    cfg = _cfg(tmp_path, tiny_model_dir, shared_benchmark, "one_engine")
    import codetune.bench.generate as gen

    calls = []
    real = gen.generate_texts
    monkeypatch.setattr(
        "codetune.bench.engine.generate_texts",
        lambda *a, **k: (calls.append((len(a[2]), len(set(k.get("adapters") or [None])))), real(*a, **k))[1],
    )
    summaries = _sweep(cfg, adapters, tmp_path / "one")
    assert calls == [(12, 4)]  # one generate call for 4 models x 3 problems, adapters mixed in its batches
    for t in _targets(tmp_path / "one", adapters):
        assert _files(t.out_dir) == ref[t.label["model"]], t.label["model"]
        assert not list(t.out_dir.glob("*.partial.jsonl"))
    assert [s["pass@1"] for s in summaries] == [s["pass@1"] for s in ref_summaries]
    shared = summaries[1]["engine"]
    assert shared["mode"] == "one_engine" and shared["models"] == 4 and shared["requests"] == 12
    # Each model is charged a quarter of the shared generation time, so the times still add up.
    assert sum(s["generation_time_s"] for s in summaries) == pytest.approx(shared["generation_s"], abs=0.05)


def test_one_engine_resumes_after_a_kill(
    reference, sweep_setup, tmp_path, tiny_model_dir, shared_benchmark, monkeypatch
):
    ref, _ = reference
    _, adapters = sweep_setup
    cfg = _cfg(tmp_path, tiny_model_dir, shared_benchmark, "one_engine")
    engine = load_engine(cfg.model, cfg.benchmark.generation, adapters, max_lora_rank=4, seed=0)
    real = engine.generate
    asked = []

    def killed_after_five(requests, **kw):
        asked.append(len(requests))
        on_result, seen = kw.pop("on_result"), []

        def counting(i, answers):
            on_result(i, answers)
            seen.append(i)
            if len(seen) == 5:
                raise KeyboardInterrupt

        return real(requests, on_result=counting, **kw)

    monkeypatch.setattr(engine, "generate", killed_after_five)
    with pytest.raises(KeyboardInterrupt):
        _sweep(cfg, adapters, tmp_path / "one", engine)
    partial = list((tmp_path / "one").glob("*/generations.partial.jsonl"))
    assert sum(len(p.read_text().splitlines()) for p in partial) == 5
    assert not list((tmp_path / "one").glob("*/summary.json"))

    monkeypatch.setattr(
        engine, "generate", lambda requests, **kw: (asked.append(len(requests)), real(requests, **kw))[1]
    )
    summaries = _sweep(cfg, adapters, tmp_path / "one", engine)
    assert asked == [12, 7]  # the second sweep asked only for the answers the first did not write
    assert sum(s["resumed"] for s in summaries) >= 1
    for t in _targets(tmp_path / "one", adapters):
        files = _files(t.out_dir)
        files["summary"].pop("resumed")
        expected = {**ref[t.label["model"]]}
        expected["summary"] = {k: v for k, v in expected["summary"].items() if k != "resumed"}
        assert files == expected, t.label["model"]


class _ScriptedEngine:
    """Answers with a correct-looking program; after the first answer it waits until that answer is scored."""

    backend, device = "hf", "cpu"

    def __init__(self, tokenizer, scored: threading.Event):
        self.tokenizer, self.scored = tokenizer, scored

    def generate(self, requests, *, on_result, **kw):
        answers = []
        for i, _ in enumerate(requests):
            answers.append(["```python\nprint(input())\n```"])
            on_result(i, answers[-1])
            if i == 0:
                assert self.scored.wait(60), "the first answer was not scored while generation went on"
        return answers


def test_scoring_overlaps_generation(tmp_path, tiny_model_dir, shared_benchmark):
    from transformers import AutoTokenizer

    cfg = _cfg(tmp_path, tiny_model_dir, shared_benchmark, "one_engine")
    bench = cfg.benchmark
    problems = load_benchmark(bench, None, seed=0, report=lambda *_: None).problems
    scored = threading.Event()
    with get_runner(workers=1) as real_runner:

        class Runner:
            def run(self, jobs, progress=None):
                out = real_runner.run(jobs, progress)
                scored.set()
                return out

        engine = _ScriptedEngine(AutoTokenizer.from_pretrained(tiny_model_dir), scored)
        targets = [EvalTarget(tmp_path / "base", None, None, {"model": "base"})]
        (summary,) = evaluate_targets(
            engine,
            problems,
            targets,
            bench=bench,
            limits=Limits(cpu_time_s=2.0),
            runner=Runner(),
            model_name="t",
        )
    assert summary["total"] == 3 and summary["engine"]["mode"] == "one_engine"
    assert len(json.loads((tmp_path / "base" / "scores.json").read_text())) == 3


def test_engine_mode_auto_per_backend(tiny_model_dir, shared_benchmark, tmp_path):
    cfg = _cfg(tmp_path, tiny_model_dir, shared_benchmark, "auto")
    hf = HFEngine(model=None, tokenizer=None)
    assert engine_mode(cfg.benchmark.generation, hf) == "per_checkpoint"
    vllm_like = type("V", (), {"backend": "vllm"})()
    assert engine_mode(cfg.benchmark.generation, vllm_like) == "one_engine"
    cfg.benchmark.generation.engine = "one_engine"
    assert engine_mode(cfg.benchmark.generation, hf) == "one_engine"


def test_mixed_adapter_rows_need_a_peft_model(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codetune.bench.generate import generate_chat
    from codetune.errors import CodetuneError

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    conv = [{"role": "user", "content": "Input"}]
    with pytest.raises(CodetuneError, match="needs a PEFT model"):
        generate_chat(model, tok, [conv], max_new_tokens=2, adapters=["a"], show_progress=False)
    # Base-model rows on a plain model are plain generation.
    assert generate_chat(model, tok, [conv], max_new_tokens=2, adapters=[None], show_progress=False) == (
        generate_chat(model, tok, [conv], max_new_tokens=2, show_progress=False)
    )
