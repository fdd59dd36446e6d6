"""`codetune study` end to end on the tiny random model: every stage writes its files, a re-run skips all
completed work, and a study interrupted after training continues from there."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from codetune.config import load_config
from codetune.study.layout import base_eval_dir, data_profile_path, eval_dir, list_checkpoints, run_dir
from codetune.study.pipeline import run_study
from codetune.study.report import overlap_path


def write_naholav_jsonl(path: Path, *, n_train: int, n_valid: int, n_test: int) -> None:
    """A small dataset in the Naholav CodeGen schema: id, input, output, solution, split."""
    rows = []
    for i in range(n_train + n_valid + n_test):
        split = "train" if i < n_train else "valid" if i < n_train + n_valid else "test"
        sol = f"n = int(input())\nprint(n * {i})\n"
        rows.append(
            {
                "id": f"p{i}",
                "input": f"Problem {i}: read n and print n times {i}.",
                "output": f"<think>multiply by {i}</think>\n```python\n{sol}```",
                "solution": sol,
                "split": split,
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _config(folder: Path, model_dir: Path, bench: Path) -> Path:
    write_naholav_jsonl(folder / "a.jsonl", n_train=16, n_valid=4, n_test=4)
    write_naholav_jsonl(folder / "b.jsonl", n_train=20, n_valid=4, n_test=4)
    doc = {
        "name": "tiny-pipeline",
        "output_dir": "out",
        "model": {"source": str(model_dir), "device": "cpu", "dtype": "float32"},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "training": {
            "max_steps": 4,
            "batch_size": 4,
            "eval_every": 2,
            "save_every": 2,
            "learning_rate": 1e-3,
            "max_seq_length": 256,
        },
        "runs": {
            "deep": {"dataset": {"source": "a.jsonl"}, "system_prompt": "You are a coder."},
            "diverse": {"dataset": {"source": "b.jsonl"}, "system_prompt": "You are a coder."},
        },
        "benchmark": {
            "source": str(bench),
            "release": None,
            "max_problems": 2,
            "timeout_s": 2.0,
            "generation": {"max_new_tokens": 8, "batch_size": 2},
        },
        "compare": {"prompts": ["Explain binary search."], "max_new_tokens": 8},
    }
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


@pytest.mark.slow
def test_study_runs_every_stage_then_skips_then_continues(tmp_path, tiny_model_dir, shared_benchmark, capsys):
    cfg = load_config(_config(tmp_path, tiny_model_dir, shared_benchmark))
    out = cfg.output_path
    console = Console(record=True, width=120)
    html, md = run_study(cfg, console)

    assert (out / "config.yaml").is_file() and (out / "environment.json").is_file()
    for run in ("deep", "diverse"):
        assert json.loads(data_profile_path(out, run).read_text())["rows"] > 0
        assert "possibly_seen" in json.loads(overlap_path(out, run).read_text())
        rdir = run_dir(out, run)
        assert (rdir / "summary.json").is_file()
        ckpts = list_checkpoints(rdir)
        assert [c.name for c in ckpts] == ["checkpoint-step-2-epoch-0", "checkpoint-step-4-epoch-0"] or len(
            ckpts
        ) == 2
        for c in ckpts:
            assert (eval_dir(rdir, c.name) / "summary.json").is_file()
    assert (base_eval_dir(out) / "summary.json").is_file()
    selection = json.loads((out / "selection.json").read_text())
    assert set(selection["runs"]) == {"deep", "diverse"}
    answers = json.loads((out / "compare" / "answers.json").read_text())
    assert [m["name"] for m in answers["models"]][0] == "base" and len(answers["models"]) == 3
    text = md.read_text()
    assert "## Behaviour comparison" in text and "No behaviour comparison yet" not in text
    assert "What is missing" not in text
    assert html.read_text().count("data:image/png;base64,") == 3

    # A second run finds everything complete: nothing is trained, evaluated or generated again.
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("summary.json")}
    stamps[out / "compare" / "answers.json"] = (out / "compare" / "answers.json").stat().st_mtime_ns
    capsys.readouterr()
    console = Console(record=True, width=120)
    run_study(cfg, console)
    log = console.export_text()
    assert "exists, skipped" in log and "complete: skipped" in log
    assert "already evaluated" in capsys.readouterr().out  # the evaluation stage's own messages
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())

    # Interrupted after training: evaluations, selection and comparison are gone; a re-run redoes only them.
    shutil.rmtree(eval_dir(run_dir(out, "diverse"), "checkpoint-step-4-epoch-0"))
    shutil.rmtree(out / "compare")
    (out / "selection.json").unlink()
    train_summary = run_dir(out, "deep") / "summary.json"
    before = train_summary.stat().st_mtime_ns
    run_study(cfg, Console(record=True, width=120))
    assert train_summary.stat().st_mtime_ns == before
    assert (eval_dir(run_dir(out, "diverse"), "checkpoint-step-4-epoch-0") / "summary.json").is_file()
    assert (out / "compare" / "answers.json").is_file() and (out / "selection.json").is_file()
