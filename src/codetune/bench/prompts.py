"""LiveCodeBench's code-generation prompts, word for word, chosen by model family as LiveCodeBench chooses them.

Followed: lcb_runner/prompts/code_generation.py and lcb_runner/lm_styles.py at LiveCodeBench commit
28fef95ea8c9f7a547c8329f2cd3d32b92c1fa24 (2025-07-15). Two styles, for the families codetune supports:

- `generic`: its chat prompt (the OpenAIChat / LLaMa3 styles): system "You are an expert Python
  programmer. ...", user "### Question: ... ### Format: ... ### Answer: ...". Rendered with the model's own
  chat template, as LiveCodeBench renders its LLaMa3 style with the Llama 3 template.
- `codeqwen`: its CodeQwenInstruct style, a literal ChatML string: system "You are a helpful assistant.",
  the instructions and "Question: ..." in the user turn, then the assistant header. The text is used as it
  is, not re-rendered by the tokenizer (LiveCodeBench sends it so); the recorded messages render to the
  same text under a ChatML template (Qwen's, SmolLM2's).

`style="auto"` picks the style from the model id (the last part of `model.source`) as LiveCodeBench's model
list does: Qwen2 / Qwen2.5 / Qwen2.5-Coder instruct models and Qwen3 are CodeQwenInstruct there (listed
sizes 7B-72B; the same family at other sizes, such as the seed's Qwen2.5-Coder-1.5B-Instruct, which
LiveCodeBench does not list, gets the same style here). Every other model (SmolLM2, Llama, unknown ids)
gets the generic chat prompt: LiveCodeBench has no style for an unlisted id, and its chat prompt is the
one meant for any chat model. LiveCodeBench's other styles (DeepSeek, QwQ, R1, base-model few-shot) are
not implemented.

The run's system prompt (only with `benchmark.use_system_prompt`): `generic` puts it in front of
LiveCodeBench's system message, separated by a blank line (that message carries instructions, which stay);
`codeqwen` puts it in place of "You are a helpful assistant." (a persona line only: the instructions are
in the user turn and stay).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from codetune.bench.lcb import Problem

PROMPT_VERSION = 2  # bump when the prompts change, so studies evaluate their checkpoints afresh
LCB_COMMIT = "28fef95ea8c9f7a547c8329f2cd3d32b92c1fa24"
PromptStyle = Literal["generic", "codeqwen"]
STYLE_NAMES: dict[str, str] = {"generic": "generic chat", "codeqwen": "CodeQwenInstruct"}

SYSTEM_MESSAGE_GENERIC = (
    "You are an expert Python programmer. You will be given a question (problem specification) and will "
    "generate a correct Python program that matches the specification and passes all tests."
)
CODEQWEN_SYSTEM = "You are a helpful assistant."
CODEQWEN_INSTRUCTION = (
    "You will be given a question (problem specification) and will generate a correct Python program that "
    "matches the specification and passes all tests. You will NOT return anything except for the program."
)
FORMAT_WITH_STARTER_CODE = (
    "You will use the following starter code to write the solution to the problem and enclose your code "
    "within delimiters."
)
FORMAT_WITHOUT_STARTER_CODE = (
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on "
    "the sample inputs). Enclose your code within delimiters as follows. Ensure that when the python "
    "program runs, it reads the inputs, runs the algorithm and writes output to STDOUT."
)

# Model ids (lower-cased, without the owner) LiveCodeBench's list gives its CodeQwenInstruct style.
_CODEQWEN_IDS = re.compile(r"^(qwen2(\.5)?-(coder-)?[\d.]+b-instruct|qwen3-)")


@dataclass(frozen=True)
class Prompt:
    """One problem's prompt: the conversation, and the literal text when the style fixes it (codeqwen).

    `text` None means: render `messages` with the model's chat template."""

    style: PromptStyle
    messages: list[dict]
    text: str | None = None


def resolve_style(setting: str, model_source: str) -> PromptStyle:
    """`benchmark.prompt_style` -> the style used: auto picks by model family (see the module docstring)."""
    if setting in STYLE_NAMES:
        return setting  # type: ignore[return-value]
    if setting != "auto":
        raise ValueError(f"unknown prompt style {setting!r}; expected auto, {', '.join(STYLE_NAMES)}")
    name = model_source.rstrip("/").rsplit("/", 1)[-1].lower()
    return "codeqwen" if _CODEQWEN_IDS.match(name) else "generic"


def _code_block(problem: Problem) -> str:
    body = problem.starter_code if problem.starter_code else "# YOUR CODE HERE"
    return f"```python\n{body}\n```\n\n"


def generic_question(problem: Problem) -> str:
    """The user turn of LiveCodeBench's chat prompt (its get_generic_question_template_answer)."""
    fmt = FORMAT_WITH_STARTER_CODE if problem.starter_code else FORMAT_WITHOUT_STARTER_CODE
    return (
        f"### Question:\n{problem.question_content}\n\n### Format: {fmt}\n{_code_block(problem)}"
        "### Answer: (use the provided format with backticks)\n\n"
    )


def codeqwen_question(problem: Problem) -> str:
    """The user turn of the CodeQwenInstruct style (from its get_codeqwen_question_template_answer)."""
    fmt = FORMAT_WITH_STARTER_CODE if problem.starter_code else FORMAT_WITHOUT_STARTER_CODE
    # The leading newline: the style writes "<|im_start|>user\n\n" where ChatML has "<|im_start|>user\n".
    return (
        f"\n{CODEQWEN_INSTRUCTION}\n\nQuestion: {problem.question_content}\n\n{fmt}\n{_code_block(problem)}"
    )


def build_prompt(problem: Problem, style: PromptStyle, system_prompt: str | None = None) -> Prompt:
    """The prompt for one problem; `system_prompt` (the run's, when asked for) combines as documented above."""
    if style == "generic":
        system = SYSTEM_MESSAGE_GENERIC
        if system_prompt:
            system = f"{system_prompt.strip()}\n\n{system}"
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": generic_question(problem)},
        ]
        return Prompt(style, messages)
    if style == "codeqwen":
        system = system_prompt.strip() if system_prompt else CODEQWEN_SYSTEM
        user = codeqwen_question(problem)
        text = (
            f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
            "<|im_start|>assistant\n"
        )
        return Prompt(style, [{"role": "system", "content": system}, {"role": "user", "content": user}], text)
    raise ValueError(f"unknown prompt style {style!r}")
