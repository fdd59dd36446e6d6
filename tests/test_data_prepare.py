"""Chat formatting, completion-only labels, max-length handling and what training receives."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from codetune.config import parse_config
from codetune.data.formatting import IGNORE_INDEX, encode_conversations, fenced_code
from codetune.errors import CodetuneError
from helpers import naholav_row, prepare_study_run, shaped_rows, write_jsonl

SYSTEM = "You are an expert Python programmer."
SPLIT_OF = {0: "train", 1: "train", 2: "valid", 3: "test", 4: "train", 5: "valid", 6: "test"}.get


@pytest.fixture(scope="module")
def tiny_tok(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def study(tmp_path: Path, rows: list[dict], **run) -> object:
    write_jsonl(tmp_path / "d.jsonl", rows)
    training = run.pop("training", {})
    cfg = parse_config(
        {
            "runs": {"r": {"dataset": {"source": "d.jsonl", **run.pop("dataset", {})}, **run}},
            "training": training,
        }
    )
    cfg._path = tmp_path / "study.yaml"  # relative dataset paths resolve against the config's folder
    return cfg


def answer_tokens(tok, row) -> str:
    return tok.decode([t for t in row["labels"] if t != IGNORE_INDEX])


def expected_answer(row_id: str, mode: str) -> str:
    """What the model must learn for test_data.naholav_row's row `p{problem}-s{solution}`, written out by
    hand (not by codetune's formatting): the fenced solution, after the reasoning in think mode."""
    problem, solution = re.fullmatch(r"p(\d+)-s(\d+)", row_id).groups()
    code = f"```python\nn = int(input())\nprint(n * {problem} + {solution})\n```"
    return f"<think>\nMultiply by {problem}.\n</think>\n{code}" if mode == "think" else code


def check_labels(tok, data, mode: str, source_rows: list[dict]) -> None:
    """Every train row: the unmasked labels decode to exactly the assistant answer plus the end token."""
    train_rows = [r for r in source_rows if r["split"] == "train"]
    assert len(data.train) == len(train_rows)
    for row, src in zip(data.train, train_rows, strict=True):
        assert answer_tokens(tok, row) == expected_answer(src["id"], mode) + tok.eos_token
        assert len(row["input_ids"]) == len(row["labels"]) == len(row["attention_mask"]) == row["length"]
        # Everything before the answer is masked, the answer is one contiguous span at the end.
        first = next(i for i, t in enumerate(row["labels"]) if t != IGNORE_INDEX)
        assert all(t == IGNORE_INDEX for t in row["labels"][:first])
        span = [i for i, t in enumerate(row["labels"]) if t != IGNORE_INDEX]
        assert span == list(range(span[0], span[-1] + 1))
        assert [row["input_ids"][i] for i in span] == [row["labels"][i] for i in span]


@pytest.mark.parametrize("mode", ["instruction", "think"])
def test_labels_are_exactly_the_answer_and_end_token(tmp_path, tiny_tok, mode):
    rows = shaped_rows(SPLIT_OF)
    cfg = study(tmp_path, rows, mode=mode, system_prompt=SYSTEM)
    data = prepare_study_run(cfg, "r", tiny_tok)
    check_labels(tiny_tok, data, mode, rows)
    full = tiny_tok.decode(data.train[0]["input_ids"])
    assert full.startswith(f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\nProblem 0")
    # The template's trailing newline after <|im_end|> is in the input but not in the labels.
    assert full.endswith("<|im_end|>\n")
    s = data.stats
    assert (s["train"]["rows"], s["valid"]["rows"], s["test"]["rows"]) == (11, 6, 2)
    assert s["train"]["label_tokens"] == sum(
        sum(1 for t in r if t != IGNORE_INDEX) for r in data.train["labels"]
    )
    assert s["train"]["tokens"] == sum(data.train["length"])


def test_instruction_answer_is_fenced_python():
    assert fenced_code("print(1)\n") == "```python\nprint(1)\n```"
    assert fenced_code("```python\nprint(1)\n```\n") == "```python\nprint(1)\n```"


@pytest.mark.slow  # converts the embedded model once per session
@pytest.mark.parametrize("mode", ["instruction", "think"])
def test_labels_with_real_smollm2_tokenizer(tmp_path, mode, smollm2_dir):
    """SmolLM2 uses eos as pad and inserts a default system prompt: labels must still be exact."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    tok.pad_token = tok.eos_token  # as codetune.models.load_tokenizer does
    rows = shaped_rows(SPLIT_OF)
    for system in (SYSTEM, None):
        data = prepare_study_run(study(tmp_path, rows, mode=mode, system_prompt=system), "r", tok)
        check_labels(tok, data, mode, rows)


def test_overlong_rows_dropped_or_truncated_and_counted(tmp_path, tiny_tok):
    rows = shaped_rows(SPLIT_OF)
    long_code = "\n".join(f"print({i} * {i})" for i in range(60))
    for r in rows:
        if r["id"] in ("p0-s1", "p1-s3", "p5-s0"):  # two train rows, one valid row
            r["solution"] = long_code
    cfg = study(tmp_path, rows, mode="instruction", training={"max_seq_length": 120})
    data = prepare_study_run(cfg, "r", tiny_tok)
    st = data.stats
    assert (st["train"]["dropped_overlong"], st["train"]["kept"], st["train"]["truncated"]) == (2, 9, 0)
    assert (st["valid"]["dropped_overlong"], st["valid"]["kept"]) == (1, 5)
    assert st["test"]["dropped_overlong"] == 0
    assert max(data.train["length"]) <= 120

    cfg = study(tmp_path, rows, mode="instruction", training={"max_seq_length": 120, "overlong": "truncate"})
    data = prepare_study_run(cfg, "r", tiny_tok)
    st = data.stats
    assert (st["train"]["truncated"], st["train"]["kept"], st["train"]["dropped_overlong"]) == (2, 11, 0)
    assert st["valid"]["truncated"] == 1
    truncated = [r for r in data.train if r["length"] == 120]
    assert len(truncated) == 2
    for r in truncated:
        text = answer_tokens(tiny_tok, r)
        assert text.startswith("```python\nprint(0 * 0)") and "<|im_end|>" not in text


def test_empty_split_after_filtering_names_split(tmp_path, tiny_tok):
    rows = shaped_rows(SPLIT_OF)
    for r in rows:
        if r["split"] == "test":
            r["solution"] = "\n".join(f"print({i})" for i in range(80))
    cfg = study(tmp_path, rows, training={"max_seq_length": 150})
    with pytest.raises(CodetuneError, match=r"the 'test' split is empty after filtering"):
        prepare_study_run(cfg, "r", tiny_tok)
    cfg = study(tmp_path, [r for r in rows if r["split"] != "valid"])
    with pytest.raises(CodetuneError, match=r"no rows in the 'valid' split"):
        prepare_study_run(cfg, "r", tiny_tok)


def test_missing_column_for_mode(tmp_path, tiny_tok):
    rows = [{k: v for k, v in r.items() if k != "output"} for r in shaped_rows(SPLIT_OF)]
    cfg = study(tmp_path, rows, mode="think")
    with pytest.raises(
        CodetuneError, match=r"required column 'output' \(reasoning\) not found.*columns found"
    ):
        prepare_study_run(cfg, "r", tiny_tok)
    # Instruction mode does not need it.
    assert len(prepare_study_run(study(tmp_path, rows), "r", tiny_tok).train) == 11


def test_seeded_split_when_no_split_column(tmp_path, tiny_tok):
    rows = [naholav_row(p, s, split=None) for p in range(20) for s in range(3)]
    data = prepare_study_run(study(tmp_path, rows, training={"seed": 3}), "r", tiny_tok)
    decoded = {
        name: {tiny_tok.decode(r["input_ids"]).split("Problem ")[1].split("\n")[0] for r in ds}
        for name, ds in (("train", data.train), ("valid", data.valid), ("test", data.test))
    }
    assert len(decoded["valid"]) == 1 and len(decoded["test"]) == 1 and len(decoded["train"]) == 18
    assert not (decoded["train"] & decoded["valid"]) and not (decoded["train"] & decoded["test"])
    assert (len(data.train), len(data.valid), len(data.test)) == (54, 3, 3)
    assert data.stats["source"]["split_from"].startswith("seeded by problem")


def test_leaking_split_column_is_repaired_and_counted(tmp_path, tiny_tok):
    rows = shaped_rows(SPLIT_OF)
    rows[1]["split"] = "valid"  # problem 0 (train) leaks one solution into valid
    cfg = study(tmp_path, rows)
    data = prepare_study_run(cfg, "r", tiny_tok)
    assert data.stats["source"]["cross_split_problems"] == 1
    assert data.stats["source"]["dropped_cross_split"] == 1
    assert (len(data.train), len(data.valid)) == (10, 6)
    with pytest.raises(CodetuneError, match="1 problems appear in more than one split"):
        prepare_study_run(study(tmp_path, rows, dataset={"cross_split": "error"}), "r", tiny_tok)
    kept = prepare_study_run(study(tmp_path, rows, dataset={"cross_split": "keep"}), "r", tiny_tok)
    assert len(kept.valid) == 7


def test_template_that_rewrites_the_answer_is_an_error(tiny_tok):
    tok = tiny_tok.__class__.from_pretrained(tiny_tok.name_or_path)
    tok.chat_template = tok.chat_template.replace("message['content']", "message['content'] | trim")
    with pytest.raises(CodetuneError, match="changes the assistant answer"):
        encode_conversations(tok, ["Problem"], ["  padded answer"], None)
    tok.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    with pytest.raises(CodetuneError, match="no end-of-turn token"):
        encode_conversations(tok, ["Problem"], ["answer"], None)


def test_no_chat_template_is_an_error(tiny_tok):
    tok = tiny_tok.__class__.from_pretrained(tiny_tok.name_or_path)
    tok.chat_template = None
    with pytest.raises(CodetuneError, match="has no chat template"):
        encode_conversations(tok, ["Problem"], ["answer"], None)


def test_prepare_bad_json_line(tmp_path, tiny_tok):
    cfg = study(tmp_path, shaped_rows(SPLIT_OF))
    with (tmp_path / "d.jsonl").open("a") as fh:
        fh.write('{"input": "x", \n')
    with pytest.raises(CodetuneError, match=r"d\.jsonl:20: broken JSON"):
        prepare_study_run(cfg, "r", tiny_tok)
    cfg.runs["r"].dataset.skip_bad_rows = True
    data = prepare_study_run(cfg, "r", tiny_tok)
    assert data.stats["source"]["bad_rows_skipped"] == 1
    json.dumps(data.stats)


def test_prepare_builtin_deep(tiny_tok):
    from codetune.data.builtin import builtin_instruction_rows

    cfg = parse_config({"runs": {"r": {"dataset": {"source": "builtin:deep"}}}, "training": {"seed": 42}})
    data = prepare_study_run(cfg, "r", tiny_tok)
    rows = builtin_instruction_rows("deep", seed=42)
    train = [r for r in rows if r["split"] == "train"]
    assert data.stats["train"]["rows"] == len(train) and data.stats["source"]["cross_split_problems"] == 0
    kept = data.stats["train"]["kept"]
    assert kept + data.stats["train"]["dropped_overlong"] == len(train)
    first = data.train[0]
    assert answer_tokens(tiny_tok, first) == fenced_code(train[0]["solution"]) + tiny_tok.eos_token
