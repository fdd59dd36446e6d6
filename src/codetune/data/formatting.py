"""Chat messages and tokenization with completion-only labels.

A row becomes [system?, user = problem, assistant = answer], rendered with the tokenizer's own chat
template. The loss is taken only on the assistant answer and the end-of-turn token that follows it: the
labels are -100 everywhere else. The answer's span is found by rendering the prompt alone (with the
generation prompt) and the prompt followed by the answer, and checking that each is a prefix of the full
conversation, in text and in tokens. A template that breaks that (one that rewrites the answer, or whose
tokens merge across the boundary) is an error, never a silently mis-masked label. The end token is whatever
token the template puts right after the answer (ChatML's <|im_end|>, Llama 3's <|eot_id|>), not pad/eos ids
guessed from the tokenizer, which often alias each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from codetune.errors import CodetuneError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

IGNORE_INDEX = -100
# Bump when what training sees changes: chat formatting, label masking, collation (train.collate), packing.
TRAINING_INPUT_VERSION = 1
Mode = Literal["instruction", "think"]


def fenced_code(code: str) -> str:
    """Code in a ```python block; code that is already fenced is kept as it is."""
    code = code.strip("\n")
    if code.lstrip().startswith("```"):
        return code.strip()
    return f"```python\n{code}\n```"


def assistant_text(row: dict[str, Any], mode: Mode) -> str:
    """What the model learns to answer: fenced code (instruction) or the reasoning then code (think)."""
    if mode == "instruction":
        return fenced_code(row["answer"])
    # The reasoning column (Naholav's `output`) already holds <think>...</think> followed by the solution.
    return row["reasoning"].strip()


def chat_messages(problem: str, answer: str | None, system_prompt: str | None) -> list[dict[str, str]]:
    msgs = []
    if system_prompt:
        msgs.append({"role": "system", "content": system_prompt})
    msgs.append({"role": "user", "content": problem})
    if answer is not None:
        msgs.append({"role": "assistant", "content": answer})
    return msgs


def render_chat(tokenizer: PreTrainedTokenizerBase, messages: list[dict], *, generation_prompt: bool) -> str:
    if not getattr(tokenizer, "chat_template", None):
        raise CodetuneError(
            f"tokenizer {getattr(tokenizer, 'name_or_path', '')!r} has no chat template; "
            "use an instruct/chat model or a tokenizer that defines one"
        )
    # transformers types every `tokenize` setting's result as one union; with tokenize=False it is the text
    return tokenizer.apply_chat_template(  # type: ignore[return-value]
        messages, tokenize=False, add_generation_prompt=generation_prompt
    )


@dataclass
class Encoded:
    """One conversation in tokens; the label span is [label_start, label_end) (answer + end token)."""

    input_ids: list[int]
    label_start: int
    label_end: int

    def labels(self) -> list[int]:
        ids, a, b = self.input_ids, self.label_start, self.label_end
        return [IGNORE_INDEX] * a + ids[a:b] + [IGNORE_INDEX] * (len(ids) - b)


def encode_conversations(
    tokenizer: PreTrainedTokenizerBase,
    problems: list[str],
    answers: list[str],
    system_prompt: str | None,
    *,
    where: list[str] | None = None,
    on_progress: Callable[[int], None] | None = None,
    batch_size: int = 256,
) -> list[Encoded]:
    """Tokenize conversations (in batches) and locate each answer's label span; no truncation here.

    The prompt's tokens must be a prefix of the conversation's (what generation sees is what training
    saw). The answer's end is found from the conversation's character offsets, one tokenizer pass,
    and checked: a token straddling the answer's end, or an end token not starting right after the
    answer, is an error. `on_progress(n)` is called after each batch of n rows.
    """
    out: list[Encoded] = []
    for lo in range(0, len(problems), batch_size):
        hi = min(lo + batch_size, len(problems))
        rows = where[lo:hi] if where else [f"row {i}" for i in range(lo, hi)]
        out.extend(_encode_batch(tokenizer, problems[lo:hi], answers[lo:hi], system_prompt, rows))
        if on_progress is not None:
            on_progress(hi - lo)
    return out


def _encode_batch(
    tokenizer: PreTrainedTokenizerBase,
    problems: list[str],
    answers: list[str],
    system_prompt: str | None,
    rows: list[str],
) -> list[Encoded]:
    prompts, fulls = [], []
    for row, problem, answer in zip(rows, problems, answers, strict=True):
        prompt = render_chat(tokenizer, chat_messages(problem, None, system_prompt), generation_prompt=True)
        full = render_chat(tokenizer, chat_messages(problem, answer, system_prompt), generation_prompt=False)
        if not full.startswith(prompt):
            raise CodetuneError(
                f"{row}: the chat template's prompt (add_generation_prompt=True) is not a prefix of the "
                "rendered conversation, so the answer's tokens cannot be located for completion-only labels"
            )
        if not full[len(prompt) :].startswith(answer):
            raise CodetuneError(
                f"{row}: the chat template changes the assistant answer when rendering it (e.g. strips "
                "or rewrites it), so its tokens cannot be masked exactly"
            )
        prompts.append(prompt)
        fulls.append(full)

    # The rendered template already holds any BOS it wants; adding special tokens would double it.
    prompt_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    fast = getattr(tokenizer, "is_fast", False)
    enc = tokenizer(fulls, add_special_tokens=False, return_offsets_mapping=fast)
    if not fast:  # slow tokenizers have no offsets: tokenize prompt + answer to find the answer's end
        prefix_ids = tokenizer(
            [p + a for p, a in zip(prompts, answers, strict=True)], add_special_tokens=False
        )["input_ids"]

    out = []
    for i, (row, p, f) in enumerate(zip(rows, prompt_ids, enc["input_ids"], strict=True)):
        if f[: len(p)] != p:
            raise CodetuneError(
                f"{row}: tokenizing the prompt alone and the whole conversation disagree at the answer's "
                "start (the template's tokens merge across it), so completion-only labels would be wrong"
            )
        answer_end = len(prompts[i]) + len(answers[i])  # character offset in the full text
        if fast:
            offsets = enc["offset_mapping"][i]
            c = len(p)
            while c < len(f) and offsets[c][1] <= answer_end:
                c += 1
            straddles = c < len(f) and offsets[c][0] != answer_end
        else:
            c = len(prefix_ids[i])
            straddles = f[:c] != prefix_ids[i]
        if c >= len(f):
            raise CodetuneError(
                f"{row}: the chat template puts no end-of-turn token after the assistant answer, so the model "
                "would never learn to stop"
            )
        if straddles:
            raise CodetuneError(
                f"{row}: a token spans the end of the assistant answer and the template's end-of-turn text, "
                "so the answer and its end token cannot be labelled exactly"
            )
        out.append(Encoded(input_ids=f, label_start=len(p), label_end=c + 1))
    return out
