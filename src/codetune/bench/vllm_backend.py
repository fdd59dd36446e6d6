"""Fast GPU generation on vLLM (optional extra `codetune[vllm]`): the base model loaded once, every
checkpoint served as a LoRA adapter per request, tensor parallelism as an option.

It answers exactly like `generate.generate_texts` (same prompt texts, same stop rule, same `on_result`
callback, answers in the caller's order), so evaluation writes the same files whichever backend generated
them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from codetune.errors import CodetuneError

# For the `stop_at_code_end` speed option: vLLM cannot stop "after the first closed fence" the way the HF
# stopping criterion does; a newline, the closing fence and a newline is the closest stop string (an
# opening fence is followed by a language tag). It is kept in the text; `stop` strings are cut off.
CODE_END_STOP = "\n```\n"


def require_vllm():
    """Import vLLM or fail with the install command; vLLM also needs a CUDA GPU."""
    try:
        import vllm
    except ImportError:
        raise CodetuneError(
            "benchmark.generation.backend: vllm needs the optional extra: pip install 'codetune[vllm]'"
        ) from None
    import torch

    if not torch.cuda.is_available():
        raise CodetuneError(
            "benchmark.generation.backend: vllm needs a CUDA GPU; this machine has none (use hf)"
        )
    return vllm


class VLLMGenerator:
    """One vLLM engine over the base model; `for_adapter(name)` gives a generate function for one checkpoint."""

    def __init__(
        self,
        model_path: str,
        tokenizer,
        adapters: dict[str, str | Path],
        *,
        max_lora_rank: int,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        seed: int = 0,
    ):
        vllm = require_vllm()
        from vllm.lora.request import LoRARequest

        self.tokenizer = tokenizer
        self.llm = vllm.LLM(
            model=model_path,
            enable_lora=bool(adapters),
            max_loras=max(1, min(len(adapters), 8)),
            max_lora_rank=max_lora_rank,
            tensor_parallel_size=tensor_parallel_size,
            dtype=dtype,
            seed=seed,
        )
        # LoRARequest ids must be unique positive integers.
        self.requests = {
            name: LoRARequest(name, i + 1, str(path)) for i, (name, path) in enumerate(adapters.items())
        }

    def for_adapter(self, adapter: str | None) -> Callable[..., list[list[str]]]:
        if adapter is not None and adapter not in self.requests:
            raise CodetuneError(f"adapter {adapter!r} was not loaded into the vLLM engine")

        def generate(
            prompts: list[str],
            *,
            max_new_tokens: int,
            temperature: float = 0.0,
            top_p: float = 1.0,
            n: int = 1,
            batch_size: int = 8,  # vLLM schedules its own batches
            stop: list[str] | tuple[str, ...] = (),
            stop_at_code_end: bool = False,
            desc: str | None = None,
            on_result: Callable[[int, list[str]], None] | None = None,
        ) -> list[list[str]]:
            from vllm import SamplingParams

            from codetune.bench.generate import cut_at_stop

            stops = [s for s in stop if s] + ([CODE_END_STOP] if stop_at_code_end else [])
            params = SamplingParams(
                n=n,
                temperature=temperature,
                top_p=top_p if temperature > 0 else 1.0,
                max_tokens=max_new_tokens,
                stop=stops or None,
                # Kept so the code-end stop leaves its closing fence; `stop` strings are cut off below,
                # which is vLLM's own default for them (and so LiveCodeBench's).
                include_stop_str_in_output=True,
            )
            outputs = self.llm.generate(
                list(prompts),
                params,
                lora_request=self.requests.get(adapter) if adapter else None,
                use_tqdm=True,
            )
            answers = [[cut_at_stop(c.text, stop) for c in out.outputs] for out in outputs]
            if on_result is not None:
                for i, a in enumerate(answers):
                    on_result(i, a)
            return answers

        return generate
