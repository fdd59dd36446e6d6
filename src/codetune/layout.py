"""Where every study file lives. This is the only module that spells a study file or folder name; every
stage reads and writes through these paths, so they agree. It imports nothing of codetune.

OUTPUT_DIR/
  config.yaml                         the latest config `codetune study` ran with (see configs/ and stages/)
  configs/<UTC time>-<hash>.yaml      every distinct config the study ran with, in time order
  environment.json                    where the study last ran: Python, platform, CPU/GPU, library versions
  .codetune.lock                      held while a process writes the folder
  stages/                             created first: a folder holding it is a study (holds_study). One record
                                      per stage (records.StageRecord): its fingerprint, the config
    profile/<run>.json                values it read and the content hashes of its inputs; a stage is done when
    overlap/<run>.json                its output exists and its record's fingerprint is the one the current
    train/<run>.json                  config and inputs give
    eval/base.json, eval/<run>/<checkpoint>.json
    selection.json, compare.json, report.json
  data/<run>/profile.json             dataset profile (records.DatasetProfile)
  data/<run>/overlap.json             benchmark problems possibly seen in the run's data (records.OverlapReport)
  runs/<run>/                         RUN_DIR
    metrics.jsonl                     one records.MetricsRow per eval step
    summary.json                      records.RunSummary, written last: training finished
    loss.png, tb/
    checkpoints/checkpoint-step-S-epoch-E/
                                      adapter_config.json + adapter_model.safetensors (PEFT), Trainer's resume
                                      state and codetune_state.json
    eval/<checkpoint-name>/           one folder per evaluated checkpoint, same files as eval/base/
  eval/base/                          the base model's evaluation:
    prompts.jsonl                     {"question_id", "messages", "prompt"}: the exact prompt per problem
    generations.json                  LiveCodeBench custom-output layout: [{"question_id", "code_list", ...}]
    scores.json                       LiveCodeBench eval-all layout plus verdicts (records.ScoreEntry)
    summary.json                      records.EvalSummary, written last: the evaluation is complete
    generations.partial.jsonl, scores.partial.jsonl
                                      work in progress, one line per finished problem (resume after a kill)
  selection.json                      best checkpoint per run (records.Selection)
  imported.json                       only in a study imported from LiveCodeBench answers files (records.ImportRecord)
  compare/answers.json, metrics.json  the behaviour comparison (records.CompareAnswers, CompareMetrics)
  report.html, report.md, report_assets/
"""

from __future__ import annotations

import re
from pathlib import Path

# ------------------------------------------------------------------------------------------- the study

CONFIG_FILE = "config.yaml"
CONFIG_HISTORY_DIR = "configs"
ENVIRONMENT_FILE = "environment.json"
LOCK_FILE = ".codetune.lock"
STAGES_DIR = "stages"


def config_path(output_dir: Path) -> Path:
    return Path(output_dir) / CONFIG_FILE


def config_history_path(output_dir: Path, stamp: str, digest: str) -> Path:
    """configs/<stamp>-<digest>.yaml: stamp is a sortable UTC time, digest the config's hash."""
    return Path(output_dir) / CONFIG_HISTORY_DIR / f"{stamp}-{digest}.yaml"


def config_history(output_dir: Path) -> list[Path]:
    """Every config the study ran with, oldest first."""
    d = Path(output_dir) / CONFIG_HISTORY_DIR
    return sorted(d.glob("*.yaml")) if d.is_dir() else []


def environment_path(output_dir: Path) -> Path:
    return Path(output_dir) / ENVIRONMENT_FILE


def lock_path(folder: Path) -> Path:
    """The lock file of a study or run folder."""
    return Path(folder) / LOCK_FILE


def stages_dir(output_dir: Path) -> Path:
    return Path(output_dir) / STAGES_DIR


def stage_record_path(output_dir: Path, stage: str, key: str | None = None) -> Path:
    """stages/<stage>.json, or stages/<stage>/<key>.json for a stage done per run or per model."""
    root = stages_dir(output_dir)
    return root / f"{stage}.json" if key is None else root / stage / f"{key}.json"


def stage_output(output_dir: Path, stage: str, key: str | None = None) -> Path:
    """The file whose presence means a stage's output is there (the last one it writes)."""
    out = Path(output_dir)
    if stage == "profile":
        assert key is not None  # per run
        return profile_path(out, key)
    if stage == "overlap":
        assert key is not None  # per run
        return overlap_path(out, key)
    if stage == "train":
        assert key is not None  # per run
        return run_summary_path(run_dir(out, key))
    if stage == "eval":
        assert key is not None  # per model
        if key == BASE_MODEL_NAME:
            return eval_summary_path(base_eval_dir(out))
        run, checkpoint = key.split("/", 1)
        return eval_summary_path(eval_dir(run_dir(out, run), checkpoint))
    if stage == "selection":
        return selection_path(out)
    if stage == "compare":
        return compare_answers_path(compare_dir(out))
    if stage == "report":
        return report_html_path(out)
    raise ValueError(f"unknown stage {stage!r}")


