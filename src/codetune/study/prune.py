"""Disk after selection: remove each checkpoint's optimizer and resume state, keep its adapter.

What a study reads of a checkpoint after training is its adapter (layout.ADAPTER_FILES): the train stage checks
their hashes, evaluations and the selection name them, export loads them. Everything else Trainer and codetune
wrote there (optimizer and scheduler state, RNG state, trainer_state.json, training_args.bin,
codetune_state.json) serves only to resume training, and for a LoRA run the optimizer state alone is twice the
adapter. A run whose training has not finished always keeps its last checkpoint's resume state: resuming from
a checkpoint without it would silently restart the optimizer, so the run would not be the one its config says.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from codetune import layout
from codetune.errors import CodetuneError
from codetune.locks import folder_lock
from codetune.records import RunSummary

KeepResume = Literal["none", "last"]
KEPT = (*layout.ADAPTER_FILES, layout.MODEL_CARD_FILE)  # PEFT's card of the adapter: a few hundred bytes


@dataclass
class PruneResult:
    freed: int = 0  # bytes
    files: int = 0
    checkpoints: int = 0  # checkpoints that lost resume state
    kept_resume: list[str] = field(default_factory=list)  # "<run>/<checkpoint> (why)"


def _size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def resume_files(checkpoint: Path) -> list[Path]:
    """What in a checkpoint folder is there only to resume training (everything but the adapter)."""
    return sorted(p for p in Path(checkpoint).iterdir() if p.name not in KEPT)


def prune_study(study_dir: str | Path, *, keep_resume: KeepResume = "none") -> PruneResult:
    """Remove the resume state of every checkpoint of every run folder of the study; returns what was freed."""
    study_dir = Path(study_dir)
    runs_root = layout.runs_dir(study_dir)
    if not runs_root.is_dir():
        raise CodetuneError(
            f"{study_dir}: no {layout.RUNS_DIR}/ folder: not a study folder with training runs"
        )
    result = PruneResult()
    with folder_lock(study_dir, "study folder"):
        for rdir in sorted(p for p in runs_root.iterdir() if p.is_dir()):
            with folder_lock(rdir, "run folder"):  # `codetune train` holds it while it writes there
                _prune_run(rdir, keep_resume, result)
    return result


def _prune_run(rdir: Path, keep_resume: KeepResume, result: PruneResult) -> None:
    ckpts = layout.list_checkpoints(rdir)
    unfinished = RunSummary.read(layout.run_summary_path(rdir)) is None
    for i, ck in enumerate(ckpts):
        last = i == len(ckpts) - 1
        if last and (unfinished or keep_resume == "last"):
            why = "training unfinished" if unfinished else "--keep-resume last"
            result.kept_resume.append(f"{rdir.name}/{ck.name} ({why})")
            continue
        if not all(p.is_file() for p in layout.adapter_paths(ck)):
            continue  # not a complete adapter: removing the rest would leave nothing of use
        found = resume_files(ck)
        if not found:
            continue
        result.checkpoints += 1
        for p in found:
            result.freed += _size(p)
            result.files += 1
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
