"""Batched generation with Hugging Face transformers: left padding, KV cache, greedy or sampled.

Prompts are sorted by length so each batch pads little; answers come back in the caller's order. How they
are decoded is one `Decoding`, the object the vLLM engine (bench.vllm_backend) reads too. An answer ends at
an end-of-turn token, at `max_new_tokens`, or where one of the `stop` strings appears: it is cut
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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from codetune.errors import CodetuneError
from codetune.progress import progress_bar

if TYPE_CHECKING:
    import torch

    from codetune.config import GenerationConfig

_FENCE = re.compile(r"^[ \t]*```", re.MULTILINE)
# Bump when what an answer is changes: end tokens, stop and cut rules, sampling (2: seeded per answer).
GENERATION_VERSION = 2
BASE_ADAPTER = "__base__"  # PEFT's name for "no adapter" in a mixed-adapter batch
OnResult = Callable[[int, list[str]], None]  # (prompt or request index, its answers), as each is ready


@dataclass(frozen=True)
class Decoding:
    """How every answer of one generate call is decoded, read alike by both engines (`generate_texts` here,
    vllm_backend.VLLMGenerator) so they cannot drift: the token budget, greedy (temperature 0) or sampled
    (temperature, top-p), `n` answers per prompt, the `stop` strings (an answer is cut at the first, which is
    left out) and the `stop_at_code_end` speed option (see the module docstring)."""

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    stop: Sequence[str] = ()
    stop_at_code_end: bool = False

    def __post_init__(self) -> None:
        if self.n > 1 and self.temperature == 0:
            raise ValueError("n > 1 samples need temperature > 0")
        # An empty stop string would end every answer at its first token.
        object.__setattr__(self, "stop", tuple(s for s in self.stop if s))

    @classmethod
    def of(cls, generation: GenerationConfig) -> Decoding:
        """An evaluation's decoding: `benchmark.generation`'s."""
        g = generation
        return cls(
            max_new_tokens=g.max_new_tokens,
            temperature=g.temperature,
            top_p=g.top_p,
            n=g.n,
            stop=tuple(g.stop),
            stop_at_code_end=g.stop_at_code_end,
        )


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
            return cast("torch.BoolTensor", torch.tensor(done, dtype=torch.bool, device=input_ids.device))

    return StopOnAnswerText()


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to the first occurrence of any stop string (the stop string left out)."""
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return text[: min(cuts)] if cuts else text


def generate_chat(
    model,
    tokenizer,
    conversations: list[list[dict]],
    decoding: Decoding,
    **kwargs,
) -> list[list[str]]:
    """`generate_texts` on conversations rendered with the tokenizer's chat template."""
    return generate_texts(
        model, tokenizer, [render_chat(tokenizer, conv) for conv in conversations], decoding, **kwargs
    )


