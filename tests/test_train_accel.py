"""Hardware options of a run: attention, Liger kernels, gradient checkpointing by memory estimate.

CPU only here: each option either falls back (auto) or fails with one line naming its key; the memory
estimate decides checkpointing for Qwen2.5-Coder-1.5B's shape as the README says; packing with a document
mask gives the padded loss."""

from __future__ import annotations

import sys
import types

import pytest

from codetune.config import LoraConfig, TrainingConfig, load_config
from codetune.errors import CodetuneError
from codetune.layout import run_summary_path
from codetune.records import RunSummary
from codetune.train.accel import GIB, estimate_memory, lora_parameter_count, resolve_acceleration
from helpers import write_config

# Qwen2.5-Coder-1.5B-Instruct's config.json (the shape the seed study trains)
QWEN_1_5B = types.SimpleNamespace(
    vocab_size=151936,
    hidden_size=1536,
    intermediate_size=8960,
    num_hidden_layers=28,
    num_attention_heads=12,
    num_key_value_heads=2,
    tie_word_embeddings=True,
)


def test_lora_and_weight_counts_match_the_architecture():
    # 18.5 M LoRA parameters at r=16 on all linear layers; 1.54 B parameters (README "Scaling up").
    assert lora_parameter_count(QWEN_1_5B, LoraConfig(r=16)) == 18_464_768
    est = estimate_memory(QWEN_1_5B, tokens=1, lora=LoraConfig(), dtype_bytes=2, fused_cross_entropy=True)
    assert est.weights / 2 == pytest.approx(1.54e9, rel=0.01)


def test_checkpointing_auto_follows_free_memory():
    seed = TrainingConfig(batch_size=4, max_seq_length=2048)  # the seed recipe: 4 x 2048 per step
    lora = LoraConfig()

    def decide(free_gib: float, t=seed, **kw) -> bool:
        acc = resolve_acceleration(
            t, lora, "cuda", QWEN_1_5B, dtype_bytes=2, free_bytes=int(free_gib * GIB), **kw
        )
        assert acc.why_checkpointing.endswith(
            "checkpointing " + ("on" if acc.gradient_checkpointing else "off")
        )
        return acc.gradient_checkpointing

    assert decide(22) is True  # a 24 GB card needs it
    assert decide(78) is False  # an 80 GB one does not
    big = TrainingConfig(batch_size=8, max_seq_length=2048)
    assert decide(78, big) is True and decide(138, big) is False
    # Explicit settings win; CPU never checkpoints on auto.
    assert resolve_acceleration(
        TrainingConfig(gradient_checkpointing=True), lora, "cuda", QWEN_1_5B, dtype_bytes=2, free_bytes=10**15
    ).gradient_checkpointing
    assert not resolve_acceleration(seed, lora, "cpu", QWEN_1_5B, dtype_bytes=4).gradient_checkpointing


def test_fused_cross_entropy_drops_the_logits_from_the_estimate():
    kw = dict(tokens=8192, lora=LoraConfig(), dtype_bytes=2)
    plain = estimate_memory(QWEN_1_5B, fused_cross_entropy=False, **kw)
    fused = estimate_memory(QWEN_1_5B, fused_cross_entropy=True, **kw)
    assert fused.logits == 0 and plain.logits / GIB == pytest.approx(8192 * 151936 * 10 / GIB)
    assert plain.total - fused.total > 10 * GIB  # the vocabulary dominates: >10 GiB at 4 x 2048 tokens


def test_options_fall_back_or_fail_clearly_without_cuda_or_liger(monkeypatch):
    lora = LoraConfig()
    cpu = dict(dtype_bytes=4)
    auto = resolve_acceleration(
        TrainingConfig(attention="auto", liger_kernel="auto"), lora, "cpu", QWEN_1_5B, **cpu
    )
    assert (auto.attention, auto.liger_kernel, auto.gradient_checkpointing) == (None, False, False)
    for attention in ("flex_attention", "flash_attention_2"):
        with pytest.raises(CodetuneError, match=f"training.attention: {attention} trains on CUDA only"):
            resolve_acceleration(TrainingConfig(attention=attention), lora, "cpu", QWEN_1_5B, **cpu)
    with pytest.raises(CodetuneError, match="training.liger_kernel: Liger's Triton kernels need a CUDA GPU"):
        resolve_acceleration(TrainingConfig(liger_kernel=True), lora, "cpu", QWEN_1_5B, **cpu)
    # On a GPU without the packages: auto falls back, an explicit request names the install.
    monkeypatch.setitem(sys.modules, "flash_attn", None)
    monkeypatch.setattr("transformers.utils.is_liger_kernel_available", lambda: False)
    gpu = dict(dtype_bytes=2, free_bytes=1000 * GIB)
    acc = resolve_acceleration(
        TrainingConfig(packing=True, liger_kernel="auto"), lora, "cuda", QWEN_1_5B, **gpu
    )
    assert acc.attention is None and acc.liger_kernel is False
    with pytest.raises(CodetuneError, match=r"needs liger-kernel.*setup-gpu.sh"):
        resolve_acceleration(TrainingConfig(liger_kernel=True), lora, "cuda", QWEN_1_5B, **gpu)
    monkeypatch.setattr("transformers.utils.is_liger_kernel_available", lambda: True)
    assert resolve_acceleration(
        TrainingConfig(liger_kernel="auto"), lora, "cuda", QWEN_1_5B, **gpu
    ).liger_kernel


