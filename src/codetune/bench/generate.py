"""Batched chat generation with Hugging Face transformers: left padding, KV cache, greedy or sampled.

Prompts are sorted by length so each batch pads little; answers come back in the caller's order. With
`stop_at_code_end`, a sequence stops once its first fenced code block is closed (after `</think>` when the
model reasons first), which is where LiveCodeBench's extraction stops reading anyway.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from codetune.errors import CodetuneError
from codetune.progress import progress_bar

if TYPE_CHECKING:
    import torch

_FENCE = re.compile(r"^[ \t]*```", re.MULTILINE)


def render_chat(tokenizer, messages: list[dict]) -> str:
    """The prompt text for a conversation, ending where the assistant starts to answer."""
    if getattr(tokenizer, "chat_template", None) is None:
        name = getattr(tokenizer, "name_or_path", "") or "the model"
        raise CodetuneError(f"tokenizer of {name} has no chat template; the benchmark prompts a chat model")
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception:
        # Some templates (Gemma, Mistral v1) reject a system role: fold it into the first user turn.
        if messages and messages[0]["role"] == "system" and len(messages) > 1:
            merged = [
                {
                    "role": messages[1]["role"],
                    "content": messages[0]["content"] + "\n\n" + messages[1]["content"],
                },
                *messages[2:],
            ]
            return tokenizer.apply_chat_template(merged, tokenize=False, add_generation_prompt=True)
        raise


def end_token_ids(model, tokenizer) -> list[int]:
    """Every token that ends an answer: the tokenizer's EOS, the model's generation EOS, ChatML's <|im_end|>."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(gen_eos, int):
        ids.add(gen_eos)
    elif isinstance(gen_eos, list | tuple):
        ids.update(int(i) for i in gen_eos)
    for tok in ("<|im_end|>", "<|eot_id|>", "<|end|>"):
        if tok in getattr(tokenizer, "all_special_tokens", []):
            ids.add(int(tokenizer.convert_tokens_to_ids(tok)))
    return sorted(ids)


def code_block_closed(text: str) -> bool:
    """True once the answer (after any reasoning) has opened and closed a fenced block."""
    if "<think>" in text:
        if "</think>" not in text:
            return False
        text = text.rsplit("</think>", 1)[1]
    return len(_FENCE.findall(text)) >= 2


def _code_end_criteria(tokenizer):
    import torch
    from transformers import StoppingCriteria

    class StopAtCodeEnd(StoppingCriteria):
        """Per sequence: decode only the newest token each step, scan for fences when a backtick arrives."""

        def __init__(self):
            self.texts: list[str] | None = None

        def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
            new = tokenizer.batch_decode(input_ids[:, -1:], skip_special_tokens=True)
            if self.texts is None:
                self.texts = [""] * input_ids.shape[0]
            done = []
            for i, piece in enumerate(new):
                self.texts[i] += piece
                done.append("`" in piece and code_block_closed(self.texts[i]))
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StopAtCodeEnd()


def generate_chat(
    model,
    tokenizer,
    conversations: list[list[dict]],
    *,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_p: float = 1.0,
    n: int = 1,
    batch_size: int = 8,
    stop_at_code_end: bool = False,
    desc: str | None = None,
    on_result: Callable[[int, list[str]], None] | None = None,
    stats: dict | None = None,
    show_progress: bool = True,
) -> list[list[str]]:
    """n answers per conversation, in order. `batch_size` counts sequences (prompts x n samples).

    `on_result(index, answers)` is called as each conversation's answers are ready (for resumable callers);
    `stats` (when given) receives prompt count, new tokens and seconds.
    """
    import torch
    from transformers import GenerationConfig, StoppingCriteriaList

    if n > 1 and temperature == 0:
        raise ValueError("n > 1 samples need temperature > 0")
    texts = [render_chat(tokenizer, conv) for conv in conversations]
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: -lengths[i])
    per_batch = max(1, batch_size // n)
    ends = end_token_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else ends[0]
    sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0 else {}
    gen_cfg = GenerationConfig(
        max_new_tokens=max_new_tokens,
        num_return_sequences=n,
        pad_token_id=pad_id,
        eos_token_id=ends,
        use_cache=True,
        do_sample=temperature > 0,
        **{k: v for k, v in sampling.items() if k != "do_sample"},
    )
    stop_ids = set(ends) | {pad_id}
    results: list[list[str] | None] = [None] * len(texts)
    new_tokens = 0
    t0 = time.perf_counter()
    was_training = model.training
    model.eval()
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    progress = progress_bar() if show_progress else None
    try:
        if progress is not None:
            progress.start()
            task = progress.add_task(desc or "generating", total=len(texts))
        for start in range(0, len(order), per_batch):
            idx = order[start : start + per_batch]
            enc = tokenizer(
                [texts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False
            )
            enc = {k: v.to(model.device) for k, v in enc.items()}
            prompt_len = enc["input_ids"].shape[1]
            criteria = StoppingCriteriaList([_code_end_criteria(tokenizer)] if stop_at_code_end else [])
            with torch.inference_mode():
                out = model.generate(**enc, generation_config=gen_cfg, stopping_criteria=criteria)
            gen = out[:, prompt_len:].tolist()
            for j, i in enumerate(idx):
                answers = []
                for seq in gen[j * n : (j + 1) * n]:
                    cut = next((p for p, t in enumerate(seq) if t in stop_ids), len(seq))
                    new_tokens += cut
                    answers.append(tokenizer.decode(seq[:cut], skip_special_tokens=True))
                results[i] = answers
                if on_result is not None:
                    on_result(i, answers)
            if progress is not None:
                progress.advance(task, len(idx))
    finally:
        tokenizer.padding_side = old_side
        if progress is not None:
            progress.stop()
        if was_training:
            model.train()
    if stats is not None:
        stats.update(prompts=len(texts), new_tokens=new_tokens, seconds=time.perf_counter() - t0)
    return [r if r is not None else [] for r in results]