def stage_content(output_dir: Path, stage: str, key: str | None = None) -> list[Path]:
    """The files a stage writes that later stages and the report read (its output, and for training and an
    evaluation the losses and per-problem scores beside it): their hashes go into the stage's record when it
    finishes, so a file changed after that is known to be no longer the stage's work."""
    main = stage_output(output_dir, stage, key)
    if stage == "eval":
        return [main, scores_path(main.parent)]
    if stage == "train":
        return [main, metrics_path(main.parent)]
    if stage == "compare":
        return [main, compare_metrics_path(main.parent)]
    if stage == "report":
        return [main, report_md_path(output_dir)]
    return [main]


def eval_key(run: str | None, checkpoint: str | None) -> str:
    """The key of an evaluation's stage record: "base", or "<run>/<checkpoint>"."""
    return BASE_MODEL_NAME if run is None else f"{run}/{checkpoint}"


def holds_study(output_dir: Path) -> bool:
    """Whether a folder holds a codetune study: its stages/ folder, which every writer of a study creates
    first (codetune.locks.study_lock), before any other file."""
    return stages_dir(output_dir).is_dir()


def foreign_files(output_dir: Path) -> list[str]:
    """The names in a folder that holds no study (its lock file aside), sorted: a study may start in the
    folder only when there are none."""
    d = Path(output_dir)
    if not d.is_dir() or holds_study(d):
        return []
    return sorted(p.name for p in d.iterdir() if p.name != LOCK_FILE)


# ------------------------------------------------------------------------------------------ data checks

DATA_DIR = "data"
PROFILE_FILE = "profile.json"
OVERLAP_FILE = "overlap.json"


def profile_path(output_dir: Path, run: str) -> Path:
    return Path(output_dir) / DATA_DIR / run / PROFILE_FILE


def overlap_path(output_dir: Path, run: str) -> Path:
    return Path(output_dir) / DATA_DIR / run / OVERLAP_FILE


# --------------------------------------------------------------------------------------------- training

RUNS_DIR = "runs"
METRICS_FILE = "metrics.jsonl"
RUN_SUMMARY_FILE = "summary.json"
LOSS_PLOT_FILE = "loss.png"
TENSORBOARD_DIR = "tb"
CHECKPOINTS_DIR = "checkpoints"
CHECKPOINT_STATE_FILE = "codetune_state.json"  # what resuming needs beyond Trainer's own state
ADAPTER_CONFIG_FILE = "adapter_config.json"  # PEFT's names; their content identifies a checkpoint
ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors"
ADAPTER_FILES = (ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE)
_CKPT = re.compile(r"^checkpoint-step-(\d+)-epoch-(\d+)$")


def runs_dir(output_dir: Path) -> Path:
    return Path(output_dir) / RUNS_DIR


def run_dir(output_dir: Path, run: str) -> Path:
    return runs_dir(output_dir) / run


def metrics_path(run_dir_: Path) -> Path:
    return Path(run_dir_) / METRICS_FILE


def run_summary_path(run_dir_: Path) -> Path:
    return Path(run_dir_) / RUN_SUMMARY_FILE


def loss_plot_path(run_dir_: Path) -> Path:
    return Path(run_dir_) / LOSS_PLOT_FILE


def tensorboard_dir(run_dir_: Path) -> Path:
    return Path(run_dir_) / TENSORBOARD_DIR


def checkpoint_name(step: int, epoch: int) -> str:
    """`checkpoint-step-540-epoch-0`: the step, and the zero-based epoch that step falls in."""
    return f"checkpoint-step-{step}-epoch-{epoch}"


