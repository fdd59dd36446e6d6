"""How a run uses the hardware: attention implementation, Liger kernels, gradient checkpointing.

Resolved once per run from `training.attention`, `training.liger_kernel` and
`training.gradient_checkpointing` and the device, before the model loads; an explicit setting this machine
cannot honour is an error naming the key, `auto` falls back to what works here.

Gradient checkpointing (`auto`) is switched on only when memory needs it: the activations a full batch
(batch_size x max_seq_length tokens) saves for the backward pass are estimated from the model's shape and
compared with the GPU memory left after the weights and the LoRA optimizer state. Per token and decoder
layer, the estimate counts 12 hidden-sized tensors (norm inputs and outputs, q, attention output, LoRA
dropout copies), 4 key/value-sized ones and 5 intermediate-sized ones (gate, up, activation, product, its
dropout copy), in the training dtype; eager attention adds the score and probability matrices. The logits
over the vocabulary add 10 bytes per token and vocabulary entry (bf16 logits, their fp32 copy in the loss,
its gradient) unless Liger's fused linear cross-entropy computes the loss without them. With 10% headroom
and 1 GiB reserved, checkpointing is on when the sum does not fit; it costs about a third more compute.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass

from codetune.config import LoraConfig, TrainingConfig
from codetune.errors import CodetuneError

GIB = 1024**3


@dataclass(frozen=True)
class Acceleration:
    attention: str | None  # attn_implementation for transformers; None = its default (sdpa)
    liger_kernel: bool
    gradient_checkpointing: bool
    why_checkpointing: str  # one line: the setting, or the memory estimate that decided it

    def record(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    optimizer: int  # LoRA weights' gradients and AdamW state (fp32)
    activations: int
    logits: int

    @property
    def total(self) -> int:
        return self.weights + self.optimizer + self.activations + self.logits


def lora_parameter_count(model_config, lora: LoraConfig) -> int:
    """LoRA parameters on a decoder's linear layers: r x (in + out) per targeted projection."""
    h, i, layers = model_config.hidden_size, model_config.intermediate_size, model_config.num_hidden_layers
    heads = model_config.num_attention_heads
    head_dim = getattr(model_config, "head_dim", None) or h // heads
    kv = getattr(model_config, "num_key_value_heads", heads) * head_dim
    shapes = {
        "q_proj": (h, heads * head_dim),
        "k_proj": (h, kv),
        "v_proj": (h, kv),
        "o_proj": (heads * head_dim, h),
        "gate_proj": (h, i),
        "up_proj": (h, i),
        "down_proj": (i, h),
    }
    targets = (
        shapes
        if lora.target_modules == "all-linear"
        else {k: shapes[k] for k in lora.target_modules if k in shapes}
    )
    return layers * sum(lora.r * (a + b) for a, b in targets.values())


def estimate_memory(
    model_config,
    *,
    tokens: int,
    lora: LoraConfig,
    dtype_bytes: int,
    fused_cross_entropy: bool,
    eager_attention: bool = False,
    seq_len: int = 0,
    parameters: int | None = None,
) -> MemoryEstimate:
    """Bytes a LoRA training step needs without gradient checkpointing (see the module docstring)."""
    h, i, layers = model_config.hidden_size, model_config.intermediate_size, model_config.num_hidden_layers
    heads = model_config.num_attention_heads
    head_dim = getattr(model_config, "head_dim", None) or h // heads
    kv = getattr(model_config, "num_key_value_heads", heads) * head_dim
    vocab = model_config.vocab_size
    if parameters is None:  # embeddings (tied or not) + decoder layers
        tied = getattr(model_config, "tie_word_embeddings", False)
        per_layer = h * heads * head_dim * 2 + h * kv * 2 + 3 * h * i
        parameters = vocab * h * (1 if tied else 2) + layers * per_layer
    per_token_layer = 12 * h + 4 * kv + 5 * i
    if eager_attention:
        per_token_layer += 2 * heads * seq_len
    activations = tokens * layers * per_token_layer * dtype_bytes
    logits = 0 if fused_cross_entropy else tokens * vocab * (dtype_bytes + 8)
    return MemoryEstimate(
        weights=parameters * dtype_bytes,
        optimizer=lora_parameter_count(model_config, lora) * 16,  # fp32 weight, grad, 2 AdamW moments
        activations=activations,
        logits=logits,
    )


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def resolve_attention(t: TrainingConfig, device: str) -> str | None:
    on_cuda = device.startswith("cuda")
    if t.attention == "auto":
        return "flash_attention_2" if t.packing and on_cuda and _installed("flash_attn") else None
    if t.attention in ("flex_attention", "flash_attention_2") and not on_cuda:
        raise CodetuneError(
            f"training.attention: {t.attention} trains on CUDA only (torch has no FlexAttention backward "
            "and flash-attn no kernels on this device); use sdpa or auto"
        )
    if t.attention == "flash_attention_2" and not _installed("flash_attn"):
        raise CodetuneError("training.attention: flash_attention_2 needs flash-attn: pip install flash-attn")
    return t.attention


