"""LiveCodeBench's prompt for chat models: its system message, the question, then the format instruction
(stdin/stdout problems) or the starter code (call-based problems). Kept word for word so scores compare."""

from __future__ import annotations

from codetune.bench.lcb import Problem

PROMPT_VERSION = 1  # bump when the prompts change, so studies evaluate their checkpoints afresh

SYSTEM_MESSAGE = (
    "You are an expert Python programmer. You will be given a question (problem specification) and will "
    "generate a correct Python program that matches the specification and passes all tests. You will NOT "
    "return anything except for the program."
)
FORMAT_WITH_STARTER_CODE = (
    "You will use the following starter code to write the solution to the problem and enclose your code "
    "within delimiters."
)
FORMAT_WITHOUT_STARTER_CODE = (
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on "
    "the sample inputs). Enclose your code within delimiters as follows."
)


def question_prompt(problem: Problem) -> str:
    text = f"### Question:\n{problem.question_content}\n\n"
    if problem.starter_code:
        text += f"### Format: {FORMAT_WITH_STARTER_CODE}\n```python\n{problem.starter_code}\n```\n\n"
    else:
        text += f"### Format: {FORMAT_WITHOUT_STARTER_CODE}\n```python\n# YOUR CODE HERE\n```\n\n"
    return text + "### Answer: (use the provided format with backticks)\n\n"


def build_messages(problem: Problem, system_prompt: str | None = None) -> list[dict]:
    """Chat messages for one problem; a run's system prompt goes in front of LiveCodeBench's."""
    system = f"{system_prompt.strip()}\n\n{SYSTEM_MESSAGE}" if system_prompt else SYSTEM_MESSAGE
    return [{"role": "system", "content": system}, {"role": "user", "content": question_prompt(problem)}]
