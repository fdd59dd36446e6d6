"""Where a study keeps its files. Every stage reads and writes through these paths, so they agree.

OUTPUT_DIR/
  config.yaml                       the resolved config the study ran with
  data/<run>/profile.json           dataset profile (codetune data profile --json)
  runs/<run>/                       RUN_DIR
    metrics.jsonl                   one line per eval step: step, epoch, train_loss, val_loss, test_loss,
                                    learning_rate, tokens_seen, wall_time
    summary.json                    best val/test step and loss, final losses, overfitting signal
    loss.png
    checkpoints/checkpoint-step-S-epoch-E/
                                    adapter_config.json + adapter_model.safetensors (PEFT) and resume state
    eval/<checkpoint-name>/         one folder per evaluated checkpoint
      prompts.jsonl                 the exact prompt per problem
      generations.json              LiveCodeBench custom-output layout: [{"question_id", "code_list",
                                    "output_list"}]
      scores.json                   LiveCodeBench eval-all layout: [{"question_id", "code_list",
                                    "graded_list", "pass@1", "verdicts", ...}]
      summary.json                  {"model", "pass@1", "pass@k": {...}, "solved", "total", ...}
  eval/base/                        the base model, same files as a checkpoint's eval folder
  selection.json                    best checkpoint per run
  compare/                          answers.json and metrics.json of the behaviour comparison
  report.html, report.md
"""

from __future__ import annotations

import re
from pathlib import Path

BASE_MODEL_NAME = "base"
_CKPT = re.compile(r"^checkpoint-step-(\d+)-epoch-(\d+)$")


def checkpoint_name(step: int, epoch: int) -> str:
    """`checkpoint-step-540-epoch-0`: the step, and the zero-based epoch that step falls in."""
    return f"checkpoint-step-{step}-epoch-{epoch}"


def parse_checkpoint_name(name: str) -> tuple[int, int] | None:
    """(step, epoch) of a checkpoint folder name, or None for anything else (temporary folders included)."""
    m = _CKPT.match(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def run_dir(output_dir: Path, run: str) -> Path:
    return Path(output_dir) / "runs" / run


def checkpoints_dir(run_dir_: Path) -> Path:
    return Path(run_dir_) / "checkpoints"


def list_checkpoints(run_dir_: Path) -> list[Path]:
    """Complete checkpoints of a run, by step (temporary, half-written folders never match the name)."""
    d = checkpoints_dir(run_dir_)
    if not d.is_dir():
        return []
    found = [(parse_checkpoint_name(p.name), p) for p in d.iterdir() if p.is_dir()]
    return [p for key, p in sorted((k, p) for k, p in found if k is not None)]


def eval_dir(run_dir_: Path, checkpoint: str) -> Path:
    return Path(run_dir_) / "eval" / checkpoint


def base_eval_dir(output_dir: Path) -> Path:
    return Path(output_dir) / "eval" / BASE_MODEL_NAME


def data_profile_path(output_dir: Path, run: str) -> Path:
    return Path(output_dir) / "data" / run / "profile.json"
