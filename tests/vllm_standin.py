"""A stand-in of the vLLM API codetune drives, for what the real engine cannot show on this machine: the
CUDA platform's settings (CUDA graphs, GPU memory share, tensor parallelism) and how requests are grouped.

Every call the backend makes is recorded as (name, args, kwargs); tests/test_vllm_real.py binds each of them
to the real package's `inspect.signature`, so a renamed or dropped argument in vLLM fails a test even though
this stand-in would accept it.
"""

from __future__ import annotations

import types
import zlib

# The objects of the real package each recorded call name stands for.
REAL = {
    "EngineArgs": "vllm.EngineArgs",
    "LLMEngine.from_engine_args": "vllm.LLMEngine.from_engine_args",
    "LLMEngine.add_request": "vllm.LLMEngine.add_request",
    "LLMEngine.step": "vllm.LLMEngine.step",
    "LLMEngine.has_unfinished_requests": "vllm.LLMEngine.has_unfinished_requests",
    "LLMEngine.abort_request": "vllm.LLMEngine.abort_request",
    "SamplingParams": "vllm.SamplingParams",
    "LoRARequest": "vllm.lora.request.LoRARequest",
}


def fake_vllm(calls: list, platform: str = "cuda") -> dict[str, types.ModuleType]:
    """The modules to put in sys.modules: vllm, vllm.lora, vllm.lora.request, vllm.platforms. `step`
    finishes one request per call, newest first, so answers come back out of order."""
    vllm = types.ModuleType("vllm")
    lora = types.ModuleType("vllm.lora")
    request = types.ModuleType("vllm.lora.request")
    platforms = types.ModuleType("vllm.platforms")
    platforms.current_platform = types.SimpleNamespace(device_type=platform)

    def record(name, *args, **kwargs):
        calls.append((name, args, kwargs))

    class LoRARequest:
        def __init__(self, *args, **kw):
            record("LoRARequest", *args, **kw)
            self.lora_name, self.lora_int_id, self.lora_path = args

    class SamplingParams:
        def __init__(self, **kw):
            record("SamplingParams", **kw)
            self.kw = kw

    class EngineArgs:
        def __init__(self, **kw):
            record("EngineArgs", **kw)
            self.kw = kw

    class LLMEngine:
        def __init__(self, kw):
            self.kw, self.pending = kw, []

        @classmethod
        def from_engine_args(cls, args):
            record("LLMEngine.from_engine_args", args)
            return cls(args.kw)

        def add_request(self, request_id, prompt, params, lora_request=None):
            record("LLMEngine.add_request", self, request_id, prompt, params, lora_request=lora_request)
            self.pending.append((request_id, prompt, lora_request))

        def has_unfinished_requests(self):
            record("LLMEngine.has_unfinished_requests", self)
            return bool(self.pending)

        def abort_request(self, ids):
            record("LLMEngine.abort_request", self, list(ids))
            self.pending = [p for p in self.pending if p[0] not in ids]

        def step(self):
            record("LLMEngine.step", self)
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
    vllm.EngineArgs, vllm.LLMEngine, vllm.SamplingParams = EngineArgs, LLMEngine, SamplingParams
    vllm.lora, vllm.platforms, lora.request = lora, platforms, request
    return {"vllm": vllm, "vllm.lora": lora, "vllm.lora.request": request, "vllm.platforms": platforms}


def install(monkeypatch, calls: list, platform: str = "cuda") -> None:
    monkeypatch.delenv("CODETUNE_VLLM", raising=False)  # conftest's: `auto` is to see this stand-in
    for name, module in fake_vllm(calls, platform).items():
        monkeypatch.setitem(__import__("sys").modules, name, module)
