"""What `accelerate launch` asked for (DDP, FSDP, DeepSpeed) and what of it runs on this machine.

`accelerate launch --config_file configs/accelerate/X.yaml` hands its choice to the processes it starts as
environment variables (ACCELERATE_USE_FSDP / ACCELERATE_USE_DEEPSPEED, FSDP_*, ACCELERATE_MIXED_PRECISION);
transformers' Trainer builds its Accelerator from them.

- FSDP on CPU: accelerate 1.16 turns FSDP on for GPU-like devices only and otherwise falls back, silently, to
  DDP (MULTI_CPU). FSDP2 (`fully_shard`) itself runs on CPU over gloo, so `enable_fsdp_on_cpu` switches the
  Accelerator's state to FSDP with the plugin the launcher's variables describe. FSDP1 stays GPU-only.
- DeepSpeed needs CUDA: on any other device `check_launcher` stops the run with one line.
- Precision: on CPU the model's dtype is the precision, as in a one-process run (`training_arguments` sets
  mixed_precision to "no"); the shipped configs' `mixed_precision: bf16` applies on GPUs.
"""

from __future__ import annotations

import os

from codetune.errors import CodetuneError


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "false").strip().lower() in ("1", "true", "yes", "on")


def launcher_engine() -> str | None:
    """The engine the launcher asked for: "fsdp", "deepspeed", or None (DDP or one process)."""
    if _env_flag("ACCELERATE_USE_DEEPSPEED"):
        return "deepspeed"
    if _env_flag("ACCELERATE_USE_FSDP"):
        return "fsdp"
    return None


# FSDP2 with a PEFT model on transformers 5.19 (the release vLLM 0.32 pins, so the tested stack's): the adapters
# it saves differ from one process's, and after --resume it writes an adapter with no weights at all; on 5.25 the
# same test matches to 1e-6 (tests/test_train_distributed.py). Refused until the stack moves past it.
FSDP_MIN_TRANSFORMERS = (5, 20)


def check_launcher(device: str) -> None:
    """One line, before any data or model loads, for a launcher choice this device cannot run."""
    engine = launcher_engine()
    if engine == "deepspeed" and not device.startswith("cuda"):
        raise CodetuneError(
            f"distributed_type: DEEPSPEED (the accelerate config) needs a CUDA GPU; this run is on {device} "
            "(without one, launch with configs/accelerate/fsdp.yaml or ddp.yaml)"
        )
    if engine == "fsdp" and not device.startswith("cuda"):
        version = os.environ.get("FSDP_VERSION", "1").strip()
        if version != "2":
            raise CodetuneError(
                f"fsdp_config.fsdp_version: {version} (FSDP1) needs a CUDA GPU; this run is on {device} "
                "(set fsdp_version: 2, as configs/accelerate/fsdp.yaml does)"
            )
    if engine == "fsdp":
        import transformers

        installed = tuple(int(x) for x in transformers.__version__.split(".")[:2])
        if installed < FSDP_MIN_TRANSFORMERS:
            raise CodetuneError(
                f"distributed_type: FSDP (the accelerate config) saves wrong LoRA adapters on transformers "
                f"{transformers.__version__} (the release vLLM 0.32 requires); launch with "
                "configs/accelerate/ddp.yaml, or use transformers >= 5.20 without vLLM"
            )


def enable_fsdp_on_cpu(accelerator) -> bool:
    """Switch an Accelerator that fell back to DDP on CPU to the FSDP2 the launcher asked for; True if so.

    Called right after the Accelerator is built, before any model is prepared. The plugin is read from the
    launcher's FSDP_* variables, as accelerate itself would on a GPU."""
    from accelerate.state import PartialState
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

    if launcher_engine() != "fsdp" or accelerator.distributed_type != DistributedType.MULTI_CPU:
        return False
    plugin = FullyShardedDataParallelPlugin()
    if plugin.fsdp_version != 2:  # check_launcher refused it already; kept for direct callers
        raise CodetuneError("fsdp_config.fsdp_version: FSDP1 needs a CUDA GPU; set fsdp_version: 2")
    state = accelerator.state
    if state.mixed_precision != "no":
        plugin.set_mixed_precision(state.mixed_precision)
    state.fsdp_plugin = plugin
    state.distributed_type = DistributedType.FSDP  # the state's __dict__ is AcceleratorState's shared state
    PartialState._shared_state["distributed_type"] = DistributedType.FSDP
    return True


def distributed_record(accelerator) -> dict:
    """For the run's summary (under `acceleration`), when more than one process trained: how they shared the
    work, e.g. {"type": "FSDP", "fsdp_version": 2, "processes": 2, "backend": "gloo", "mixed_precision": "no"}."""
    state = accelerator.state
    if state.num_processes <= 1:
        return {}
    record = {"type": str(state.distributed_type.value), "processes": state.num_processes}
    plugin = getattr(state, "fsdp_plugin", None)
    if plugin is not None:
        record["fsdp_version"] = plugin.fsdp_version
    record |= {"backend": state.backend, "mixed_precision": state.mixed_precision}
    return {"distributed": record}
