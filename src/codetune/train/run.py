"""One LoRA run, top to bottom: check the run folder, build data, load the model, wrap it with LoRA, train
with losses on validation and test every `eval_every` steps and a checkpoint every `save_every` steps, then
write the run summary and the loss plot.

Runs unchanged under `accelerate launch` / `torchrun`: Trainer shards the data and reduces gradients, the
eval loss is gathered across processes, and only process 0 writes files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from codetune.config import LoraConfig, ModelConfig, RunConfig, StudyConfig, TrainingConfig
from codetune.errors import CodetuneError
from codetune.files import check_writable_dir, write_error
from codetune.fingerprint import StageSpec, adapter_sha256, record_differences
from codetune.layout import (
    LOCK_FILE,
    adapter_paths,
    checkpoints_dir,
    list_checkpoints,
    loss_plot_path,
    metrics_path,
    parse_checkpoint_name,
    run_dir,
    run_summary_path,
    stages_dir,
)
from codetune.locks import folder_lock, study_lock
from codetune.records import RunSummary
from codetune.train.accel import resolve_acceleration
from codetune.train.distributed import check_launcher, distributed_record
from codetune.train.summary import (
    plot_losses,
    read_metrics,
    results_damage,
    summarize,
    truncate_metrics,
)

if TYPE_CHECKING:
    import datasets
    from transformers import TrainingArguments

    from codetune.data.prepare import PreparedData

Action = Literal["fresh", "resume", "complete", "overwrite"]
RunState = Literal["empty", "unrecorded", "stale", "unfinished", "complete", "damaged"]


def train_spec(cfg: StudyConfig, run_name: str) -> StageSpec:
    """Everything that decides a run's results: the model, LoRA and training settings (codetune.config's
    NOT_RESULT_KEYS left out), the run's own section, and the content of its data and base model."""
    from codetune.data.formatting import TRAINING_INPUT_VERSION
    from codetune.data.sources import dataset_identity
    from codetune.models import model_identity, resolved_model
    from codetune.train.accel import resolved_training

    run = cfg.run(run_name)
    model = resolved_model(cfg.model)
    return StageSpec(
        stage="train",
        key=run_name,
        config=cfg.subset(["model", "lora", "training", f"runs.{run_name}"]),
        speed=cfg.speed_subset(["model", "lora", "training", f"runs.{run_name}"]),
        inputs={
            "dataset": dataset_identity(run.dataset, cfg.base_dir, seed=cfg.training.seed),
            "model": model_identity(cfg.model),
            "resolved": {"model": model, "training": resolved_training(cfg.training, model["device"])},
            "version": TRAINING_INPUT_VERSION,
        },
    )


def run_dir_state(output_dir: Path, rdir: Path, spec: StageSpec) -> tuple[RunState, list[str]]:
    """What an existing run folder holds, judged by its stage record: (state, the keys that differ)."""
    if not rdir.is_dir() or not any(p.name != LOCK_FILE for p in rdir.iterdir()):
        return "empty", []
    record = spec.read_record(output_dir)
    trained = any(p.exists() for p in (metrics_path(rdir), run_summary_path(rdir), checkpoints_dir(rdir)))
    if record is None:
        return ("unrecorded" if trained else "empty"), []
    if record.fingerprint != spec.fingerprint:
        return "stale", record_differences(record, spec)
    summary = RunSummary.read(run_summary_path(rdir))
    if summary is None:
        return "unfinished", []
    damage = checkpoint_damage(rdir, summary) + results_damage(output_dir, rdir, record, summary)
    return ("damaged", damage) if damage else ("complete", [])


def checkpoint_damage(rdir: Path, summary: RunSummary) -> list[str]:
    """The checkpoints training wrote that are no longer there as it left them (by the adapter hash its
    summary holds), in words; empty when all are intact."""
    out = []
    for name in summary.checkpoints:
        ck = checkpoints_dir(rdir) / name
        if not all(p.is_file() for p in adapter_paths(ck)):
            out.append(f"{name} is missing")
        elif name in summary.checkpoint_sha256 and adapter_sha256(ck) != summary.checkpoint_sha256[name]:
            out.append(f"{name} changed since training (its adapter hash differs)")
    return out


