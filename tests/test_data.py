"""Dataset sources, splits by problem, and the profile, on fixtures in the Naholav CodeGen-*-5K schema."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from codetune.cli import app
from codetune.config import ColumnMapping, DatasetConfig
from codetune.data.builtin import builtin_instruction_rows
from codetune.data.profile import profile_dataset
from codetune.data.sources import load_rows, load_source, problem_hash
from codetune.data.splits import assign_splits, seeded_problem_split
from codetune.errors import CodetuneError
from helpers import naholav_row, shaped_rows, write_jsonl

runner = CliRunner()


# ------------------------------------------------------------------------------------------------ profile


def test_profile_numbers_are_exact(tmp_path):
    split_of = {0: "train", 1: "train", 2: "valid", 3: "test", 4: "train", 5: "valid", 6: "test"}.get
    f = write_jsonl(tmp_path / "d.jsonl", shaped_rows(split_of))
    prof = profile_dataset(DatasetConfig(source=str(f))).to_json()
    assert prof["rows"] == 19
    assert prof["unique_problems"] == 7
    assert prof["solutions_per_problem"] == {
        "min": 1,
        "median": 1,
        "max": 5,
        "mean": pytest.approx(19 / 7, abs=1e-3),
    }
    assert prof["problems_by_solution_count"] == {"1": 4, "5": 3}
    assert prof["splits"] == {"train": 11, "valid": 6, "test": 2}
    assert prof["split_problems"] == {"train": 3, "valid": 2, "test": 2}
    assert prof["cross_split_problems"] == 0
    assert prof["duplicate_rows"] == 0
    json.dumps(prof)  # JSON-able


def test_profile_counts_cross_split_leaks_and_duplicates(tmp_path):
    rows = shaped_rows()
    rows[1]["split"] = "valid"  # problem 0: solutions in train and valid
    rows[6]["split"] = "test"  # problem 1 too
    rows.append(dict(rows[0], id="dup"))  # an exact copy of problem 0's first solution
    f = write_jsonl(tmp_path / "d.jsonl", rows)
    prof = profile_dataset(DatasetConfig(source=str(f))).to_json()
    assert prof["cross_split_problems"] == 2
    assert {tuple(e["splits"]) for e in prof["cross_split_examples"]} == {
        ("train", "valid"),
        ("test", "train"),
    }
    assert prof["duplicate_rows"] == 1
    assert prof["duplicate_examples"][0]["copies"] == 2
    assert prof["duplicate_examples"][0]["where"] == ["p0-s0", "dup"]


def test_profile_token_lengths(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    f = write_jsonl(tmp_path / "d.jsonl", shaped_rows())
    prof = profile_dataset(DatasetConfig(source=str(f)), tokenizer=tok, max_length=60).to_json()
    ins, think = prof["tokens"]["instruction"], prof["tokens"]["think"]
    assert ins["rows"] == think["rows"] == 19
    assert ins["p50"] <= ins["p90"] <= ins["p99"] <= ins["max"]
    assert think["max"] > ins["max"]  # the reasoning adds tokens
    # Cross-check the count over max length against a direct measurement.
    chat = tok.apply_chat_template(
        [{"role": "user", "content": shaped_rows()[0]["input"]}, {"role": "assistant", "content": "x"}],
        tokenize=False,
    )
    assert len(tok(chat, add_special_tokens=False)["input_ids"]) < ins["max"]
    assert prof["rows_over_max_length"]["instruction"] == ins["over_max_length"]
    prof2 = profile_dataset(DatasetConfig(source=str(f)), tokenizer=tok, max_length=ins["max"] - 1).to_json()
    assert 1 <= prof2["rows_over_max_length"]["instruction"] <= 19
    prof3 = profile_dataset(DatasetConfig(source=str(f)), tokenizer=tok, max_length=ins["max"]).to_json()
    assert prof3["rows_over_max_length"]["instruction"] == 0


def test_profile_cli_json_and_tables(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", shaped_rows())
    res = runner.invoke(app, ["data", "profile", str(tmp_path / "d.jsonl"), "--json"])
    assert res.exit_code == 0, res.output
    prof = json.loads(res.stdout)
    assert prof["rows"] == 19 and prof["unique_problems"] == 7
    assert prof["solutions_per_problem"]["max"] == 5 and prof["splits"] == {"train": 19}
    res = runner.invoke(app, ["data", "profile", str(tmp_path / "d.jsonl")])
    assert res.exit_code == 0, res.output
    assert "unique problems" in res.output and "problems in more than one split: 0" in res.output


def test_profile_cli_with_tokenizer_dir(tmp_path, tiny_model_dir):
    write_jsonl(tmp_path / "d.jsonl", shaped_rows())
    args = ["data", "profile", str(tmp_path / "d.jsonl"), "--tokenizer", str(tiny_model_dir)]
    res = runner.invoke(app, [*args, "--max-length", "10", "--json"])
    assert res.exit_code == 0, res.output
    prof = json.loads(res.stdout)
    assert prof["max_length"] == 10 and prof["rows_over_max_length"]["instruction"] == 19
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "Token lengths" in res.output and "instruction" in res.output


# ------------------------------------------------------------------------------------------------ sources


def test_problem_id_ignores_whitespace_layout():
    assert problem_hash("Print  N.\n\nInput\nN") == problem_hash("Print N. Input N  ")
    assert problem_hash("Print N.") != problem_hash("Print M.")


def test_load_rows_normalises_columns(tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", shaped_rows())
    rows = load_rows(DatasetConfig(source=str(f)))
    assert len(rows) == 19
    r = rows[0]
    assert set(r) >= {"problem", "answer", "reasoning", "split", "problem_id", "id", "where"}
    assert r["answer"].startswith("n = int(input())") and r["reasoning"].startswith("<think>")
    assert r["split"] == "train" and r["id"] == "p0-s0" and r["where"].endswith("d.jsonl:1")


def test_column_mapping_and_other_formats(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"question": f"Q{i}", "code": f"print({i})"} for i in range(4)]
    cols = ColumnMapping(problem="question", answer="code", reasoning="none", split=None, id=None)
    (tmp_path / "d.json").write_text(json.dumps({"data": rows}))
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    for name in ("d.json", "d.parquet"):
        got = load_rows(
            DatasetConfig(source=name, columns=cols), base_dir=tmp_path, require=("problem", "answer")
        )
        assert [r["answer"] for r in got] == [f"print({i})" for i in range(4)]
        assert all(r["split"] is None and r["reasoning"] is None for r in got)


def test_dataset_folder_reads_through_datasets(tmp_path):
    """A downloaded hub snapshot (a folder of data files) loads like the hub dataset would."""
    (tmp_path / "snap").mkdir()
    write_jsonl(tmp_path / "snap" / "data.jsonl", shaped_rows())
    rows = load_rows(DatasetConfig(source="snap"), base_dir=tmp_path)
    assert len(rows) == 19 and rows[0]["id"] == "p0-s0" and rows[0]["where"] == f"{tmp_path / 'snap'} row 0"


def test_max_rows(tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", shaped_rows())
    assert len(load_rows(DatasetConfig(source=str(f), max_rows=4))) == 4


# ------------------------------------------------------------------------------------------------ bad input


def test_missing_column_names_column_source_and_columns_found(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "solution"} for r in shaped_rows()]
    f = write_jsonl(tmp_path / "d.jsonl", rows)
    with pytest.raises(CodetuneError) as e:
        load_rows(DatasetConfig(source=str(f)), require=("problem", "answer"))
    msg = str(e.value)
    assert "'solution'" in msg and str(f) in msg and "columns found: id, input, output" in msg


def test_broken_json_line_names_line(tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", shaped_rows())
    lines = f.read_text().splitlines(keepends=True)
    lines[4] = lines[4][:30] + "\n"  # line 5 cut short
    f.write_text("".join(lines))
    with pytest.raises(CodetuneError, match=r"d\.jsonl:5: broken JSON"):
        load_rows(DatasetConfig(source=str(f)))
    loaded = load_source(DatasetConfig(source=str(f), skip_bad_rows=True))
    assert loaded.skipped == 1 and len(loaded.rows) == 18


def test_non_utf8_line_names_line(tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", shaped_rows()[:3])
    with f.open("ab") as fh:
        fh.write(b'{"input": "caf\xe9", "solution": "x"}\n')
    with pytest.raises(CodetuneError, match=r"d\.jsonl:4: not UTF-8"):
        load_rows(DatasetConfig(source=str(f)))
    assert len(load_rows(DatasetConfig(source=str(f), skip_bad_rows=True))) == 3


def test_empty_value_is_a_bad_row(tmp_path):
    rows = shaped_rows()
    rows[2]["solution"] = "  "
    f = write_jsonl(tmp_path / "d.jsonl", rows)
    with pytest.raises(CodetuneError, match=r"d\.jsonl:3: empty or missing value in column 'solution'"):
        load_rows(DatasetConfig(source=str(f)), require=("problem", "answer"))
    assert (
        len(load_rows(DatasetConfig(source=str(f), skip_bad_rows=True), require=("problem", "answer"))) == 18
    )


def test_cli_skip_bad_rows_reports_count(tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", shaped_rows())
    with f.open("a") as fh:
        fh.write("{not json\n")
    res = runner.invoke(app, ["data", "profile", str(f), "--json"])
    assert res.exit_code != 0 and "d.jsonl:20: broken JSON" in str(res.exception)
    res = runner.invoke(app, ["data", "profile", str(f), "--json", "--skip-bad-rows"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["bad_rows_skipped"] == 1
    res = runner.invoke(app, ["data", "profile", str(f), "--skip-bad-rows"])
    assert "bad rows skipped" in res.output


def test_missing_file_and_unknown_builtin(tmp_path):
    with pytest.raises(CodetuneError, match="dataset file not found"):
        load_rows(DatasetConfig(source=str(tmp_path / "nope.jsonl")))
    with pytest.raises(CodetuneError, match="unknown built-in dataset 'builtin:wide'"):
        load_rows(DatasetConfig(source="builtin:wide"))
    (tmp_path / "d.csv").write_text("a,b\n")
    with pytest.raises(CodetuneError, match="unsupported dataset file type"):
        load_rows(DatasetConfig(source=str(tmp_path / "d.csv")))


# ------------------------------------------------------------------------------------------------ splits


def test_seeded_split_is_by_problem_and_deterministic(tmp_path):
    rows = []
    for p in range(40):
        for s in range(1 + p % 5):
            rows.append(naholav_row(p, s, split=None))
    f = write_jsonl(tmp_path / "d.jsonl", rows)
    ds = DatasetConfig(source=str(f))
    loaded = load_rows(ds)
    by_split = assign_splits(loaded, ds, seed=7)
    problems = {s: {r["problem_id"] for r in rs} for s, rs in by_split.items()}
    assert not problems["train"] & problems["valid"]
    assert not problems["train"] & problems["test"]
    assert not problems["valid"] & problems["test"]
    assert sum(len(v) for v in by_split.values()) == len(rows)
    assert len(problems["valid"]) == 2 and len(problems["test"]) == 2  # 5% of 40 problems each
    # Same seed, same split, whatever the row order; another seed, another split.
    again = assign_splits(list(reversed(loaded)), ds, seed=7)
    assert {s: {r["id"] for r in rs} for s, rs in again.items()} == {
        s: {r["id"] for r in rs} for s, rs in by_split.items()
    }
    other = assign_splits(loaded, ds, seed=8)
    assert {r["problem_id"] for r in other["valid"]} != problems["valid"]


def test_small_seeded_split_has_every_split():
    assignment = seeded_problem_split(
        [f"p{i}" for i in range(3)], {"train": 0.9, "valid": 0.05, "test": 0.05}, 0
    )
    assert sorted(assignment.values()) == ["test", "train", "valid"]


def test_profile_seeded_split_has_no_cross_split(tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", shaped_rows(with_split=False) * 3)  # 3 copies of every row
    prof = profile_dataset(DatasetConfig(source=str(f)), seed=1).to_json()
    assert prof["split_from"].startswith("seeded by problem")
    assert prof["cross_split_problems"] == 0
    assert sum(prof["split_problems"].values()) == 7
    assert prof["duplicate_rows"] == 38


def test_unknown_split_value_is_an_error(tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", shaped_rows(lambda p: "validation" if p == 2 else "train"))
    ds = DatasetConfig(source=str(f))
    with pytest.raises(CodetuneError, match="'validation' that map to no split"):
        assign_splits(load_rows(ds), ds, seed=0)
    ds = DatasetConfig(source=str(f), split_names={"train": "train", "valid": "validation", "test": "test"})
    assert len(assign_splits(load_rows(ds), ds, seed=0)["valid"]) == 5


# ------------------------------------------------------------------------------------------------ built-in


@pytest.mark.parametrize("variant", ["deep", "diverse"])
def test_builtin_profile_matches_its_rows(variant):
    rows = builtin_instruction_rows(variant, seed=42)
    prof = profile_dataset(DatasetConfig(source=f"builtin:{variant}"), seed=42).to_json()
    assert prof["rows"] == len(rows)
    assert prof["unique_problems"] == len({problem_hash(r["input"]) for r in rows})
    assert prof["splits"] == {s: sum(r["split"] == s for r in rows) for s in ("train", "valid", "test")}
    assert prof["cross_split_problems"] == 0
    assert prof["duplicate_rows"] == 0
    if variant == "diverse":  # several genuinely different solutions per problem
        assert prof["solutions_per_problem"]["min"] >= 2
