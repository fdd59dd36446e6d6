"""A tiny randomly initialised Llama-architecture causal LM with a real byte-level BPE tokenizer and ChatML,
built in seconds: the model of benchmarks/train_throughput.py and of the test suite (tests/conftest.py loads
this file). One copy, imported by both."""

from __future__ import annotations

from pathlib import Path

# ChatML, as Qwen2.5 and SmolLM2 use: the assistant answer ends with <|im_end|>.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build_tiny_model(path: Path, *, vocab_size: int = 384, hidden: int = 32, layers: int = 2) -> Path:
    """A randomly initialised Llama-architecture causal LM with a real byte-level BPE tokenizer and ChatML."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    corpus = [
        "def solve():\n    n = int(input())\n    print(n * 2)\n",
        "Read the problem carefully. You are an expert Python programmer.",
        "```python\nimport sys\nfor line in sys.stdin:\n    print(line.strip()[::-1])\n```",
        "system user assistant Input Output Constraints Sample the of and a to is",
    ] * 20
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tk.train_from_iterator(corpus, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        unk_token=None,
    )
    tok.chat_template = CHAT_TEMPLATE
    path.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(path)
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(cfg).save_pretrained(path)
    return path
