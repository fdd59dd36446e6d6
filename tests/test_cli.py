import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codetune.cli import app

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()

SUBCOMMANDS = [
    "demo",
    "study",
    "data",
    "train",
    "eval",
    "bench",
    "fetch",
    "score",
    "select",
    "compare",
    "report",
    "compare-scores",
    "doctor",
]


def _codetune(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "codetune", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("cmd", SUBCOMMANDS)
def test_every_subcommand_has_help(cmd):
    res = runner.invoke(app, [cmd, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage" in res.output
    # The first line of each command's docstring is its help; it must say something real.
    assert len(res.output.split("Usage", 1)[1]) > 80


def test_dry_run_prints_plan_without_model():
    res = _codetune("study", "configs/seed-qwen2.5-coder-1.5b.yaml", "--dry-run")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "Qwen/Qwen2.5-Coder-1.5B-Instruct" in out
    assert "deep_instruction" in out and "Naholav/CodeGen-Diverse-5K" in out
    assert "release_v5" in out and "atcoder" in out and "2408-2502" in out


def test_dry_run_lists_checkpoints_when_steps_are_known(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(f'{{"input": "p{i}", "solution": "s", "split": "train"}}\n' for i in range(40)))
    cfg = tmp_path / "s.yaml"
    cfg.write_text(
        "training: {batch_size: 4, epochs: 2, save_every: 5}\nruns:\n  a:\n    dataset: {source: d.jsonl}\n"
    )
    res = _codetune("study", str(cfg), "--dry-run")
    assert res.returncode == 0, res.stderr
    # 40 rows / batch 4 = 10 steps per epoch, 2 epochs = 20 steps, a checkpoint every 5.
    assert "steps/epoch : 10" in res.stdout
    assert "total steps : 20" in res.stdout
    assert "checkpoint-step-5-epoch-0" in res.stdout and "checkpoint-step-20-epoch-1" in res.stdout


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, "config file not found"),
        ("runs: [\n", "YAML syntax error"),
        ("runs: {a: {dataset: {source: x}}}\nbogus: 1\n", "bogus: unknown key"),
    ],
)
def test_bad_config_is_one_line_exit_2(tmp_path, content, expected):
    cfg = tmp_path / "s.yaml"
    if content is not None:
        cfg.write_text(content)
    res = _codetune("study", str(cfg), "--dry-run")
    assert res.returncode == 2
    assert expected in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_debug_shows_traceback(tmp_path):
    res = _codetune("--debug", "study", str(tmp_path / "missing.yaml"), "--dry-run")
    assert res.returncode == 2
    assert "Traceback" in res.stderr


def test_python_dash_m_works():
    res = _codetune("--help")
    assert res.returncode == 0 and "codetune" in res.stdout


def test_set_override_error_is_one_line_naming_the_key():
    res = _codetune(
        "study", "configs/seed-qwen2.5-coder-1.5b.yaml", "--dry-run", "--set", "training.max_stepz=3"
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "training.max_stepz: unknown key (from --set training.max_stepz=3)" in lines[0]
    assert "seed-qwen2.5-coder-1.5b.yaml" in lines[0]


def test_set_overrides_show_in_the_dry_run_plan():
    res = _codetune(
        "study",
        "configs/demo.yaml",
        "--dry-run",
        "--set",
        "training.max_steps=7",
        "--set",
        "training.save_every=7",
    )
    assert res.returncode == 0, res.stderr
    assert "total steps : 7" in res.stdout and "checkpoint-step-7-epoch-0" in res.stdout