def parse_checkpoint_name(name: str) -> tuple[int, int] | None:
    """(step, epoch) of a checkpoint folder name, or None for anything else (temporary folders included)."""
    m = _CKPT.match(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def checkpoints_dir(run_dir_: Path) -> Path:
    return Path(run_dir_) / CHECKPOINTS_DIR


def list_checkpoints(run_dir_: Path) -> list[Path]:
    """Complete checkpoints of a run, by step (temporary, half-written folders never match the name)."""
    d = checkpoints_dir(run_dir_)
    if not d.is_dir():
        return []
    found = [(parse_checkpoint_name(p.name), p) for p in d.iterdir() if p.is_dir()]
    return [p for key, p in sorted((k, p) for k, p in found if k is not None)]


def checkpoint_state_path(checkpoint: Path) -> Path:
    return Path(checkpoint) / CHECKPOINT_STATE_FILE


def adapter_config_path(checkpoint: Path) -> Path:
    return Path(checkpoint) / ADAPTER_CONFIG_FILE


def adapter_paths(checkpoint: Path) -> list[Path]:
    return [Path(checkpoint) / name for name in ADAPTER_FILES]


def run_of_checkpoint(checkpoint: Path) -> str | None:
    """The run a study checkpoint (runs/<run>/checkpoints/<name>) belongs to; None for any other folder."""
    checkpoint = Path(checkpoint)
    if checkpoint.parent.name == CHECKPOINTS_DIR and checkpoint.parent.parent.name:
        return checkpoint.parent.parent.name
    return None


# ----------------------------------------------------------------------------------------- evaluation

EVAL_DIR = "eval"
BASE_MODEL_NAME = "base"
PROMPTS_FILE = "prompts.jsonl"
GENERATIONS_FILE = "generations.json"
SCORES_FILE = "scores.json"
EVAL_SUMMARY_FILE = "summary.json"
GENERATIONS_PARTIAL_FILE = "generations.partial.jsonl"
SCORES_PARTIAL_FILE = "scores.partial.jsonl"
EVAL_FILES = (
    PROMPTS_FILE,
    GENERATIONS_PARTIAL_FILE,
    SCORES_PARTIAL_FILE,
    GENERATIONS_FILE,
    SCORES_FILE,
    EVAL_SUMMARY_FILE,
)


def eval_dir(run_dir_: Path, checkpoint: str) -> Path:
    return Path(run_dir_) / EVAL_DIR / checkpoint


def evals_root(run_dir_: Path) -> Path:
    return Path(run_dir_) / EVAL_DIR


def base_eval_dir(output_dir: Path) -> Path:
    return Path(output_dir) / EVAL_DIR / BASE_MODEL_NAME


def checkpoint_eval_dir(checkpoint: Path) -> Path | None:
    """The eval folder of a study checkpoint (runs/<run>/checkpoints/<name> -> runs/<run>/eval/<name>)."""
    checkpoint = Path(checkpoint)
    if parse_checkpoint_name(checkpoint.name) and run_of_checkpoint(checkpoint):
        return eval_dir(checkpoint.parent.parent, checkpoint.name)
    return None


def prompts_path(folder: Path) -> Path:
    return Path(folder) / PROMPTS_FILE


def generations_path(folder: Path) -> Path:
    return Path(folder) / GENERATIONS_FILE


def generations_partial_path(folder: Path) -> Path:
    return Path(folder) / GENERATIONS_PARTIAL_FILE


def scores_path(folder: Path) -> Path:
    return Path(folder) / SCORES_FILE


def scores_partial_path(folder: Path) -> Path:
    return Path(folder) / SCORES_PARTIAL_FILE


def eval_summary_path(folder: Path) -> Path:
    return Path(folder) / EVAL_SUMMARY_FILE


# ----------------------------------------------------------------------------- selection, comparison, report

SELECTION_FILE = "selection.json"
COMPARE_DIR = "compare"
COMPARE_ANSWERS_FILE = "answers.json"
COMPARE_METRICS_FILE = "metrics.json"
REPORT_HTML = "report.html"
REPORT_MD = "report.md"
REPORT_ASSETS_DIR = "report_assets"
PASS_AT_STEP_ASSET = "pass_at_step.png"


def selection_path(output_dir: Path) -> Path:
    return Path(output_dir) / SELECTION_FILE


def compare_dir(output_dir: Path) -> Path:
    return Path(output_dir) / COMPARE_DIR


def compare_answers_path(folder: Path) -> Path:
    return Path(folder) / COMPARE_ANSWERS_FILE


def compare_metrics_path(folder: Path) -> Path:
    return Path(folder) / COMPARE_METRICS_FILE


def report_html_path(output_dir: Path) -> Path:
    return Path(output_dir) / REPORT_HTML


def report_md_path(output_dir: Path) -> Path:
    return Path(output_dir) / REPORT_MD


def report_assets_dir(output_dir: Path) -> Path:
    return Path(output_dir) / REPORT_ASSETS_DIR


def loss_asset_name(run: str) -> str:
    return f"loss_{run}.png"


# ---------------------------------------------------------------------------------------------- export

MODEL_CARD_FILE = "README.md"  # Hugging Face's model card; PEFT writes one into each checkpoint too


def model_card_path(folder: Path) -> Path:
    return Path(folder) / MODEL_CARD_FILE


# ---------------------------------------------------------------------------------------------- import

IMPORT_FILE = "imported.json"


def import_record_path(output_dir: Path) -> Path:
    return Path(output_dir) / IMPORT_FILE
