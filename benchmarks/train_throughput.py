"""LoRA training throughput: codetune's recipe against the seed-style recipe and TRL SFTTrainer defaults.

All recipes train the same tiny random Llama (byte-level BPE, ChatML) with the same LoRA settings, batch
size, learning rate and seed, for exactly one epoch of the same rows, so every recipe sees the same
assistant-answer tokens ("useful" tokens: what codetune puts loss on) and the same real tokens.

    seed_style     transformers Trainer, every row padded to max_length, labels = input_ids (no masking)
    trl_defaults   TRL SFTTrainer with SFTConfig defaults (prompt-completion rows: completion-only loss,
                   pad to longest in batch, gradient checkpointing on); fp32 like the others
    codetune       codetune's Trainer as a run builds it (codetune.train.build): dynamic padding +
                   length-grouped batches, answer-only labels; eval and checkpoints never due
    codetune_pack  the same with padding-free packing (training.packing: true)

Prints one line per recipe, then the ratios, then a JSON line (name, speedup = codetune vs seed_style in
useful tokens/s). Defaults take a few minutes on 2 CPU cores.

    python benchmarks/train_throughput.py [--rows 96] [--batch-size 4] [--max-length 512] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")


def synthetic_rows(n: int, seed: int) -> list[dict]:
    """Naholav-schema rows whose lengths are long-tailed, like real problem statements and solutions."""
    rng = random.Random(seed)
    words = "read the input n and print the answer for each query modulo constraints sample output".split()
    rows = []
    for i in range(n):
        statement = " ".join(rng.choice(words) for _ in range(min(60, int(rng.lognormvariate(3.2, 0.5)))))
        lines = [
            f"    x{k} = (x{k - 1} * {rng.randint(2, 99)}) % n"
            for k in range(min(12, int(rng.lognormvariate(1.3, 0.7))))
        ]
        sol = "def solve():\n    n = int(input())\n    x_1 = n\n" + "\n".join(lines) + "\n    print(n)\n"
        rows.append({"id": f"r{i}", "input": f"Problem {i}. {statement}", "output": sol, "solution": sol})
    return rows


class Timer:
    """A TrainerCallback measuring the train loop from its first step to its end."""

    def __new__(cls):
        from transformers import TrainerCallback

        class _Timer(TrainerCallback):
            start = end = 0.0

            def on_train_begin(self, args, state, control, **kw):
                self.start = time.perf_counter()

            def on_train_end(self, args, state, control, **kw):
                self.end = time.perf_counter()

        return _Timer()


def common_args(out: Path, batch_size: int, seed: int, **extra):
    return dict(
        output_dir=str(out),
        per_device_train_batch_size=batch_size,
        num_train_epochs=1,
        learning_rate=2e-4,
        seed=seed,
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        dataloader_pin_memory=False,
        **extra,
    )


LORA = {"r": 16, "alpha": 32, "dropout": 0.05}  # on every linear layer, in every recipe


def lora_config():
    from peft import LoraConfig

    return LoraConfig(
        r=LORA["r"],
        lora_alpha=LORA["alpha"],
        lora_dropout=LORA["dropout"],
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


def fresh_model(model_dir: Path, seed: int):
    import transformers

    transformers.set_seed(seed)
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype="float32")
    return model


def run_seed_style(model_dir, tok, messages, batch_size, max_length, seed, out):
    """Render each chat, pad it to max_length, labels = input_ids: the recipe of many public scripts."""
    import datasets
    from peft import get_peft_model
    from transformers import Trainer, TrainingArguments, default_data_collator

    texts = [tok.apply_chat_template(m, tokenize=False) for m in messages]
    enc = tok(texts, padding="max_length", max_length=max_length, truncation=True)
    enc["labels"] = [list(ids) for ids in enc["input_ids"]]
    ds = datasets.Dataset.from_dict(dict(enc))
    model = get_peft_model(fresh_model(model_dir, seed), lora_config())
    timer = Timer()
    args = TrainingArguments(**common_args(out, batch_size, seed))
    Trainer(
        model=model, args=args, train_dataset=ds, data_collator=default_data_collator, callbacks=[timer]
    ).train()
    return timer.end - timer.start


def run_trl(model_dir, tok, messages, batch_size, max_length, seed, out):
    """TRL SFTTrainer with SFTConfig defaults; prompt-completion conversational rows."""
    import datasets
    from trl import SFTConfig, SFTTrainer

    ds = datasets.Dataset.from_list([{"prompt": m[:-1], "completion": m[-1:]} for m in messages])
    timer = Timer()
    args = SFTConfig(**common_args(out, batch_size, seed, bf16=False))  # fp32 like every recipe on CPU
    trainer = SFTTrainer(
        model=fresh_model(model_dir, seed),
        args=args,
        train_dataset=ds,
        processing_class=tok,
        peft_config=lora_config(),
        callbacks=[timer],
    )
    trainer.train()
    return timer.end - timer.start


def run_codetune(model_dir, tok, data, batch_size, max_length, seed, out, *, packing: bool):
    """codetune's recipe through the builder `codetune train` uses; eval and checkpoints are never due."""
    import torch

    from codetune.config import LoraConfig, TrainingConfig
    from codetune.train.accel import resolve_acceleration
    from codetune.train.build import build_trainer, training_arguments

    lora = LoraConfig(**LORA)
    t = TrainingConfig(
        learning_rate=2e-4,
        epochs=1,
        batch_size=batch_size,
        max_seq_length=max_length,
        seed=seed,
        warmup_ratio=0.0,  # as the other recipes (transformers' default)
        eval_every=10**6,
        save_every=10**6,
        packing=packing,
        report_to=[],
    )
    model = fresh_model(model_dir, seed)
    accel = resolve_acceleration(t, lora, "cpu", model.config, dtype_bytes=4)
    args = training_arguments(t, out, "cpu", accel, dtype=torch.float32, run_name="train-throughput")
    timer = Timer()
    build_trainer(
        model,
        args,
        lora=lora,
        t=t,
        accel=accel,
        train=data.train,
        evals={"val": data.valid, "test": data.test},
        pad_id=tok.pad_token_id,
        rdir=out,
        description=f"train {out.name}",
        callbacks=[timer],
    ).train()
    return timer.end - timer.start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=96)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: stable on a shared machine)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import datasets
    import torch
    import transformers
    from tiny_model import build_tiny_model  # next to this script

    from codetune.config import DatasetConfig, ModelConfig, RunConfig
    from codetune.data.formatting import chat_messages, fenced_code
    from codetune.data.prepare import prepare_run_data
    from codetune.models import load_tokenizer

    torch.set_num_threads(a.threads)
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    tmp = Path(tempfile.mkdtemp(prefix="codetune-train-bench-"))
    model_dir = build_tiny_model(tmp / "model", vocab_size=512, hidden=a.hidden, layers=a.layers)
    # Train rows, plus two distinct problems each for valid and test (the data layer requires them).
    rows = [dict(r, split="train") for r in synthetic_rows(a.rows + 4, a.seed)]
    extra = rows[a.rows :]
    for r, split in zip(extra, ("valid", "valid", "test", "test"), strict=True):
        r["split"] = split
    rows = rows[: a.rows]
    (tmp / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows + extra))
    system = "You are an expert Python programmer. Please read the problem carefully."
    tok = load_tokenizer(ModelConfig(source=str(model_dir), device="cpu", dtype="float32"))
    data = prepare_run_data(
        "bench",
        RunConfig(dataset=DatasetConfig(source=str(tmp / "data.jsonl")), system_prompt=system),
        tok,
        seed=a.seed,
        max_length=a.max_length,
        overlong="drop",
        base_dir=None,
    )
    train = data.train
    if len(train) != a.rows:
        raise SystemExit(f"{a.rows - len(train)} rows exceed --max-length {a.max_length}; raise it")
    useful = sum(sum(1 for x in r if x != -100) for r in train["labels"])
    real = sum(train["length"])
    messages = [chat_messages(r["input"], fenced_code(r["solution"]), system) for r in rows]
    steps = math.ceil(a.rows / a.batch_size)
    print(
        f"{a.rows} rows, {steps} steps of {a.batch_size}, max_length {a.max_length}; tokens: {real} real, "
        f"{useful} useful (answer), mean row {real / a.rows:.0f}, longest {max(train['length'])}; "
        f"model hidden {a.hidden} x {a.layers} layers; torch threads {a.threads}"
    )

    recipes = {
        "seed_style": lambda o: run_seed_style(
            model_dir, tok, messages, a.batch_size, a.max_length, a.seed, o
        ),
        "trl_defaults": lambda o: run_trl(model_dir, tok, messages, a.batch_size, a.max_length, a.seed, o),
        "codetune": lambda o: run_codetune(
            model_dir, tok, data, a.batch_size, a.max_length, a.seed, o, packing=False
        ),
        "codetune_pack": lambda o: run_codetune(
            model_dir, tok, data, a.batch_size, a.max_length, a.seed, o, packing=True
        ),
    }
    results = {}
    for name, fn in recipes.items():
        try:
            seconds = fn(tmp / name)
        except ModuleNotFoundError as e:  # an optional arm (trl_defaults) without its package: the rest run
            print(f"skipped: {name} ({e.name} is not installed)")
            continue
        results[name] = {
            "seconds": round(seconds, 2),
            "useful_tok_s": round(useful / seconds, 1),
            "all_tok_s": round(real / seconds, 1),
        }
        r = results[name]
        print(
            f"{name:14s} {seconds:7.2f} s  useful {r['useful_tok_s']:9.1f} tok/s  all {r['all_tok_s']:9.1f} tok/s"
        )
    base = results["seed_style"]["useful_tok_s"]
    ratios = {name: round(r["useful_tok_s"] / base, 2) for name, r in results.items()}
    vs_trl = None
    if "trl_defaults" in results:
        vs_trl = round(results["codetune"]["useful_tok_s"] / results["trl_defaults"]["useful_tok_s"], 2)
    print("useful tokens/s relative to seed_style: " + ", ".join(f"{k} {v}x" for k, v in ratios.items()))
    print(f"codetune vs trl_defaults: {vs_trl}x" if vs_trl else "codetune vs trl_defaults: not measured")
    print(
        json.dumps(
            {
                "name": "train_throughput",
                "speedup": ratios["codetune"],
                "speedup_packing": ratios["codetune_pack"],
                "speedup_vs_trl_defaults": vs_trl,
                "baseline": "seed_style (pad to max_length, labels = input_ids)",
                "metric": "useful (answer) tokens/s, CPU",
                "rows": a.rows,
                "batch_size": a.batch_size,
                "max_length": a.max_length,
                "threads": a.threads,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
