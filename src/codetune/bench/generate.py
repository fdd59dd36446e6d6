"""Batched generation with Hugging Face transformers: left padding, KV cache, greedy or sampled.

Prompts are sorted by length so each batch pads little; answers come back in the caller's order. An answer
ends at an end-of-turn token, at `max_new_tokens`, or where one of the `stop` strings appears: it is cut
there and the stop string left out, as vLLM (LiveCodeBench's runner) does with its `stop`. With
`stop_at_code_end` (a speed option, off by default) a sequence also stops once its first fenced code block
is closed (after `</think>` when the model reasons first): LiveCodeBench's extraction reads the *last*
block, so an answer that drafts a block and then corrects it is then scored on the draft.

With `adapters` (one name per prompt, None for the base model), one PeftModel answers for several LoRA
checkpoints in the same batches (PEFT's mixed-adapter batches, `adapter_names=`): each row goes through its
own adapter, so a row's answer is the one it gets with that adapter set alone.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from codetune.errors import CodetuneError
from codetune.progress import progress_bar

if TYPE_CHECKING:
    import torch

_FENCE = re.compile(r"^[ \t]*```", re.MULTILINE)
# Bump when what an answer is changes: end tokens, stop and cut rules, sampling (2: seeded per answer).
GENERATION_VERSION = 2
BASE_ADAPTER = "__base__"  # PEFT's name for "no adapter" in a mixed-adapter batch


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


def sample_seed(seed: int, key: str, sample: int = 0) -> int:
    """The seed of one answer: a hash of the run's seed, the prompt's key (a problem's question_id) and the
    sample's index, so an answer is the same whichever batch, engine or rerun produced it."""
    import hashlib

    data = f"{seed}\0{key}\0{sample}".encode("utf-8", "surrogatepass")  # a hostile question_id too
    return int(hashlib.sha256(data).hexdigest()[:15], 16)


def seeded_sampler(seeds: Sequence[int], temperature: float, top_p: float):
    """A LogitsProcessor that samples each row's next token with that row's own generator (transformers'
    temperature and top-p warpers, then a draw), leaving greedy search only the drawn token: sampling that
    takes a seed per answer, which `model.generate` (one global RNG for the batch) does not."""
    import torch
    from transformers import LogitsProcessor, TemperatureLogitsWarper, TopPLogitsWarper

    class SeededSampler(LogitsProcessor):
        def __init__(self):
            self.generators: list[torch.Generator] | None = None
            self.warpers = [TemperatureLogitsWarper(temperature)]
            if top_p < 1.0:
                self.warpers.append(TopPLogitsWarper(top_p))

        def __call__(self, input_ids, scores):
            if self.generators is None:  # on the device the logits are on
                self.generators = [torch.Generator(scores.device).manual_seed(s) for s in seeds]
            warped = scores.float()
            for w in self.warpers:
                warped = w(input_ids, warped)
            probs = torch.softmax(warped, dim=-1)
            drawn = torch.cat(
                [torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(self.generators)]
            )
            out = torch.full_like(scores, float("-inf"))
            out.scatter_(1, drawn.unsqueeze(1), 0.0)
            return out

    return SeededSampler()


@contextmanager
def checkpoint_defaults_off(model):
    """Within: `model.generate` takes no setting from the checkpoint's generation_config.json.

    transformers fills every setting a passed GenerationConfig leaves unset from the checkpoint's file, and
    Qwen2.5-Instruct's sets do_sample, temperature 0.7, top_k 20 and repetition_penalty 1.1: greedy decoding
    would silently run with a repetition penalty the config and the report never mention. Only the special
    token ids are kept.
    """
    from transformers import GenerationConfig

    target = model.get_base_model() if hasattr(model, "get_base_model") else model
    saved = target.generation_config
    ids = {k: getattr(saved, k, None) for k in ("bos_token_id", "eos_token_id", "pad_token_id")}
    target.generation_config = GenerationConfig(**{k: v for k, v in ids.items() if v is not None})
    try:
        yield
    finally:
        target.generation_config = saved


def code_block_closed(text: str) -> bool:
    """True once the answer (after any reasoning) has opened and closed a fenced block."""
    if "<think>" in text:
        if "</think>" not in text:
            return False
        text = text.rsplit("</think>", 1)[1]
    return len(_FENCE.findall(text)) >= 2


def _answer_criteria(tokenizer, stop: Sequence[str], code_end: bool):
    """A stopping criterion on the generated text only (never the prompt): a stop string appeared, or, with
    `code_end`, the first fenced block closed. Per sequence it decodes only the newest token each step."""
    import torch
    from transformers import StoppingCriteria

    longest = max((len(x) for x in stop), default=0)

    class StopOnAnswerText(StoppingCriteria):
        def __init__(self):
            self.texts: list[str] | None = None

        def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
            new = tokenizer.batch_decode(input_ids[:, -1:], skip_special_tokens=True)
            if self.texts is None:
                self.texts = [""] * input_ids.shape[0]
            done = []
            for i, piece in enumerate(new):
                self.texts[i] += piece
                tail = self.texts[i][-(len(piece) + longest) :]
                hit = any(x in tail for x in stop)
                done.append(hit or (code_end and "`" in piece and code_block_closed(self.texts[i])))
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StopOnAnswerText()


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to the first occurrence of any stop string (the stop string left out)."""
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return text[: min(cuts)] if cuts else text


def generate_chat(
    model,
    tokenizer,
    conversations: list[list[dict]],
    **kwargs,
) -> list[list[str]]:
    """`generate_texts` on conversations rendered with the tokenizer's chat template."""
    return generate_texts(
        model, tokenizer, [render_chat(tokenizer, conv) for conv in conversations], **kwargs
    )


def generate_texts(
    model,
    tokenizer,
    prompts: list[str],
    *,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_p: float = 1.0,
    n: int = 1,
    batch_size: int = 8,
    stop: Sequence[str] = (),
    stop_at_code_end: bool = False,
    desc: str | None = None,
    on_result: Callable[[int, list[str]], None] | None = None,
    stats: dict | None = None,
    show_progress: bool = True,
    adapters: Sequence[str | None] | None = None,
    seeds: Sequence[int] | None = None,
) -> list[list[str]]:
    """n answers per prompt text (already rendered, ending where the assistant answers), in order.

    At temperature > 0 answer k of prompt i is sampled with its own generator, seeded by
    `sample_seed(seeds[i], "", k)` (`seeds` default: a hash of the prompt text), so it does not depend on the
    batch it ran in.

    `batch_size` counts sequences (prompts x n samples). `on_result(index, answers)` is called as each
    prompt's answers are ready (for resumable callers); `stats` (when given) receives prompt count, new
    tokens and seconds. `adapters[i]` names the LoRA adapter of a PeftModel that answers prompt i (None: the
    base model); without it the active adapter answers.
    """
    import torch
    from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

    if n > 1 and temperature == 0:
        raise ValueError("n > 1 samples need temperature > 0")
    texts = list(prompts)
    if seeds is None:
        seeds = [sample_seed(0, t) for t in texts]
    elif len(seeds) != len(texts):
        raise ValueError(f"{len(seeds)} seeds for {len(texts)} prompts")
    stop = [s for s in stop if s]
    if adapters is not None:
        adapters = list(adapters)
        if len(adapters) != len(texts):
            raise ValueError(f"{len(adapters)} adapter names for {len(texts)} prompts")
        if not hasattr(model, "peft_config"):  # a plain model: only base-model rows make sense
            if any(a is not None for a in adapters):
                raise CodetuneError("mixed-adapter generation needs a PEFT model with the adapters loaded")
            adapters = None
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: -lengths[i])
    per_batch = max(1, batch_size // n)
    ends = end_token_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else ends[0]
    # Greedy search over rows repeated n times; at temperature > 0 a seeded sampler picks each row's token.
    gen_cfg = GenerationConfig(
        max_new_tokens=max_new_tokens,
        pad_token_id=pad_id,
        eos_token_id=ends,
        use_cache=True,
        do_sample=False,
        num_beams=1,
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
                [texts[i] for i in idx for _ in range(n)],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            )
            enc = {k: v.to(model.device) for k, v in enc.items()}
            prompt_len = enc["input_ids"].shape[1]
            # Stop strings are matched in the answer only (HF's stop_strings would also match across the end
            # of the prompt); the text is cut at the first one below, exactly.
            use = stop or stop_at_code_end
            criteria = StoppingCriteriaList(
                [_answer_criteria(tokenizer, stop, stop_at_code_end)] if use else []
            )
            extra = {}
            if adapters is not None:
                # One name per generated sequence: generate repeats each prompt n times, consecutively.
                extra["adapter_names"] = [adapters[i] or BASE_ADAPTER for i in idx for _ in range(n)]
            if temperature > 0:
                row_seeds = [sample_seed(seeds[i], "", k) for i in idx for k in range(n)]
                extra["logits_processor"] = LogitsProcessorList(
                    [seeded_sampler(row_seeds, temperature, top_p)]
                )
            with torch.inference_mode(), checkpoint_defaults_off(model):
                out = model.generate(**enc, generation_config=gen_cfg, stopping_criteria=criteria, **extra)
            gen = out[:, prompt_len:].tolist()
            for j, i in enumerate(idx):
                answers = []
                for seq in gen[j * n : (j + 1) * n]:
                    cut = next((p for p, t in enumerate(seq) if t in stop_ids), len(seq))
                    new_tokens += cut
                    answers.append(cut_at_stop(tokenizer.decode(seq[:cut], skip_special_tokens=True), stop))
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
