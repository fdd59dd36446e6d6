"""One LoRA run, top to bottom: check the run folder, build data, load the model, wrap it with LoRA, train
with losses on validation and test every `eval_every` steps and a checkpoint every `save_every` steps, then
write summary.json and loss.png.

Runs unchanged under `accelerate launch` / `torchrun`: Trainer shards the data and reduces gradients, the
eval loss is gathered across processes, and only process 0 writes files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from codetune.config import StudyConfig, TrainingConfig
from codetune.errors import CodetuneError
from codetune.files import write_json_atomic
from codetune.study.layout import checkpoints_dir, list_checkpoints, parse_checkpoint_name, run_dir
from codetune.train.accel import Acceleration, resolve_acceleration
from codetune.train.summary import (
    METRICS_FILE,
    PLOT_FILE,
    RUN_CONFIG_FILE,
    SUMMARY_FILE,
    plot_losses,
    read_metrics,
    summarize,
    truncate_metrics,
)

if TYPE_CHECKING:
    import datasets

# Settings that change how a run is watched, not what it computes: a change to them is not a new run.
_NOT_RESULT_FIELDS = {"report_to", "eval_batch_size"}  # eval loss is token-weighted

Action = Literal["fresh", "resume", "complete", "overwrite"]


def run_fingerprint(cfg: StudyConfig, run_name: str) -> dict[str, Any]:
    """Everything that decides a run's results: model, LoRA, training settings and the run's data."""
    training = {k: v for k, v in cfg.training.model_dump(mode="json").items() if k not in _NOT_RESULT_FIELDS}
    return {
        "run": run_name,
        "model": cfg.model.model_dump(mode="json"),
        "lora": cfg.lora.model_dump(mode="json"),
        "training": training,
        "data": cfg.run(run_name).model_dump(mode="json"),
    }


def config_differences(saved: Any, current: Any, prefix: str = "") -> list[str]:
    """Key paths whose values differ. Keys only one side has are settings added or removed by another
    codetune version, not a change the user made, so they do not count."""
    if isinstance(saved, dict) and isinstance(current, dict):
        out = []
        for k in sorted(set(saved) & set(current), key=str):
            out += config_differences(saved[k], current[k], f"{prefix}.{k}" if prefix else str(k))
        return out
    return [] if saved == current else [prefix or "(all)"]


def check_run_dir(rdir: Path, fingerprint: dict[str, Any], *, resume: bool, overwrite: bool) -> Action:
    """What to do with an existing run folder; raises (deleting nothing) when the user must choose."""
    if not rdir.is_dir() or not any(rdir.iterdir()):
        return "fresh"
    if overwrite:
        return "overwrite"
    cfg_file = rdir / RUN_CONFIG_FILE
    trained = any((rdir / f).exists() for f in (METRICS_FILE, SUMMARY_FILE, "checkpoints"))
    if not cfg_file.is_file():
        if trained:
            raise CodetuneError(
                f"{rdir} holds training files but no {RUN_CONFIG_FILE}, so its config is unknown; "
                "pass --overwrite to delete it and start over (nothing deleted)"
            )
        return "fresh"
    try:
        saved = json.loads(cfg_file.read_text(encoding="utf-8")).get("fingerprint")
    except (json.JSONDecodeError, AttributeError):
        raise CodetuneError(
            f"{cfg_file}: not valid JSON; pass --overwrite to start over (nothing deleted)"
        ) from None
    differences = config_differences(saved, fingerprint) if isinstance(saved, dict) else ["(unreadable)"]
    if differences:
        keys = ", ".join(differences[:6])
        raise CodetuneError(
            f"{rdir} was trained with a different config (differs in: {keys}); pass --overwrite to delete "
            "it and start over, or set another output_dir (nothing deleted)"
        )
    if (rdir / SUMMARY_FILE).is_file():
        return "complete"
    if resume:
        return "resume"
    ckpts = list_checkpoints(rdir)
    where = f"latest checkpoint {ckpts[-1].name}" if ckpts else "no checkpoint yet"
    raise CodetuneError(
        f"{rdir} holds an unfinished run ({where}); pass --resume to continue it or --overwrite to "
        "start over (nothing deleted)"
    )


def eval_split(ds: datasets.Dataset, name: str, t: TrainingConfig) -> datasets.Dataset:
    """An eval split, capped at max_eval_samples (a seeded sample) and sorted longest first so batches are
    grouped by length and an out-of-memory shows at the first batch."""
    if len(ds) == 0:
        raise CodetuneError(f"the {name} split is empty: the run needs validation and test rows")
    if t.max_eval_samples is not None and len(ds) > t.max_eval_samples:
        ds = ds.shuffle(seed=t.seed).select(range(t.max_eval_samples))
    lengths = ds["length"]
    return ds.select(sorted(range(len(ds)), key=lambda i: -lengths[i]))


def training_arguments(cfg: StudyConfig, rdir: Path, device: str, accel: Acceleration):
    """transformers TrainingArguments from the study config (eval, save and log cadence; precision; the
    kernels and checkpointing `accel` chose)."""
    import torch
    from transformers import TrainingArguments

    from codetune.models import resolve_dtype

    t = cfg.training
    on_cuda = device.startswith("cuda")
    dtype = resolve_dtype(cfg.model.dtype, device)
    checkpointing = accel.gradient_checkpointing
    extra = [r for r in t.report_to if r != "tensorboard"]  # TensorBoard is wired to RUN_DIR/tb below
    for tracker in extra:
        try:
            __import__(tracker)
        except ImportError:
            raise CodetuneError(
                f"training.report_to: {tracker} is not installed (pip install {tracker})"
            ) from None
    return TrainingArguments(
        output_dir=str(checkpoints_dir(rdir)),
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.eval_batch_size or t.batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate,
        num_train_epochs=t.epochs,
        max_steps=t.max_steps or -1,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_ratio,  # a float in [0, 1) is a ratio of the total steps
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        seed=t.seed,
        data_seed=t.seed,
        eval_strategy="steps",
        eval_steps=t.eval_every,
        save_strategy="steps",
        save_steps=t.save_every,
        logging_strategy="steps",
        logging_steps=1,  # every step's loss feeds the interval mean and the progress bar
        include_num_input_tokens_seen="non_padding",
        bf16=on_cuda and dtype == torch.bfloat16,
        fp16=on_cuda and dtype == torch.float16,
        activation_checkpointing=checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if checkpointing else None,
        use_liger_kernel=accel.liger_kernel,  # Trainer patches the (PEFT-wrapped) model with Liger's kernels
        remove_unused_columns=False,  # our collators pick their columns; `length` feeds the sampler
        label_names=["labels"],
        use_cpu=device == "cpu",
        dataloader_pin_memory=on_cuda,
        ddp_find_unused_parameters=False,
        report_to=extra or "none",
        run_name=run_name_for(cfg, rdir),
        disable_tqdm=True,  # codetune's rich bar instead
    )


def run_name_for(cfg: StudyConfig, rdir: Path) -> str:
    return f"{cfg.name}/{rdir.name}"


def wrap_lora(model, cfg: StudyConfig, *, gradient_checkpointing: bool):
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    lora = cfg.lora
    if lora.quantize == "4bit":
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    peft_cfg = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, peft_cfg)


def _prepare_run_dir(
    rdir: Path, action: Action, fingerprint: dict[str, Any], resolved_model: str, accel: Acceleration
) -> Path | None:
    """Main process only: create/clean the folder and return the checkpoint to resume from (or None)."""
    if action == "overwrite":
        shutil.rmtree(rdir)
    ckdir = checkpoints_dir(rdir)
    ckdir.mkdir(parents=True, exist_ok=True)
    # Trainer's `checkpoint-S` folders are checkpoints that were never finished (killed mid-save).
    for stale in ckdir.iterdir():
        if stale.is_dir() and parse_checkpoint_name(stale.name) is None:
            shutil.rmtree(stale)
    (rdir / RUN_CONFIG_FILE).write_text(
        json.dumps(
            {"fingerprint": fingerprint, "resolved_model": resolved_model, "acceleration": accel.record()},
            indent=2,
        ),
        encoding="utf-8",
    )
    ckpts = list_checkpoints(rdir) if action == "resume" else []
    last = ckpts[-1] if ckpts else None
    # Eval rows after the checkpoint are recomputed by the resumed run: drop them, so none is duplicated.
    truncate_metrics(rdir / METRICS_FILE, parse_checkpoint_name(last.name)[0] if last else 0)
    return last


def train_run(cfg: StudyConfig, run_name: str, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Train one LoRA run of the study; returns RUN_DIR. A complete run (summary.json) is left as it is."""
    import transformers
    from transformers import AutoConfig
    from transformers.integrations import TensorBoardCallback

    from codetune.data.prepare import prepare_run_data
    from codetune.models import (
        load_model,
        load_tokenizer,
        resolve_device,
        resolve_dtype,
        resolve_model_source,
    )
    from codetune.train.collate import PackingCollator, PadCollator
    from codetune.train.trainer import (
        CheckpointCallback,
        CodetuneTrainer,
        MetricsCallback,
        ProgressCallback,
        read_checkpoint_state,
    )

    t = cfg.training
    cfg.run(run_name)  # an unknown run name is an error naming the known ones
    rdir = run_dir(cfg.output_path, run_name)
    fingerprint = run_fingerprint(cfg, run_name)
    action = check_run_dir(rdir, fingerprint, resume=resume, overwrite=overwrite)
    if action == "complete":
        return rdir
    device = resolve_device(cfg.model.device)
    if cfg.lora.quantize == "4bit" and not device.startswith("cuda"):
        raise CodetuneError(
            f"lora.quantize: 4bit (QLoRA) needs a CUDA GPU; model.device resolves to {device!r}"
        )
    resolved_model = resolve_model_source(cfg.model.source)
    # Data before the run folder is touched: a data error leaves no half-made run behind.
    tokenizer = load_tokenizer(cfg.model)
    data = prepare_run_data(cfg, run_name, tokenizer)
    if len(data.train) == 0:
        raise CodetuneError(f"run {run_name}: the train split is empty")
    evals = {"val": eval_split(data.valid, "validation", t), "test": eval_split(data.test, "test", t)}

    accel = resolve_acceleration(
        t,
        cfg.lora,
        device,
        AutoConfig.from_pretrained(
            resolved_model, revision=cfg.model.revision, trust_remote_code=cfg.model.trust_remote_code
        ),
        dtype_bytes=resolve_dtype(cfg.model.dtype, device).itemsize,
    )
    args = training_arguments(cfg, rdir, device, accel)  # also sets up the process group under a launcher
    dist = args.distributed_state
    with args.main_process_first(desc="prepare run folder"):
        last = None
        if dist.is_main_process:
            last = _prepare_run_dir(rdir, action, fingerprint, resolved_model, accel)
    if not dist.is_main_process and action == "resume":
        ckpts = list_checkpoints(rdir)
        last = ckpts[-1] if ckpts else None

    transformers.set_seed(t.seed)  # LoRA's initial weights depend on it
    model = load_model(
        cfg.model, quantize_4bit=cfg.lora.quantize == "4bit", attn_implementation=accel.attention
    )
    model = wrap_lora(model, cfg, gradient_checkpointing=bool(args.activation_checkpointing))

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    pad = PadCollator(pad_id, pad_to_multiple_of=8 if device.startswith("cuda") else None)
    metrics_cb = MetricsCallback(rdir / METRICS_FILE, resumed=read_checkpoint_state(last) if last else None)
    progress = ProgressCallback(f"train {run_name}")
    trainer = CodetuneTrainer(
        model=model,
        args=args,
        train_dataset=data.train,
        eval_dataset=evals,
        data_collator=PackingCollator() if t.packing else pad,
        eval_collator=pad,
        group_by_length=t.group_by_length,
        callbacks=[metrics_cb, CheckpointCallback(checkpoints_dir(rdir), metrics_cb), progress],
    )
    trainer.remove_callback(transformers.trainer_callback.PrinterCallback)  # the rich bar shows progress
    if "tensorboard" in t.report_to:
        tb = TensorBoardCallback()
        tb.logging_dir = str(rdir / "tb")
        trainer.add_callback(tb)

    transformers.utils.logging.disable_progress_bar()  # weight loading/saving bars would break the rich bar
    try:
        trainer.train(resume_from_checkpoint=str(last) if last else None)
    finally:
        progress.on_train_end(args, trainer.state, trainer.control)
        transformers.utils.logging.enable_progress_bar()
    if dist.is_main_process:
        write_results(
            rdir, run_name, t.overfit_patience, wall_time=metrics_cb.wall_time(), data_stats=data.stats
        )
    dist.wait_for_everyone()
    return rdir


def write_results(
    rdir: Path,
    run_name: str,
    patience: int,
    *,
    wall_time: float | None = None,
    data_stats: dict | None = None,
) -> dict[str, Any]:
    """loss.png, then summary.json (written last: its presence marks the run complete)."""
    rows = read_metrics(rdir / METRICS_FILE)
    summary = {"run": run_name, **summarize(rows, patience=patience, wall_time=wall_time)}
    summary["checkpoints"] = [p.name for p in list_checkpoints(rdir)]
    if data_stats:
        summary["data"] = {k: v for k, v in data_stats.items() if k in ("train", "valid", "test")}
    plot_losses(
        rows, rdir / PLOT_FILE, title=f"{run_name}: loss per step", overfit_step=summary["overfitting_step"]
    )
    write_json_atomic(rdir / SUMMARY_FILE, summary)
    return summary
