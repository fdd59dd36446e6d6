"""transformers' Trainer, adjusted for a LoRA study run, and the callbacks that write the run's files.

- `CodetuneTrainer`: length-grouped batches whose order depends only on (seed, epoch), so a resumed run
  sees the same batches; evaluation as a token-weighted mean loss over label tokens, summed per row and
  gathered across processes (the same number on 1 or N GPUs, whatever the eval batch size).
- `MetricsCallback`: one metrics row per eval step (train loss = mean over the interval), rank 0 only.
- `CheckpointCallback`: Trainer writes `checkpoint-S` (a name list_checkpoints ignores); once every process
  has written its part, rank 0 adds codetune's state and renames it to `checkpoint-step-S-epoch-E`.
- `ProgressCallback`: a rich progress bar with loss, tokens/s and ETA.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any, cast

import torch
from transformers import Trainer, TrainerCallback
from transformers.integrations import TensorBoardCallback
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices

from codetune.files import removed_on_failure, replace_dir, write_error, write_json_atomic
from codetune.layout import checkpoint_name, checkpoint_state_path
from codetune.progress import progress_bar
from codetune.records import MetricsRow
from codetune.train.collate import label_loss_sums
from codetune.train.distributed import enable_fsdp_on_cpu

EVAL_SETS = ("val", "test")


def checkpoint_epoch(epoch: float) -> int:
    """Zero-based epoch of the step that ended at fractional epoch `epoch` (1.0 is the last step of epoch 0)."""
    return max(0, math.ceil(round(epoch, 6)) - 1)


class SeededLengthGroupedSampler(LengthGroupedSampler):
    """Length-grouped order drawn from (seed + epoch) instead of the global RNG, so resuming mid-run (even in
    a later epoch) and every process of a distributed run get exactly the same order."""

    def __init__(self, batch_size: int, lengths: list[int], seed: int):
        super().__init__(batch_size, lengths=lengths)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:  # called by accelerate's DataLoaderShard each epoch
        self.epoch = epoch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=g))


class CodetuneTrainer(Trainer):
    def __init__(self, *args: Any, eval_collator, group_by_length: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.eval_collator = eval_collator
        self.group_by_length = group_by_length
        self._eval_loaders: dict[str, Any] = {}

    def create_accelerator_and_postprocess(self) -> None:
        """Trainer's Accelerator; on CPU, the FSDP2 that `accelerate launch` asked for instead of the DDP
        accelerate falls back to (codetune.train.distributed)."""
        super().create_accelerator_and_postprocess()
        if enable_fsdp_on_cpu(self.accelerator):
            self.is_fsdp_enabled = True

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """The adapter of a checkpoint. Under FSDP2 only the trainable (LoRA) weights are gathered from the
        shards onto process 0 (every process takes part), where Trainer would gather the whole model, frozen
        base included, at every checkpoint (and, with SHARDED_STATE_DICT, write no adapter at all); PEFT
        writes the adapter from them as in one process. FSDP's own resume files are Trainer's, unchanged."""
        from accelerate.utils import is_peft_model

        if not (self.is_fsdp_enabled and self.accelerator.is_fsdp2 and is_peft_model(self.model)):
            return super().save_model(output_dir, _internal_call=_internal_call)
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        options = StateDictOptions(full_state_dict=True, cpu_offload=True, ignore_frozen_params=True)
        model = cast(torch.nn.Module, self.model)  # Trainer's model, typed optional: set by __init__
        self._save(output_dir, state_dict=get_model_state_dict(model, options=options))

    def _get_train_sampler(self, train_dataset=None):
        ds = train_dataset if train_dataset is not None else self.train_dataset
        if not self.group_by_length or "length" not in getattr(ds, "column_names", ()):
            return super()._get_train_sampler(train_dataset)
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        # Grouped by the global batch (all processes, all accumulation steps): the same rows make up each
        # optimizer step whether one process or N run it.
        batch = self.args.train_batch_size * self.args.gradient_accumulation_steps * self.args.world_size
        return SeededLengthGroupedSampler(batch, lengths=list(ds["length"]), seed=seed)

    def _save_checkpoint(self, model, trial):
        """Trainer's checkpoint save; a failure (a full disk surfaces as an OSError, safetensors'
        SafetensorError or torch.save's RuntimeError) becomes an OSError naming the checkpoint folder, and
        the half-written folder is removed (resuming never trusts it anyway)."""
        folder = Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}"
        with removed_on_failure(folder, remove=self.args.should_save):
            return super()._save_checkpoint(model, trial)

    def _eval_loader(self, name: str, dataset):
        # Built and prepared once per split: accelerate shards it across processes (padding the last batch
        # with repeats, which gather_for_metrics drops again).
        if name not in self._eval_loaders:
            loader = torch.utils.data.DataLoader(
                dataset,
                batch_size=self.args.eval_batch_size,
                shuffle=False,
                collate_fn=self.eval_collator,
                num_workers=self.args.dataloader_num_workers,
            )
            self._eval_loaders[name] = self.accelerator.prepare(loader)
        return self._eval_loaders[name]

    def evaluate(
        self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval"
    ) -> dict[str, float]:
        """Mean loss over the label tokens of a split ({prefix}_loss), without gradients; rows presorted by length."""
        target = eval_dataset if eval_dataset is not None else self.eval_dataset
        if isinstance(target, dict):  # Trainer calls back here once per named split
            return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
        name = target if isinstance(target, str) else metric_key_prefix
        splits = cast(dict[str, Any], self.eval_dataset)  # a name comes from Trainer's dict of splits
        dataset = splits[target] if isinstance(target, str) else target
        loader = self._eval_loader(name, dataset)
        model = cast(torch.nn.Module, self.model)
        was_training = model.training
        model.eval()
        totals = torch.zeros(2, dtype=torch.float64)
        start = time.time()
        with torch.no_grad():
            for batch in loader:
                batch = self._prepare_inputs(batch)
                labels = batch.pop("labels")
                with self.accelerator.autocast():
                    logits = model(**batch).logits
                sums = self.accelerator.gather_for_metrics(label_loss_sums(logits, labels))
                totals += sums.sum(0).double().cpu()
                del logits
        if was_training:
            model.train()
        loss = (totals[0] / totals[1]).item() if totals[1] > 0 else float("nan")
        metrics = {
            f"{metric_key_prefix}_loss": loss,
            f"{metric_key_prefix}_label_tokens": int(totals[1].item()),
            f"{metric_key_prefix}_runtime": round(time.time() - start, 4),
        }
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


class MetricsCallback(TrainerCallback):
    """Appends one row per eval step to the run's metrics file (process 0 only)."""

    def __init__(self, path: Path, *, resumed: dict[str, Any] | None = None):
        self.path = Path(path)
        resumed = resumed or {}
        self.pending_losses: list[float] = list(resumed.get("pending_train_losses", []))
        self.learning_rate: float | None = resumed.get("learning_rate")
        self.wall_offset = float(resumed.get("wall_time", 0.0))
        self._start = time.time()
        self._evals: dict[str, float] = {}

    def wall_time(self) -> float:
        return self.wall_offset + time.time() - self._start

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = time.time()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:  # logging_steps=1: the mean train loss of this one optimizer step
            self.pending_losses.append(float(logs["loss"]))
            self.learning_rate = logs.get("learning_rate", self.learning_rate)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        for name in EVAL_SETS:
            if metrics and f"eval_{name}_loss" in metrics:
                self._evals[name] = float(metrics[f"eval_{name}_loss"])
        if len(self._evals) < len(EVAL_SETS):
            return
        finite = [x for x in self.pending_losses if math.isfinite(x)]
        row = MetricsRow(
            step=state.global_step,
            epoch=round(float(state.epoch or 0.0), 4),
            train_loss=sum(finite) / len(finite) if finite else None,
            val_loss=self._evals["val"],
            test_loss=self._evals["test"],
            learning_rate=self.learning_rate,
            tokens_seen=int(state.num_input_tokens_seen),
            wall_time=round(self.wall_time(), 2),
        )
        self.pending_losses, self._evals = [], {}
        if state.is_world_process_zero:
            try:
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(row.line() + "\n")
            except OSError as e:  # a write error names no file
                raise write_error(e, self.path) from e

    def checkpoint_state(self) -> dict[str, Any]:
        return {
            "pending_train_losses": self.pending_losses,
            "learning_rate": self.learning_rate,
            "wall_time": round(self.wall_time(), 3),
        }


