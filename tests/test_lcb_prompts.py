"""Prompts and extraction follow LiveCodeBench's, word for word and rule for rule.

The expected texts below quote lcb_runner/prompts/code_generation.py at LiveCodeBench commit
28fef95ea8c9f7a547c8329f2cd3d32b92c1fa24 (get_codeqwen_question_template_answer with
SYSTEM_MESSAGE_CODEQWEN, and get_generic_question_template_answer with SYSTEM_MESSAGE_GENERIC), with the
question left as a placeholder (the problem statements are read from tests/data/). With
CODETUNE_LCB_CHECKOUT pointing at a checkout, the same cases are also checked against its own functions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codetune.bench.extract import extract_code
from codetune.bench.lcb import load_benchmark_file, parse_row
from codetune.bench.prompts import build_prompt, resolve_style
from codetune.config import load_config

REPO = Path(__file__).resolve().parents[1]
LCB = os.environ.get("CODETUNE_LCB_CHECKOUT")
needs_lcb = pytest.mark.skipif(not LCB, reason="set CODETUNE_LCB_CHECKOUT to a LiveCodeBench checkout")

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
EXTRACTION_CASES = {
    "no_fence": ("print(1)\n", None),
    "prose_only": ("The answer is to add the numbers.", None),
    "empty": ("", None),
    "one_fence_unclosed": ("Here:\n```python\nprint(1)\n", None),
    "one_block": ("```python\nprint(1)\n```\n", "print(1)"),
    "untagged": ("```\nx = 1\nprint(x)\n```", "x = 1\nprint(x)"),
    "py_tag": ("```py\nprint(3)\n```", "print(3)"),
    "any_tag_counts": ("```python\nprint(3)\n```\n```text\nnot code\n```", "not code"),
    "tilde_is_not_a_fence": ("~~~python\nprint(1)\n~~~\n", None),
    "draft_then_corrected": ("```python\nprint(1)\n```\nBetter:\n```python\nprint(2)\n```\n", "print(2)"),
    "nested_fences": ("````markdown\n```python\nprint(1)\n```\n````\n", ""),
    "fence_inside_string": ("```python\nf = '```'\nprint(f)\n```\n", "print(f)"),
    "inline_fences_on_prose_line": ("Use ```x``` here.\n```python\nprint(1)\n```", "print(1)"),
    "think_before": ("<think>\n```python\nprint(0)\n```\n</think>\n```python\nprint(4)\n```", "print(4)"),
    "block_only_inside_think": ("<think>\n```python\nprint(0)\n```\n</think>\nDone.", "print(0)"),
    "think_after": ("```python\nprint(4)\n```\n<think>\nok\n</think>", "print(4)"),
    "think_same_line": ("<think>```python\nprint(0)\n```</think>\n```python\nprint(4)\n```", "print(4)"),
    "crlf": ("```python\r\nprint(1)\r\nprint(2)\r\n```\r\n", "print(1)\r\nprint(2)\r"),
    "indented_fences": ("  ```python\n  print(1)\n  ```", "  print(1)"),
    "indentation_kept": ("```python\nif x:\n    y()\n\n\n```", "if x:\n    y()\n\n"),
    "text_on_fence_lines": ("Code: ```python print(0)\nprint(1)\n``` done", "print(1)"),
    "empty_block": ("```python\n```", ""),
    "three_fence_lines": ("```python\nprint(1)\n```\n```\n", ""),
}


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


_LCB_SIDE = r"""
import json, sys, types
from pathlib import Path
lcb = sys.argv[1]
sys.path.insert(0, lcb)
for pkg in ("lcb_runner", "lcb_runner.utils", "lcb_runner.prompts", "lcb_runner.benchmarks"):
    m = types.ModuleType(pkg); m.__path__ = [str(Path(lcb, *pkg.split(".")))]; sys.modules[pkg] = m
from lcb_runner.lm_styles import LMStyle
from lcb_runner.utils.extraction_utils import extract_code
job = json.loads(sys.stdin.read())
out = {"extract": {k: extract_code(a, LMStyle.CodeQwenInstruct) for k, a in job["answers"].items()}}
from lcb_runner.benchmarks.code_generation import CodeGenerationProblem
from lcb_runner.prompts.code_generation import format_prompt_generation
p = CodeGenerationProblem(**job["row"])
out["codeqwen"] = format_prompt_generation(p, LMStyle.CodeQwenInstruct)
out["generic"] = format_prompt_generation(p, LMStyle.OpenAIChat)
print(json.dumps(out))
"""


@needs_lcb
def test_against_the_livecodebench_checkout(shared_benchmark):
    row = json.loads(shared_benchmark.read_text(encoding="utf-8").splitlines()[0])
    # The shared file has a null date and "" for no private tests; LCB's loader needs a date and JSON.
    row.update(contest_date="2024-08-03T00:00:00", private_test_cases="[]")
    job = {"answers": {k: a for k, (a, _) in EXTRACTION_CASES.items()}, "row": row}
    res = subprocess.run(
        [sys.executable, "-c", _LCB_SIDE, LCB], input=json.dumps(job), capture_output=True, text=True, cwd=LCB
    )
    assert res.returncode == 0, res.stderr
    lcb = json.loads(res.stdout)
    ours = {k: extract_code(a, "lcb") or "" for k, (a, _) in EXTRACTION_CASES.items()}
    assert ours == lcb["extract"]
    problem = parse_row(row)
    assert build_prompt(problem, "codeqwen").text == lcb["codeqwen"]
    assert build_prompt(problem, "generic").messages == lcb["generic"]
