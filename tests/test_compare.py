"""Behaviour metrics on hand-written answers (the seed report's two quoted answers) and compare's bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from codetune import render
from codetune.errors import CodetuneError
from codetune.records import AggregateMetrics
from codetune.study.behaviour import aggregate_metrics, answer_metrics, split_markdown
from codetune.study.compare import check_checkpoints, load_compare, read_prompts, run_compare, save_compare
from helpers import DEEP_BINARY_SEARCH, DIVERSE_DISTANCE, random_adapter


def test_deep_answer_explains_before_code():
    m = answer_metrics(DEEP_BINARY_SEARCH)
    assert m.explanation_before_code is True
    # The prose before the code: the opening paragraph and the four numbered steps, headers excluded.
    before = DEEP_BINARY_SEARCH.split("```")[0]
    prose = "\n".join(ln for ln in before.splitlines() if not ln.startswith("###")).strip()
    assert m.explanation_chars == len(prose) > 400
    assert m.explanation_words > 70
    assert m.headers == 2
    assert m.code_blocks == 1 and not m.unclosed_code_block
    assert m.python_blocks_parsed == 1 and m.python_blocks_unparsed == 0
    assert m.functions == ["binary_search"]
    assert m.libraries == [] and m.third_party_libraries == []
    assert m.answer_chars == len(DEEP_BINARY_SEARCH.strip())


def test_diverse_answer_libraries_from_unparsable_blocks():
    m = answer_metrics(DIVERSE_DISTANCE)
    assert m.explanation_before_code is True
    assert m.explanation_chars == len(DIVERSE_DISTANCE.splitlines()[0])
    assert m.headers == 2
    assert m.code_blocks == 2
    assert m.python_blocks_parsed == 0 and m.python_blocks_unparsed == 2
    assert m.libraries == ["math", "numpy"]
    assert m.third_party_libraries == ["numpy"]
    assert m.functions == ["distance_std", "distance_numpy"]


def test_code_first_answer_and_nested_import():
    text = "```python\ndef f(v):\n    import numpy as np\n    from os.path import join\n    return np.sum(v)\n```\nDone."
    m = answer_metrics(text)
    assert m.explanation_before_code is False and m.explanation_chars == 0
    assert m.libraries == ["numpy", "os"]
    assert m.functions == ["f"]


def test_header_only_before_code_is_not_an_explanation():
    m = answer_metrics("## Solution\n\n```python\nprint(1)\n```")
    assert m.explanation_before_code is False
    assert m.headers == 1


def test_no_code_and_truncated_code():
    m = answer_metrics("Just words, no code.")
    assert m.code_blocks == 0 and m.explanation_before_code is False
    assert m.explanation_chars == len("Just words, no code.")
    cut = answer_metrics("Here:\n```python\nimport sys\ndef g(")
    assert cut.code_blocks == 1 and cut.unclosed_code_block
    assert cut.libraries == ["sys"]  # the cut-off def does not count as a function
    assert cut.functions == []


def test_headers_inside_code_are_not_markdown_headers():
    prose, blocks = split_markdown("# Title\n```python\n# comment\nx = 1\n```\n## End")
    assert len(blocks) == 1 and blocks[0].code == "# comment\nx = 1"
    assert answer_metrics("# Title\n```python\n# comment\nx = 1\n```\n## End").headers == 2


def test_non_python_blocks_are_not_parsed():
    m = answer_metrics("Run:\n```bash\nimport foo\n```")
    assert m.code_blocks == 1 and m.libraries == [] and m.python_blocks_parsed == 0


def test_aggregate():
    agg = aggregate_metrics([answer_metrics(DEEP_BINARY_SEARCH), answer_metrics(DIVERSE_DISTANCE)])
    assert agg.answers == 2
    assert agg.explanation_before_code == 2
    assert agg.headers == 4 and agg.code_blocks == 3 and agg.functions == 3
    assert agg.libraries == {"math": 1, "numpy": 1}
    assert aggregate_metrics([]) == AggregateMetrics(answers=0)


def test_compare_checkpoints_side_by_side(tiny_model_dir, tmp_path):
    # Random adapters (non-zero B) that change the tiny model's greedy answers, each in its own way.
    a = random_adapter(tiny_model_dir, tmp_path / "deep" / "checkpoints" / "checkpoint-step-10-epoch-0", 1)
    b = random_adapter(tiny_model_dir, tmp_path / "diverse" / "checkpoints" / "checkpoint-step-10-epoch-0", 2)
    prompts = ["Explain binary search.", "Distance in three ways."]
    result = run_compare([a, b], prompts, max_new_tokens=6, include_base=True, system_prompt="Be brief.")
    names = [m.name for m in result.answers.models]
    assert names == ["base", "deep/checkpoint-step-10-epoch-0", "diverse/checkpoint-step-10-epoch-0"]
    # Each model answers with its own weights: an adapter left unapplied, or left applied to the next model,
    # would make two of these lists equal.
    base, deep, diverse = (m.answers for m in result.answers.models)
    for i in range(len(prompts)):
        assert len({base[i], deep[i], diverse[i]}) == 3, (base[i], deep[i], diverse[i])
    # A model's answers do not depend on the others compared beside it (greedy decoding is deterministic).
    alone = run_compare([b], prompts, max_new_tokens=6, include_base=False, system_prompt="Be brief.")
    assert [m.answers for m in alone.answers.models] == [diverse]
    for i, m in enumerate(result.answers.models):
        metrics = result.metrics.models[i]
        assert len(m.answers) == 2 and len(metrics.metrics) == 2
        assert metrics.metrics[0].answer_chars == len(m.answers[0].strip())
        assert metrics.aggregate.answers == 2
    assert result.answers.decoding.model_dump() == {"temperature": 0.0, "max_new_tokens": 6}
    assert result.answers.system_prompt == "Be brief."
    answers_path, metrics_path = save_compare(result, tmp_path / "cmp")
    saved = json.loads(answers_path.read_text())
    assert saved["prompts"] == prompts and saved["models"][1]["checkpoint"] == str(a)
    # The metrics on file are those of the answers on file, model by model.
    saved_metrics = json.loads(metrics_path.read_text())["models"]
    assert [[m["answer_chars"] for m in model["metrics"]] for model in saved_metrics] == [
        [len(a.strip()) for a in model["answers"]] for model in saved["models"]
    ]
    assert load_compare(tmp_path / "cmp") == result

    from rich.console import Console

    console = Console(record=True, width=150)
    render.comparison(console, result)
    out = console.export_text()
    assert "prompt 2" in out and "deep/checkpoint-step-10-epoch-0" in out and "explanation before code" in out


def test_missing_checkpoint_is_named(tmp_path):
    missing = tmp_path / "runs" / "deep" / "checkpoints" / "checkpoint-step-99-epoch-0"
    with pytest.raises(CodetuneError, match=f"checkpoint {missing} does not exist"):
        check_checkpoints([missing])
    not_adapter = tmp_path / "plain"
    not_adapter.mkdir()
    with pytest.raises(CodetuneError, match="no adapter_config.json"):
        check_checkpoints([not_adapter])


def test_compare_cli_missing_checkpoint_exits_2(tmp_path):
    missing = tmp_path / "nope"
    res = subprocess.run(
        [sys.executable, "-m", "codetune", "compare", "--checkpoint", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2
    assert f"checkpoint {missing} does not exist" in res.stderr
    assert "Traceback" not in res.stderr


def test_read_prompts(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("first\n\n  second  \n")
    assert read_prompts(f) == ["first", "second"]
    f.write_text("\n")
    with pytest.raises(CodetuneError, match="no prompts"):
        read_prompts(f)
    with pytest.raises(CodetuneError, match="does not exist"):
        read_prompts(tmp_path / "none.txt")