def damaged_run_message(run: str, damage: list[str], flag: str) -> str:
    shown = ", ".join(damage[:4]) + (f" and {len(damage) - 4} more" if len(damage) > 4 else "")
    return (
        f"run {run}: files its training wrote are not there as it left them ({shown}); restore them, "
        f"retrain with {flag}, or leave the run out by removing it from `runs` (nothing deleted)"
    )


def stale_run_message(rdir: Path, differences: list[str], flag: str) -> str:
    keys = ", ".join(differences[:6]) + (f" and {len(differences) - 6} more" if len(differences) > 6 else "")
    return (
        f"{rdir} was trained with a different config (differs in: {keys}); pass {flag} to delete it and "
        "train again, or set another output_dir (nothing deleted)"
    )


def check_run_dir(
    output_dir: Path, rdir: Path, spec: StageSpec, *, resume: bool, overwrite: bool, flag: str = "--overwrite"
) -> Action:
    """What to do with an existing run folder; raises (deleting nothing) when the user must choose."""
    state, differences = run_dir_state(output_dir, rdir, spec)
    if state == "empty":
        return "fresh"
    if overwrite:
        return "overwrite"
    if state == "unrecorded":
        raise CodetuneError(
            f"{rdir} holds training files but no stage record ({spec.record_path(output_dir)}), so its config "
            f"is unknown; pass {flag} to delete it and start over (nothing deleted)"
        )
    if state == "stale":
        raise CodetuneError(stale_run_message(rdir, differences, flag))
    if state == "damaged":
        raise CodetuneError(damaged_run_message(rdir.name, differences, flag))
    if state == "complete":
        return "complete"
    if resume:
        return "resume"
    ckpts = list_checkpoints(rdir)
    where = f"latest checkpoint {ckpts[-1].name}" if ckpts else "no checkpoint yet"
    raise CodetuneError(
        f"{rdir} holds an unfinished run ({where}); pass --resume to continue it or {flag} to "
        "start over (nothing deleted)"
    )


def eval_split(ds: datasets.Dataset, name: str, *, max_samples: int | None, seed: int) -> datasets.Dataset:
    """An eval split, capped at `max_samples` (a seeded sample) and sorted longest first so batches are
    grouped by length and an out-of-memory shows at the first batch."""
    if len(ds) == 0:
        raise CodetuneError(f"the {name} split is empty: the run needs validation and test rows")
    if max_samples is not None and len(ds) > max_samples:
        ds = ds.shuffle(seed=seed).select(range(max_samples))
    lengths = ds["length"]
    return ds.select(sorted(range(len(ds)), key=lambda i: -lengths[i]))


def _prepare_run_dir(
    rdir: Path, action: Action, spec: StageSpec, output_dir: Path, config_file: str | None
) -> Path | None:
    """Main process only: create/clean the folder, record the stage as started and return the checkpoint
    to resume from (or None)."""
    if action == "overwrite":  # everything but the lock file this process holds
        for p in rdir.iterdir():
            if p.name == LOCK_FILE:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
    ckdir = checkpoints_dir(rdir)
    ckdir.mkdir(parents=True, exist_ok=True)
    # Trainer's `checkpoint-S` folders are checkpoints that were never finished (killed mid-save).
    for stale in ckdir.iterdir():
        if stale.is_dir() and parse_checkpoint_name(stale.name) is None:
            shutil.rmtree(stale)
    if action != "resume":
        spec.write_record(output_dir, finished=False, config_file=config_file)
    ckpts = list_checkpoints(rdir) if action == "resume" else []
    last = ckpts[-1] if ckpts else None
    # Eval rows after the checkpoint are recomputed by the resumed run: drop them, so none is duplicated.
    resumed = parse_checkpoint_name(last.name) if last else None
    truncate_metrics(metrics_path(rdir), resumed[0] if resumed else 0)
    return last


