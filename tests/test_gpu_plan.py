"""A 16 GB GPU without bf16 (Colab's T4, where the seed study ran), and an 80 GB one, as codetune resolves them.

The device is monkeypatched (torch.cuda answers as on the card); the model is Qwen2.5-Coder-1.5B-Instruct's
architecture (its config.json values), so the memory estimate is the seed study's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from codetune.cli import app
from codetune.config import ModelConfig, load_config
from codetune.errors import CodetuneError
from codetune.gpu import detect_card, training_plan
from codetune.models import resolve_dtype, resolved_model

REPO = Path(__file__).resolve().parents[1]
GIB = 1024**3
# Qwen2.5-Coder-1.5B-Instruct's config.json (architecture values)
QWEN_CODER_1_5B = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "vocab_size": 151936,
    "hidden_size": 1536,
    "intermediate_size": 8960,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "max_position_embeddings": 32768,
    "tie_word_embeddings": True,
}


def fake_card(monkeypatch, name: str, capability: tuple[int, int], total_gib: float, free_gib: float) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    monkeypatch.setattr(
        torch.cuda, "mem_get_info", lambda device=None: (int(free_gib * GIB), int(total_gib * GIB))
    )
    # torch says yes on a T4 too: it counts emulated bf16 (including_emulation=True by default)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)


@pytest.fixture
def seed_cfg(tmp_path):
    model = tmp_path / "qwen2.5-coder-1.5b-config"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(QWEN_CODER_1_5B))
    return load_config(
        REPO / "configs" / "seed-qwen2.5-coder-1.5b.yaml",
        [f"model.source={json.dumps(str(model))}", f"output_dir={json.dumps(str(tmp_path / 'study'))}"],
    )


def test_t4_auto_is_float16_and_bf16_is_refused(monkeypatch):
    fake_card(monkeypatch, "Tesla T4", (7, 5), 15.6, 15.3)
    assert resolve_dtype("auto", "cuda") == torch.float16
    assert resolved_model(ModelConfig(source="x", device="auto", dtype="auto")) == {
        "device": "cuda",
        "dtype": "float16",
    }
    with pytest.raises(
        CodetuneError, match=r"model.dtype: bfloat16 needs compute capability 8.0.*Tesla T4 is 7.5"
    ):
        resolve_dtype("bfloat16", "cuda")
    assert resolve_dtype("float16", "cuda") == torch.float16


def test_ampere_and_newer_auto_is_bfloat16(monkeypatch):
    fake_card(monkeypatch, "NVIDIA H100 80GB HBM3", (9, 0), 79.1, 78.5)
    assert resolve_dtype("auto", "cuda") == torch.bfloat16
    assert resolve_dtype("auto", "cpu") == torch.float32


def test_seed_plan_on_a_t4_checkpoints_in_float16_and_not_on_an_h100(monkeypatch, seed_cfg):
    fake_card(monkeypatch, "Tesla T4", (7, 5), 15.6, 15.3)
    t4 = training_plan(seed_cfg, detect_card(), local_only=True)
    assert t4["device"] == "Tesla T4" and t4["dtype"] == "float16"
    assert t4["gradient_checkpointing"] is True
    # the seed's batch: 4 x 2048 tokens; without Liger the logits over 151,936 entries count
    assert "a batch of 8192 tokens needs about" in t4["estimate"] and "15.3 GiB free" in t4["estimate"]
    fake_card(monkeypatch, "NVIDIA H100 80GB HBM3", (9, 0), 79.1, 78.5)
    h100 = training_plan(seed_cfg, detect_card(), local_only=True)
    assert h100["dtype"] == "bfloat16" and h100["gradient_checkpointing"] is False
    need = float(h100["estimate"].split("needs about ")[1].split(" GiB")[0])
    assert 15.3 < need < 78.5  # what decides the two: the same estimate against each card's free memory


def test_lora_weights_stay_float32_under_a_float16_base(tiny_model_dir, tmp_path):
    """fp16 training's GradScaler cannot unscale fp16 gradients: the trainable (LoRA) weights must be fp32."""
    from transformers import AutoModelForCausalLM

    from codetune.config import LoraConfig
    from codetune.models import wrap_lora

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float16)
    model = wrap_lora(base, LoraConfig(r=4, alpha=8), gradient_checkpointing=False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and {p.dtype for p in trainable} == {torch.float32}
    assert any(p.dtype == torch.float16 for p in model.parameters() if not p.requires_grad)


def test_study_dry_run_prints_the_plan_for_the_card(monkeypatch, seed_cfg, tmp_path):
    fake_card(monkeypatch, "Tesla T4", (7, 5), 15.6, 15.3)
    config = tmp_path / "seed.yaml"
    import yaml

    config.write_text(yaml.safe_dump(seed_cfg.model_dump(mode="json", exclude={"path"})))
    res = CliRunner().invoke(app, ["study", str(config), "--dry-run"])
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert (
        "training on Tesla T4: float16; gradient checkpointing auto: a batch of 8192 tokens needs about"
        in out
    )
    assert "15.3 GiB free: checkpointing on" in out