class CheckpointCallback(TrainerCallback):
    """Finishes each checkpoint Trainer saved: adds codetune's state, then renames it to its final name."""

    def __init__(self, checkpoints_dir: Path, metrics: MetricsCallback):
        self.dir = Path(checkpoints_dir)
        self.metrics = metrics

    def on_save(self, args, state, control, **kwargs):
        distributed = args.distributed_state
        distributed.wait_for_everyone()  # every process has written its RNG state / shards
        if state.is_world_process_zero:
            tmp = self.dir / f"checkpoint-{state.global_step}"
            final = self.dir / checkpoint_name(state.global_step, checkpoint_epoch(state.epoch or 0.0))
            try:
                write_json_atomic(checkpoint_state_path(tmp), self.metrics.checkpoint_state(), indent=None)
                replace_dir(tmp, final)  # a checkpoint is either complete under its name or absent
            except OSError as e:
                err = write_error(e, final)  # before the half-written folder goes
                shutil.rmtree(tmp, ignore_errors=True)
                raise err from e
        distributed.wait_for_everyone()


class RunTensorBoard(TensorBoardCallback):
    """transformers' TensorBoard logging into RUN_DIR/tb. A resumed run recomputes the steps after its
    checkpoint: `purge_step` (SummaryWriter's) makes TensorBoard drop the events an earlier, interrupted
    process logged from that step on, so each step shows once."""

    def __init__(self, log_dir: Path, purge_step: int | None = None):
        super().__init__()
        self.logging_dir = str(log_dir)
        self.purge_step = purge_step

    def _init_summary_writer(self, args, *rest):
        if self._SummaryWriter is not None:
            self.tb_writer = self._SummaryWriter(log_dir=self.logging_dir, purge_step=self.purge_step)