def train_run(
    cfg: StudyConfig,
    run_name: str,
    *,
    resume: bool = False,
    overwrite: bool = False,
    flag: str = "--overwrite",
    spec: StageSpec | None = None,
    config_file: str | None = None,
) -> Path:
    """Train one LoRA run of the study; returns RUN_DIR. A complete run with the same stage fingerprint is
    left as it is; a run made from other settings is refused (naming `flag`, the option that overwrites).
    `spec` and `config_file` (the study's configs/ history file, for the stage record) come from a study.

    The study folder and the run folder are locked for the whole run (a study, an eval or a second `train`
    of the same folder is refused, naming this process: an --overwrite never deletes what another process is
    writing); under a launcher only process 0 takes the locks, the others follow its decisions."""
    cfg.run(run_name)  # an unknown run name is an error naming the known ones
    rdir = run_dir(cfg.output_path, run_name)
    made = [p for p in (rdir, *rdir.parents) if not p.exists()]  # the folders this call creates
    with contextlib.ExitStack() as locks:
        if os.environ.get("RANK", "0") != "0":
            made = []  # process 0 makes (and cleans up) the folder
        else:
            locks.enter_context(study_lock(cfg.output_path))
            check_writable_dir(rdir)  # before any data or model loads
            locks.enter_context(folder_lock(rdir, "run folder"))
        try:
            return _train_run(
                cfg,
                run_name,
                resume=resume,
                overwrite=overwrite,
                flag=flag,
                spec=spec,
                config_file=config_file,
            )
        except OSError as e:
            # Judged before what this run made goes (a full disk is full of it). A failed write in a library
            # names no file: the run folder is where it went.
            err = write_error(e, rdir) if e.filename is None or e.errno == errno.ENOSPC else e
            _remove_unused(made)
            if err is not e:
                raise err from e
            raise
        except BaseException:
            _remove_unused(made)
            raise


def _remove_unused(folders: list[Path]) -> None:
    """A run that failed before writing anything (a data error) leaves no folder behind: the ones it made
    are removed while they hold nothing but its lock file (and the empty stages/ that marks the study)."""
    for folder in folders:  # deepest first
        try:
            marker = stages_dir(folder)
            if marker.is_dir() and not any(marker.iterdir()):
                marker.rmdir()
            if {p.name for p in folder.iterdir()} - {LOCK_FILE}:
                return
            (folder / LOCK_FILE).unlink(missing_ok=True)
            folder.rmdir()
        except OSError:
            return


def _train_run(
    cfg: StudyConfig,
    run_name: str,
    *,
    resume: bool,
    overwrite: bool,
    flag: str,
    spec: StageSpec | None,
    config_file: str | None,
) -> Path:
    import transformers

    from codetune.models import load_model, load_tokenizer, resolve_dtype
    from codetune.train.build import build_trainer, training_arguments

    t, out = cfg.training, cfg.output_path
    rdir = run_dir(out, run_name)
    spec = spec or train_spec(cfg, run_name)
    action = check_run_dir(out, rdir, spec, resume=resume, overwrite=overwrite, flag=flag)
    if action == "complete":
        record = spec.read_record(out)
        if record is not None and not record.finished:  # killed between the summary and the record
            spec.finish_record(out)
        return rdir
    device = _training_device(cfg.model, cfg.lora)

    # Data before the run folder is touched: a data error leaves no half-made run behind.
    tokenizer = load_tokenizer(cfg.model)
    data, evals = _run_data(run_name, cfg.run(run_name), t, tokenizer, cfg.base_dir)

    architecture = _architecture(cfg.model)
    dtype = resolve_dtype(cfg.model.dtype, device)
    accel = resolve_acceleration(t, cfg.lora, device, architecture, dtype_bytes=dtype.itemsize)
    # Made before the model loads: under a launcher this sets up the process group (and each process's GPU).
    args = training_arguments(t, rdir, device, accel, dtype=dtype, run_name=f"{cfg.name}/{run_name}")
    last = _open_run_dir(args, rdir, action, spec, out, config_file)

    transformers.set_seed(t.seed)  # LoRA's initial weights depend on it
    model = load_model(
        cfg.model, quantize_4bit=cfg.lora.quantize == "4bit", attn_implementation=accel.attention
    )
    run = build_trainer(
        model,
        args,
        lora=cfg.lora,
        t=t,
        accel=accel,
        train=data.train,
        evals=evals,
        pad_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
        rdir=rdir,
        description=f"train {run_name}",
        resume_from=last,
    )
    run.train()

    dist = args.distributed_state
    if dist.is_main_process:
        write_results(
            rdir,
            run_name,
            t.overfit_patience,
            wall_time=run.metrics.wall_time(),
            data_stats=data.stats,
            acceleration={**accel.record(), **distributed_record(run.trainer.accelerator)},
        )
        spec.finish_record(out)
    dist.wait_for_everyone()
    return rdir