def generate_texts(
    model,
    tokenizer,
    prompts: Sequence[str],
    decoding: Decoding,
    *,
    batch_size: int = 8,
    seeds: Sequence[int] | None = None,
    adapters: Sequence[str | None] | None = None,
    desc: str | None = None,
    on_result: OnResult | None = None,
    show_progress: bool = True,
    stats: dict | None = None,
) -> list[list[str]]:
    """`decoding.n` answers per prompt text (already rendered, ending where the assistant answers), in order.

    At temperature > 0 answer k of prompt i is sampled with its own generator, seeded by
    `sample_seed(seeds[i], "", k)` (`seeds` default: a hash of the prompt text), so it does not depend on the
    batch it ran in.

    `batch_size` counts sequences (prompts x n samples). `on_result(index, answers)` is called as each
    prompt's answers are ready (for resumable callers); `stats` (when given) receives prompt count, new
    tokens and seconds. `adapters[i]` names the LoRA adapter of a PeftModel that answers prompt i (None: the
    base model); without it the active adapter answers.
    """
    texts = list(prompts)
    seeds = _prompt_seeds(texts, seeds)
    adapters = _row_adapters(model, texts, adapters)
    batches = _Batches(model, tokenizer, decoding)
    results: list[list[str]] = [[] for _ in texts]
    t0 = time.perf_counter()
    with _answering(model, tokenizer), answer_progress(desc, len(texts), show_progress) as advance:
        for idx in _length_sorted_batches(tokenizer, texts, max(1, batch_size // decoding.n)):
            answers = batches.answer(
                [texts[i] for i in idx],
                [seeds[i] for i in idx],
                None if adapters is None else [adapters[i] for i in idx],
            )
            for i, answer in zip(idx, answers, strict=True):
                results[i] = answer
                if on_result is not None:
                    on_result(i, answer)
            advance(len(idx))
    if stats is not None:
        stats.update(prompts=len(texts), new_tokens=batches.new_tokens, seconds=time.perf_counter() - t0)
    return results


def _prompt_seeds(texts: list[str], seeds: Sequence[int] | None) -> list[int]:
    if seeds is None:
        return [sample_seed(0, t) for t in texts]
    if len(seeds) != len(texts):
        raise ValueError(f"{len(seeds)} seeds for {len(texts)} prompts")
    return list(seeds)


def _row_adapters(model, texts: list[str], adapters: Sequence[str | None] | None) -> list[str | None] | None:
    """Each prompt's adapter for a mixed-adapter batch; None: the model's active adapter answers all."""
    if adapters is None:
        return None
    if len(adapters) != len(texts):
        raise ValueError(f"{len(adapters)} adapter names for {len(texts)} prompts")
    if not hasattr(model, "peft_config"):  # a plain model: only base-model rows make sense
        if any(a is not None for a in adapters):
            raise CodetuneError("mixed-adapter generation needs a PEFT model with the adapters loaded")
        return None
    return list(adapters)


def _length_sorted_batches(tokenizer, texts: list[str], per_batch: int) -> Iterator[list[int]]:
    """Prompt indices in batches of `per_batch`, longest prompts first, so each batch pads little."""
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: -lengths[i])
    for start in range(0, len(order), per_batch):
        yield order[start : start + per_batch]


@contextmanager
def _answering(model, tokenizer) -> Iterator[None]:
    """Within: the model in eval mode, the tokenizer padding on the left (decoder-only models continue from
    the right edge); both as they were after."""
    was_training = model.training
    model.eval()
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        yield
    finally:
        tokenizer.padding_side = old_side
        if was_training:
            model.train()


@contextmanager
def answer_progress(desc: str | None, total: int, show: bool = True) -> Iterator[Callable[[int], None]]:
    """A bar of prompts answered (both engines'); yields `advance(count)`. `show` False: no bar."""
    if not show:
        yield lambda _: None
        return
    with progress_bar() as bar:
        task = bar.add_task(desc or "generating", total=total)
        yield lambda count: bar.advance(task, count)


class _Batches:
    """One batch of prompts at a time, with one decoding: greedy search over the rows (each prompt repeated n
    times), a seeded sampler picking each row's token at temperature > 0; each answer cut at its first end
    token and at the first stop string. Counts the new tokens kept."""

    def __init__(self, model, tokenizer, decoding: Decoding):
        from transformers import GenerationConfig

        self.model, self.tokenizer, self.decoding = model, tokenizer, decoding
        ends = end_token_ids(model, tokenizer)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else ends[0]
        self.config = GenerationConfig(
            max_new_tokens=decoding.max_new_tokens,
            pad_token_id=pad_id,
            eos_token_id=ends,
            use_cache=True,
            do_sample=False,
            num_beams=1,
        )
        self.stop_ids = set(ends) | {pad_id}
        self.new_tokens = 0

    def answer(
        self, texts: list[str], seeds: list[int], adapters: list[str | None] | None
    ) -> list[list[str]]:
        """n answers per prompt text of one batch, in order."""
        import torch

        n = self.decoding.n
        enc = self.tokenizer(
            [t for t in texts for _ in range(n)], return_tensors="pt", padding=True, add_special_tokens=False
        )
        enc = {k: v.to(self.model.device) for k, v in enc.items()}
        prompt_len = enc["input_ids"].shape[1]
        with torch.inference_mode(), checkpoint_defaults_off(self.model):
            out = self.model.generate(**enc, generation_config=self.config, **self._controls(seeds, adapters))
        rows = out[:, prompt_len:].tolist()
        return [[self._text(row) for row in rows[j * n : (j + 1) * n]] for j in range(len(texts))]

    def _controls(self, seeds: list[int], adapters: list[str | None] | None) -> dict:
        """`generate`'s per-batch arguments: the stopping criterion (a fresh one: it keeps each row's text),
        the rows' adapters, the seeded sampler."""
        from transformers import LogitsProcessorList, StoppingCriteriaList

        d, n = self.decoding, self.decoding.n
        # Stop strings are matched in the answer only (HF's stop_strings would also match across the end of
        # the prompt); the text is cut at the first one in _text, exactly.
        use = d.stop or d.stop_at_code_end
        controls: dict = {
            "stopping_criteria": StoppingCriteriaList(
                [_answer_criteria(self.tokenizer, d.stop, d.stop_at_code_end)] if use else []
            )
        }
        if adapters is not None:
            # One name per generated sequence: generate repeats each prompt n times, consecutively.
            controls["adapter_names"] = [a or BASE_ADAPTER for a in adapters for _ in range(n)]
        if d.temperature > 0:
            row_seeds = [sample_seed(s, "", k) for s in seeds for k in range(n)]
            controls["logits_processor"] = LogitsProcessorList(
                [seeded_sampler(row_seeds, d.temperature, d.top_p)]
            )
        return controls

    def _text(self, row: list[int]) -> str:
        cut = next((p for p, t in enumerate(row) if t in self.stop_ids), len(row))
        self.new_tokens += cut
        return cut_at_stop(self.tokenizer.decode(row[:cut], skip_special_tokens=True), self.decoding.stop)
