import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer.main
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
    "export",
    "import",
    "prune",
    "doctor",
]


def _codetune(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "codetune", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    """Every registered command, as the words that name it (data's subcommands included)."""
    for name, cmd in group.commands.items():
        yield (*path, name), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*path, name))


COMMANDS = dict(_commands(typer.main.get_command(app)))


def _words(text: str) -> str:
    """Help text as words: rich wraps lines and draws boxes at the terminal's width."""
    return " ".join(text.replace("│", " ").split())


def _summary(cmd: click.Command) -> str:
    """A command's summary: its docstring's first paragraph, as words."""
    return _words((cmd.help or "").strip().split("\n\n")[0])


def test_no_command_is_lost():
    assert set(SUBCOMMANDS) <= {path[0] for path in COMMANDS}


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_every_command_s_help_explains_it_and_each_of_its_options(path):
    """A command's --help gives its summary (its docstring's first paragraph) and names every option and
    argument with a sentence of help: an option added without help= would show a bare name."""
    cmd = COMMANDS[path]
    res = runner.invoke(app, [*path, "--help"])
    assert res.exit_code == 0, res.output
    out = _words(res.output)
    assert len(_summary(cmd).split()) >= 4, f"{' '.join(path)}: no summary line in its docstring"
    assert _summary(cmd) in out
    for param in cmd.params:
        if param.name == "help":
            continue
        assert (param.help or "").strip(), f"{' '.join(path)}: {param.name} has no help text"
        if isinstance(param, click.Option):
            assert all(name in out for name in param.opts), (path, param.opts)
        assert _words(param.help.split(". ")[0]) in out, (path, param.name)


def test_the_top_level_help_lists_every_command_with_its_summary():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0, res.output
    out = _words(res.output)
    for path, cmd in COMMANDS.items():
        if len(path) == 1:
            assert f"{path[0]} {_summary(cmd)}" in out, path


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