def resolve_liger(t: TrainingConfig, device: str) -> bool:
    from transformers.utils import is_liger_kernel_available

    if t.liger_kernel is False:
        return False
    on_cuda, available = device.startswith("cuda"), is_liger_kernel_available()
    if t.liger_kernel == "auto":
        return on_cuda and available
    if not on_cuda:
        raise CodetuneError(
            "training.liger_kernel: Liger's Triton kernels need a CUDA GPU; this run is on "
            f"{device} (set it to false or auto)"
        )
    if not available:
        raise CodetuneError(
            "training.liger_kernel: needs liger-kernel, in the GPU stack: bash scripts/setup-gpu.sh"
        )
    return True


def resolved_training(t: TrainingConfig, device: str) -> dict:
    """The training choices `auto` leaves to the machine, as they resolve here (for the train fingerprint).
    Gradient checkpointing on CUDA under `auto` is decided by free GPU memory when training starts: it
    recomputes the same activations, so it is recorded as that rule rather than guessed here."""
    gc: bool | str = t.gradient_checkpointing
    if gc == "auto":
        gc = False if not device.startswith("cuda") else "auto (by free GPU memory; the same gradients)"
    return {
        "attention": resolve_attention(t, device) or "sdpa",  # None: transformers' default, sdpa
        "liger_kernel": resolve_liger(t, device),
        "gradient_checkpointing": gc,
    }


def resolve_acceleration(
    t: TrainingConfig,
    lora: LoraConfig,
    device: str,
    model_config,
    *,
    dtype_bytes: int,
    free_bytes: int | None = None,
) -> Acceleration:
    """The run's attention, Liger and checkpointing choices; `free_bytes` defaults to the GPU's free memory."""
    attention = resolve_attention(t, device)
    liger = resolve_liger(t, device)
    if t.gradient_checkpointing != "auto":
        on = bool(t.gradient_checkpointing)
        return Acceleration(attention, liger, on, f"training.gradient_checkpointing: {str(on).lower()}")
    if not device.startswith("cuda"):
        return Acceleration(attention, liger, False, "auto: off on CPU (memory is not the limit there)")
    if free_bytes is None:
        import torch

        free_bytes, _ = torch.cuda.mem_get_info()
    tokens = t.batch_size * t.max_seq_length
    est = estimate_memory(
        model_config,
        tokens=tokens,
        lora=lora,
        dtype_bytes=dtype_bytes,
        fused_cross_entropy=liger,
        eager_attention=attention == "eager",
        seq_len=t.max_seq_length,
    )
    need = int(est.total * 1.1) + GIB
    on = need > free_bytes
    why = (
        f"auto: a batch of {tokens} tokens needs about {need / GIB:.1f} GiB without checkpointing "
        f"(activations {est.activations / GIB:.1f}, logits {est.logits / GIB:.1f}, weights "
        f"{est.weights / GIB:.1f}); {free_bytes / GIB:.1f} GiB free: checkpointing {'on' if on else 'off'}"
    )
    return Acceleration(attention, liger, on, why)
