"""The vLLM backend: clear errors without vLLM or CUDA; with an engine, the same files as the HF backend.

vLLM cannot run here (no GPU), so a stand-in module with vLLM's API (LLM, SamplingParams, LoRARequest)
checks how codetune drives it: one engine, one LoRA request per checkpoint, answers in prompt order.
"""

from __future__ import annotations

import json
import sys
import types

import pytest

from codetune.errors import CodetuneError
from codetune.layout import checkpoint_name, eval_dir, run_dir
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
    vllm = types.ModuleType("vllm")
    lora = types.ModuleType("vllm.lora")
    request = types.ModuleType("vllm.lora.request")

    class LoRARequest:
        def __init__(self, name, int_id, path):
            self.lora_name, self.lora_int_id, self.lora_path = name, int_id, path

    class SamplingParams:
        def __init__(self, **kw):
            self.kw = kw

    class LLM:
        def __init__(self, **kw):
            calls.append(("init", kw))

        def generate(self, prompts, params, lora_request=None, use_tqdm=True):
            calls.append(("generate", len(prompts), lora_request and lora_request.lora_name, params.kw))
            tag = lora_request.lora_name if lora_request else "base"
            return [
                types.SimpleNamespace(
                    # with include_stop_str_in_output the stop string stays in vLLM's text: codetune cuts it
                    outputs=[types.SimpleNamespace(text=f"```python\nprint('{tag} {i}')\n```\n### Note\n")]
                )
                for i in range(len(prompts))
            ]

    request.LoRARequest = LoRARequest
    vllm.LLM, vllm.SamplingParams, vllm.lora = LLM, SamplingParams, lora
    lora.request = request
    return vllm, lora, request


def test_vllm_engine_serves_checkpoints_as_adapters(tmp_path, tiny_model_dir, shared_benchmark, monkeypatch):
    calls: list = []
    vllm, lora, request = _fake_vllm(calls)
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.lora", lora)
    monkeypatch.setitem(sys.modules, "vllm.lora.request", request)
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    cfg = _config(
        tmp_path, tiny_model_dir, shared_benchmark, generation={"backend": "vllm", "max_new_tokens": 8}
    )
    for step in (2, 4):
        _make_checkpoint(
            tiny_model_dir, run_dir(cfg.output_path, "r1") / "checkpoints" / checkpoint_name(step, 0)
        )

    summaries = ev.evaluate_study(cfg, include_base=True)

    inits = [c for c in calls if c[0] == "init"]
    assert len(inits) == 1 and inits[0][1]["enable_lora"] is True  # the base model is loaded once
    served = [c[2] for c in calls if c[0] == "generate"]
    assert served == [None, "r1__step2", "r1__step4"]
    # LiveCodeBench's stop rule by default: "###" (its runner's --stop), no stop at the first closed block.
    assert all(c[3]["stop"] == ["###"] and c[3]["max_tokens"] == 8 for c in calls if c[0] == "generate")
    assert [s.model for s in summaries] == [
        "base",
        "r1_checkpoint-step-2-epoch-0",
        "r1_checkpoint-step-4-epoch-0",
    ]
    folder = eval_dir(run_dir(cfg.output_path, "r1"), checkpoint_name(4, 0))
    gens = json.loads((folder / "generations.json").read_text())
    assert gens[0]["code_list"] == ["print('r1__step4 0')"]
    assert gens[0]["output_list"] == ["```python\nprint('r1__step4 0')\n```\n"]
    assert {"prompts.jsonl", "generations.json", "scores.json", "summary.json"} <= {
        p.name for p in folder.iterdir()
    }