def test_train_refuses_flex_attention_on_cpu_before_touching_the_run(tmp_path, tiny_model_dir):
    from codetune.layout import run_dir
    from codetune.train.run import train_run

    cfg = load_config(write_config(tmp_path, tiny_model_dir, attention="flex_attention", packing=True))
    with pytest.raises(CodetuneError, match="training.attention: flex_attention trains on CUDA only"):
        train_run(cfg, "a")
    assert not run_dir(cfg.output_path, "a").exists()


def test_run_records_the_resolved_options(tmp_path, tiny_model_dir):
    import torch

    from codetune.train.build import checkpointing_arg, training_arguments
    from codetune.train.run import train_run

    cfg = load_config(
        write_config(tmp_path, tiny_model_dir, max_steps=2, eval_every=2, save_every=2, attention="eager")
    )
    rdir = train_run(cfg, "a")
    recorded = RunSummary.read(run_summary_path(rdir)).acceleration
    assert recorded == {
        "attention": "eager",
        "liger_kernel": False,
        "gradient_checkpointing": False,
        "why_checkpointing": "auto: off on CPU (memory is not the limit there)",
    }
    from codetune.train.accel import Acceleration

    accel = Acceleration(None, True, True, "test")
    args = training_arguments(cfg.training, tmp_path / "x", "cpu", accel, dtype=torch.float32, run_name="t/x")
    assert args.use_liger_kernel and getattr(args, checkpointing_arg())  # its name depends on transformers


def _rows_and_model(attn: str):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        use_cache=False,  # as Trainer sets it: a cache would switch off packed masks
    )
    model = LlamaForCausalLM._from_config(cfg, attn_implementation=attn).eval()
    rows = []
    for n in (7, 12, 5):
        ids = torch.randint(0, 128, (n,)).tolist()
        rows.append({"input_ids": ids, "labels": [-100, -100] + ids[2:]})
    return model, rows


def _packed_vs_padded(packed_attn: str) -> float:
    """Largest logit difference between the packed batch (under `packed_attn`) and the padded one (sdpa),
    same weights; the mean losses must agree too."""
    import torch

    from codetune.train.collate import PackingCollator, PadCollator

    model, rows = _rows_and_model("sdpa")
    packed_model, _ = _rows_and_model(packed_attn)
    padded, packed = PadCollator(0)(rows), PackingCollator()(rows)
    with torch.no_grad():
        pad_out = model(**padded)
        pack_out = packed_model(**packed)
    off, worst = 0, 0.0
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        diff = (pad_out.logits[i, :n] - pack_out.logits[0, off : off + n]).abs().max().item()
        worst, off = max(worst, diff), off + n
    assert pack_out.loss.item() == pytest.approx(pad_out.loss.item(), rel=1e-6)
    return worst


def test_packing_keeps_sequences_apart_with_sdpa():
    # Every row's logits, not only the mean loss: a token attending across a boundary changes them by ~0.1.
    assert _packed_vs_padded("sdpa") < 1e-5


def test_packing_with_flex_attention_document_mask_matches_padding(monkeypatch):
    """transformers' document mask for packed rows (the BlockMask flex attention trains with on CUDA) keeps
    the sequences apart. Run through torch's eager flex_attention, its reference implementation: inductor's
    compiled CPU kernel, which transformers would otherwise use, gave wrong losses on an AVX2-only AMD EPYC
    (NaN under pytest, 4.8855 against the padded 4.8837), and codetune never trains with flex on CPU."""
    from torch.nn.attention.flex_attention import flex_attention
    from transformers.integrations import flex_attention as hf_flex

    monkeypatch.setattr(hf_flex.WrappedFlexAttention, "__call__", lambda self: flex_attention)
    assert _packed_vs_padded("flex_attention") < 1e-5