def _run_data(
    run_name: str, run: RunConfig, t: TrainingConfig, tokenizer, base_dir: Path | None
) -> tuple[PreparedData, dict[str, datasets.Dataset]]:
    """The run's tokenized splits, and the eval splits training measures (val and test, capped and sorted)."""
    from codetune.data.prepare import prepare_run_data

    data = prepare_run_data(
        run_name,
        run,
        tokenizer,
        seed=t.seed,
        max_length=t.max_seq_length,
        overlong=t.overlong,
        base_dir=base_dir,
    )
    if len(data.train) == 0:
        raise CodetuneError(f"run {run_name}: the train split is empty")
    evals = {
        "val": eval_split(data.valid, "validation", max_samples=t.max_eval_samples, seed=t.seed),
        "test": eval_split(data.test, "test", max_samples=t.max_eval_samples, seed=t.seed),
    }
    return data, evals


def _training_device(model: ModelConfig, lora: LoraConfig) -> str:
    """The device the run trains on, refused early where the launcher or QLoRA cannot use it."""
    from codetune.models import resolve_device

    device = resolve_device(model.device)
    check_launcher(device)  # DeepSpeed (or FSDP1) chosen in the accelerate config, on a machine without CUDA
    if lora.quantize == "4bit" and not device.startswith("cuda"):
        raise CodetuneError(
            f"lora.quantize: 4bit (QLoRA) needs a CUDA GPU; model.device resolves to {device!r}"
        )
    return device


def _architecture(model: ModelConfig):
    """The base model's transformers config (its shape, for the memory estimate), without its weights."""
    from transformers import AutoConfig

    from codetune.models import resolve_model_source

    return AutoConfig.from_pretrained(
        resolve_model_source(model.source), revision=model.revision, trust_remote_code=model.trust_remote_code
    )


def _open_run_dir(
    args: TrainingArguments,
    rdir: Path,
    action: Action,
    spec: StageSpec,
    output_dir: Path,
    config_file: str | None,
) -> Path | None:
    """The run folder made ready by process 0 (the others wait), and the checkpoint every process resumes
    from (None for a fresh start)."""
    dist = args.distributed_state
    last = None
    with args.main_process_first(desc="prepare run folder"):
        if dist.is_main_process:
            last = _prepare_run_dir(rdir, action, spec, output_dir, config_file)
    if not dist.is_main_process and action == "resume":
        ckpts = list_checkpoints(rdir)
        last = ckpts[-1] if ckpts else None
    return last


def write_results(
    rdir: Path,
    run_name: str,
    patience: int,
    *,
    wall_time: float | None = None,
    data_stats: dict | None = None,
    acceleration: dict | None = None,
) -> RunSummary:
    """The loss plot, then the run summary (written last: its presence marks the run complete)."""
    rows = read_metrics(metrics_path(rdir))
    ckpts = list_checkpoints(rdir)
    summary = summarize(
        rows,
        run=run_name,
        patience=patience,
        wall_time=wall_time,
        checkpoints=[p.name for p in ckpts],
        checkpoint_sha256={p.name: adapter_sha256(p) for p in ckpts},
        data={k: v for k, v in (data_stats or {}).items() if k in ("train", "valid", "test")},
        acceleration=acceleration,
    )
    plot_losses(
        rows, loss_plot_path(rdir), title=f"{run_name}: loss per step", overfit_step=summary.overfitting_step
    )
    summary.write(run_summary_path(rdir))
    return summary