def read_checkpoint_state(checkpoint: Path) -> dict[str, Any]:
    f = checkpoint_state_path(checkpoint)
    return json.loads(f.read_text(encoding="utf-8")) if f.is_file() else {}


class ProgressCallback(TrainerCallback):
    """Rich progress bar on the local main process: step, loss, tokens/s, ETA."""

    def __init__(self, description: str):
        self.description = description
        self.progress = None
        self.task = None
        self._t0 = 0.0
        self._tokens0 = 0

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_local_process_zero:
            return
        self.progress = progress_bar(
            None, texts=("loss {task.fields[loss]}", "{task.fields[tps]} tok/s", "ETA"), eta=True
        )
        self.progress.start()
        self.task = self.progress.add_task(
            self.description, total=state.max_steps, completed=state.global_step, loss="-", tps="-"
        )
        self._t0, self._tokens0 = time.time(), state.num_input_tokens_seen

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.progress is None or not logs or "loss" not in logs:
            return
        elapsed = max(time.time() - self._t0, 1e-9)
        tps = (state.num_input_tokens_seen - self._tokens0) / elapsed
        self.progress.update(
            self.task, completed=state.global_step, loss=f"{logs['loss']:.4f}", tps=f"{tps:,.0f}"
        )

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)
            self.progress.stop()
            self.progress = None
