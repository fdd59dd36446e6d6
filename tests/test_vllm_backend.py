"""The vLLM backend: clear errors without vLLM or CUDA; with an engine, the same files as the HF backend.

vLLM cannot run here (no GPU), so a stand-in module with vLLM's API (EngineArgs, LLMEngine, SamplingParams,
LoRARequest) checks how codetune drives it: one engine, a LoRA request per request, answers in prompt order.
"""

from __future__ import annotations

import json
import sys
import types
import zlib

import pytest

from codetune.errors import CodetuneError
from codetune.layout import (
    base_eval_dir,
    checkpoint_name,
    eval_dir,
    eval_key,
    generations_path,
    prompts_path,
    run_dir,
    scores_path,
    stage_record_path,
)
from codetune.records import StageRecord
from codetune.study import evaluate as ev
from test_bench_eval import _config, _make_checkpoint


def test_missing_vllm_is_a_clear_error(tmp_path, tiny_model_dir, shared_benchmark, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    cfg = _config(tmp_path, tiny_model_dir, shared_benchmark, generation={"backend": "vllm"})
    with pytest.raises(CodetuneError, match=r"pip install 'codetune\[vllm\]'"):
        ev.evaluate_study(cfg, include_base=True)
    assert not (cfg.output_path / "eval").exists()


def test_vllm_without_cuda_is_a_clear_error(tmp_path, tiny_model_dir, shared_benchmark, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", types.ModuleType("vllm"))
    cfg = _config(tmp_path, tiny_model_dir, shared_benchmark, generation={"backend": "vllm"})
    with pytest.raises(CodetuneError, match="needs a CUDA GPU"):
        ev.evaluate_study(cfg, include_base=True)


def _fake_vllm(calls: list) -> types.ModuleType:
    """vLLM's offline engine API as codetune drives it: EngineArgs, LLMEngine.from_engine_args, add_request,
    step (finishing one request per step, newest first, so answers come back out of order)."""
    vllm = types.ModuleType("vllm")
    lora = types.ModuleType("vllm.lora")
    request = types.ModuleType("vllm.lora.request")

    class LoRARequest:
        def __init__(self, name, int_id, path):
            self.lora_name, self.lora_int_id, self.lora_path = name, int_id, path

    class SamplingParams:
        def __init__(self, **kw):
            self.kw = kw

    class EngineArgs:
        def __init__(self, **kw):
            self.kw = kw

    class LLMEngine:
        def __init__(self, kw):
            calls.append(("init", kw))
            self.pending: list = []

        @classmethod
        def from_engine_args(cls, args):
            return cls(args.kw)

        def add_request(self, request_id, prompt, params, lora_request=None):
            calls.append(("add", request_id, lora_request and lora_request.lora_name, params.kw))
            self.pending.append((request_id, prompt, lora_request))

        def has_unfinished_requests(self):
            return bool(self.pending)

        def abort_request(self, ids):
            calls.append(("abort", list(ids)))
            self.pending = [p for p in self.pending if p[0] not in ids]

        def step(self):
            calls.append(("step",))
            request_id, prompt, lora_request = self.pending.pop()
            tag = lora_request.lora_name if lora_request else "base"
            # The answer depends on the request only (adapter and prompt), never on its batch or order.
            # With include_stop_str_in_output the stop string stays in vLLM's text: codetune cuts it.
            text = f"```python\nprint('{tag} {zlib.crc32(prompt.encode())}')\n```\n### Note\n"
            return [
                types.SimpleNamespace(
                    request_id=request_id, finished=True, outputs=[types.SimpleNamespace(text=text)]
                )
            ]

    request.LoRARequest = LoRARequest
    vllm.EngineArgs, vllm.LLMEngine, vllm.SamplingParams, vllm.lora = (
        EngineArgs,
        LLMEngine,
        SamplingParams,
        lora,
    )
    lora.request = request
    return vllm, lora, request


@pytest.fixture
def fake_vllm(monkeypatch):
    calls: list = []
    vllm, lora, request = _fake_vllm(calls)
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.lora", lora)
    monkeypatch.setitem(sys.modules, "vllm.lora.request", request)
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    return calls


def _rounds(calls: list) -> list[list[str | None]]:
    """The adapters of each batch of add_request calls made between two engine runs."""
    rounds, current = [], []
    for c in calls:
        if c[0] == "add":
            current.append(c[2])
        elif current:
            rounds.append(current)
            current = []
    return rounds + ([current] if current else [])


def test_vllm_engine_serves_checkpoints_as_adapters(tmp_path, tiny_model_dir, shared_benchmark, fake_vllm):
    calls = fake_vllm
    cfg = _config(
        tmp_path, tiny_model_dir, shared_benchmark, generation={"backend": "vllm", "max_new_tokens": 8}
    )
    for step in (2, 4):
        _make_checkpoint(
            tiny_model_dir, run_dir(cfg.output_path, "r1") / "checkpoints" / checkpoint_name(step, 0)
        )

    summaries = ev.evaluate_study(cfg, include_base=True)

    inits = [c for c in calls if c[0] == "init"]
    assert len(inits) == 1  # the base model is loaded once
    engine_args = inits[0][1]
    assert (
        engine_args["enable_lora"] is True and engine_args["max_loras"] == engine_args["max_cpu_loras"] == 2
    )
    assert engine_args["enable_prefix_caching"] is True and engine_args["enforce_eager"] is False
    assert engine_args["max_lora_rank"] == 16  # lora.r 16 is one of vLLM's rank slots
    # No sampling default comes from the checkpoint's generation_config.json (Qwen2.5's top_k 20 and
    # repetition_penalty 1.1): vLLM's own defaults, and every sampling setting given explicitly.
    assert engine_args["generation_config"] == "vllm"
    adds = [c for c in calls if c[0] == "add"]
    assert [a[2] for a in adds] == [None] * 3 + ["r1__step2"] * 3 + ["r1__step4"] * 3
    # LiveCodeBench's stop rule by default: "###" (its runner's --stop), no stop at the first closed block.
    assert all(a[3]["stop"] == ["###"] and a[3]["max_tokens"] == 8 for a in adds)
    assert all(
        a[3]["temperature"] == 0.0
        and a[3]["top_k"] == -1
        and a[3]["repetition_penalty"] == 1.0
        and a[3]["min_p"] == 0.0
        and a[3]["frequency_penalty"] == a[3]["presence_penalty"] == 0.0
        for a in adds
    )
    assert [s.model for s in summaries] == [
        "base",
        "r1_checkpoint-step-2-epoch-0",
        "r1_checkpoint-step-4-epoch-0",
    ]
    folder = eval_dir(run_dir(cfg.output_path, "r1"), checkpoint_name(4, 0))
    gens = json.loads((folder / "generations.json").read_text())
    prompts = [json.loads(line)["prompt"] for line in (folder / "prompts.jsonl").read_text().splitlines()]
    # Answers are filed under their own problem although the engine finished them out of order.
    tag = f"r1__step4 {zlib.crc32(prompts[0].encode())}"
    assert gens[0]["code_list"] == [f"print('{tag}')"]
    assert gens[0]["output_list"] == [f"```python\nprint('{tag}')\n```\n"]
    assert {"prompts.jsonl", "generations.json", "scores.json", "summary.json"} <= {
        p.name for p in folder.iterdir()
    }


def test_vllm_one_engine_sends_every_checkpoint_at_once(
    tmp_path, tiny_model_dir, shared_benchmark, fake_vllm
):
    calls = fake_vllm
    files = {}
    for engine in ("per_checkpoint", "one_engine"):
        calls.clear()
        cfg = _config(
            tmp_path / engine,
            tiny_model_dir,
            shared_benchmark,
            generation={"backend": "vllm", "max_new_tokens": 8, "engine": engine},
        )
        cfg.lora.r = 4
        ckpts = run_dir(cfg.output_path, "r1") / "checkpoints"
        names = [f"r1__step{s}" for s in (2, 4, 6)]
        for step in (2, 4, 6):
            _make_checkpoint(tiny_model_dir, ckpts / checkpoint_name(step, 0))
        summaries = ev.evaluate_study(cfg, include_base=True)
        assert calls[0][1]["max_loras"] == 3 and calls[0][1]["max_lora_rank"] == 8  # rank 4 -> slot 8
        rounds = _rounds(calls)
        if engine == "per_checkpoint":
            assert rounds == [[None] * 3] + [[name] * 3 for name in names]
        else:  # one engine: all 12 requests (4 models x 3 problems) added before the engine runs
            assert rounds == [[None] * 3 + [n for n in names for _ in range(3)]]
            assert all(s.engine.models == 4 and s.engine.backend == "vllm" for s in summaries)
        files[engine] = {}
        for s in summaries:
            folder = (
                base_eval_dir(cfg.output_path)
                if s.run is None
                else eval_dir(run_dir(cfg.output_path, "r1"), s.checkpoint)
            )
            files[engine][s.model] = [
                p.read_text() for p in (prompts_path(folder), generations_path(folder), scores_path(folder))
            ]
            assert StageRecord.read(
                stage_record_path(cfg.output_path, "eval", eval_key(s.run, s.checkpoint))
            ).finished
    assert files["one_engine"] == files["per_checkpoint"]
