"""Prompts and extraction follow LiveCodeBench's, word for word and rule for rule.

The expected texts below quote lcb_runner/prompts/code_generation.py at LiveCodeBench commit
28fef95ea8c9f7a547c8329f2cd3d32b92c1fa24 (get_codeqwen_question_template_answer with
SYSTEM_MESSAGE_CODEQWEN, and get_generic_question_template_answer with SYSTEM_MESSAGE_GENERIC), with the
question left as a placeholder (the problem statements are read from tests/data/). The same cases are also
held to what LiveCodeBench's own functions returned, recorded in tests/data/livecodebench_verdicts.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codetune.bench.extract import extract_code
from codetune.bench.lcb import load_benchmark_file, parse_row
from codetune.bench.prompts import build_prompt, resolve_style
from codetune.config import load_config
from parity_cases import EXTRACTION_CASES

REPO = Path(__file__).resolve().parents[1]

# lcb_runner/prompts/code_generation.py @ 28fef95: LMStyle.CodeQwenInstruct, a stdin problem.
CODEQWEN_STDIN = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n\n"
    "You will be given a question (problem specification) and will generate a correct Python program that "
    "matches the specification and passes all tests. You will NOT return anything except for the program."
    "\n\nQuestion: {question}\n\n"
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the "
    "sample inputs). Enclose your code within delimiters as follows. Ensure that when the python program runs, "
    "it reads the inputs, runs the algorithm and writes output to STDOUT.\n"
    "```python\n# YOUR CODE HERE\n```\n\n<|im_end|>\n<|im_start|>assistant\n"
)
# Same file and commit: LMStyle.OpenAIChat (the generic chat messages), a problem with starter code.
GENERIC_SYSTEM = (
    "You are an expert Python programmer. You will be given a question (problem specification) and will "
    "generate a correct Python program that matches the specification and passes all tests."
)
GENERIC_USER_STARTER = (
    "### Question:\n{question}\n\n### Format: You will use the following starter code to write the solution "
    "to the problem and enclose your code within delimiters.\n```python\n{starter}\n```\n\n"
    "### Answer: (use the provided format with backticks)\n\n"
)
STARTER = "class Solution:\n    def f(self, x: int) -> int:\n        "


def _call_problem():
    return parse_row(
        {
            "question_id": "lc_f",
            "question_content": "Return x.",
            "platform": "leetcode",
            "starter_code": STARTER,
            "public_test_cases": json.dumps([{"input": "1", "output": "1", "testtype": "functional"}]),
            "metadata": json.dumps({"func_name": "f"}),
        }
    )


def test_seed_config_prompts_qwen_coder_with_livecodebench_codeqwen_text(shared_benchmark):
    cfg = load_config(REPO / "configs" / "seed-qwen2.5-coder-1.5b.yaml")
    style = resolve_style(cfg.benchmark.prompt_style, cfg.model.source)
    assert style == "codeqwen"
    assert not cfg.benchmark.use_system_prompt  # LiveCodeBench's prompt as it is, by default
    problem = load_benchmark_file(shared_benchmark)[0]
    prompt = build_prompt(problem, style, None)
    assert prompt.text == CODEQWEN_STDIN.format(question=problem.question_content)


def test_generic_style_is_livecodebench_chat_prompt():
    prompt = build_prompt(_call_problem(), "generic")
    assert prompt.text is None  # rendered with the model's own chat template
    assert prompt.messages == [
        {"role": "system", "content": GENERIC_SYSTEM},
        {"role": "user", "content": GENERIC_USER_STARTER.format(question="Return x.", starter=STARTER)},
    ]


def test_codeqwen_messages_render_to_its_text_under_chatml(tiny_model_dir, shared_benchmark):
    from transformers import AutoTokenizer

    from codetune.bench.generate import render_chat

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)  # ChatML, as Qwen2.5's template
    for problem in (load_benchmark_file(shared_benchmark)[3], _call_problem()):
        for system in (None, "Think first."):
            p = build_prompt(problem, "codeqwen", system)
            assert render_chat(tok, p.messages) == p.text


def test_run_system_prompt_combines_per_style():
    problem = _call_problem()
    generic = build_prompt(problem, "generic", "  Be brief.  ")
    assert generic.messages[0]["content"] == "Be brief.\n\n" + GENERIC_SYSTEM
    codeqwen = build_prompt(problem, "codeqwen", "Be brief.")
    assert codeqwen.text.startswith(
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n\nYou will be"
    )
    assert "You are a helpful assistant." not in codeqwen.text


@pytest.mark.parametrize(
    "source, style",
    [
        ("Qwen/Qwen2.5-Coder-1.5B-Instruct", "codeqwen"),  # not in LCB's list; its family is
        ("Qwen/Qwen2.5-Coder-7B-Instruct", "codeqwen"),
        ("Qwen/Qwen2.5-7B-Instruct", "codeqwen"),
        ("Qwen/Qwen2-72B-Instruct", "codeqwen"),
        ("Qwen/Qwen3-235B-A22B", "codeqwen"),
        ("/models/qwen2.5-coder-0.5b-instruct/", "codeqwen"),  # a local copy: its folder name
        ("Qwen/Qwen2.5-Coder-1.5B", "generic"),  # a base model
        ("Qwen/QwQ-32B", "generic"),  # LCB's QwQ style is not implemented
        ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "generic"),
        ("meta-llama/Llama-3.1-8B-Instruct", "generic"),  # LCB's LLaMa3: the chat prompt, model template
        ("smollm2-135m-instruct", "generic"),
        ("HuggingFaceTB/SmolLM2-1.7B-Instruct", "generic"),
    ],
)
def test_auto_prompt_style_by_model_family(source, style):
    assert resolve_style("auto", source) == style


def test_prompt_style_setting_overrides_the_family():
    assert resolve_style("generic", "Qwen/Qwen2.5-Coder-1.5B-Instruct") == "generic"
    assert resolve_style("codeqwen", "smollm2-135m-instruct") == "codeqwen"


# (answer, what LiveCodeBench's extract_code returns: None for its empty string from < 2 fence lines)


@pytest.mark.parametrize("case", list(EXTRACTION_CASES))
def test_lcb_extraction(case):
    answer, expected = EXTRACTION_CASES[case]
    assert extract_code(answer, "lcb") == expected


def test_lenient_extraction_is_the_older_rule():
    assert extract_code("print(6)", "lenient") == "print(6)\n"
    assert extract_code("```python\nprint(5)\nfor i in range(3):\n    print(i)\n", "lenient") == (
        "print(5)\nfor i in range(3):\n    print(i)\n"
    )
    assert extract_code("<think>```python\nprint(0)\n```</think>\nprint(4)", "lenient") == "print(4)\n"
    assert extract_code("```python\ndef f(:\n", "lenient") is None
    assert extract_code("```text\nnot code\n```", "lenient") is None


def test_against_livecodebench_s_recorded_prompts_and_extractions(shared_benchmark):
    """What LiveCodeBench's own functions gave (tests/data/livecodebench_verdicts.json, recorded by
    benchmarks/lcb_parity.py --cases --write-fixture): its prompts for the first problem, in both styles, and
    its extract_code on every case above (the expected column is written by hand; this checks it)."""
    fixture = json.loads((REPO / "tests" / "data" / "livecodebench_verdicts.json").read_text(encoding="utf-8"))
    prompts = fixture["prompts"]
    row = json.loads(shared_benchmark.read_text(encoding="utf-8").splitlines()[0])
    assert row["question_id"] == prompts["question_id"]
    problem = parse_row(row)
    assert build_prompt(problem, "codeqwen").text == prompts["codeqwen"]
    assert build_prompt(problem, "generic").messages == prompts["generic"]
    recorded = {s["name"]: s["code"] for s in fixture["sets"]["extraction"]}
    assert {k: expected or "" for k, (_, expected) in EXTRACTION_CASES.items()} == {
        k: recorded[f"lcb_{k}"] for k in EXTRACTION_CASES
    }
