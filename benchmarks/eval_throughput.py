"""Benchmark generation throughput: codetune's batched generation (batch 8) against one problem at a time.

Same model (the embedded SmolLM2-135M-Instruct unless --model), same problems (the first N of the shared
41-problem LiveCodeBench file), same prompts and decoding (greedy, stop at the end of the code block), one
run each, after a short warm-up. Prints problems/s and generated tokens/s for both, then one JSON line.

    python benchmarks/eval_throughput.py [--problems 8] [--max-new-tokens 128] [--batch-size 8] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from codetune.bench.generate import Decoding, generate_chat
from codetune.bench.lcb import load_benchmark_file
from codetune.bench.prompts import build_prompt
from codetune.config import ModelConfig
from codetune.models import load_model_and_tokenizer

SHARED = (
    Path(__file__).resolve().parents[1] / "tests" / "data" / "lcb_release_v5_atcoder_easy_2408_2502.jsonl"
)
SYSTEM = (
    "You are an expert Python programmer. Please read the problem carefully before writing any Python code."
)


def timed(model, tok, convs, *, batch_size: int, max_new_tokens: int) -> tuple[dict, list[list[str]]]:
    stats: dict = {}
    t0 = time.perf_counter()
    out = generate_chat(
        model,
        tok,
        convs,
        Decoding(max_new_tokens=max_new_tokens, stop_at_code_end=True),
        batch_size=batch_size,
        desc=f"batch {batch_size}",
        stats=stats,
    )
    secs = time.perf_counter() - t0
    return {
        "seconds": round(secs, 2),
        "problems_per_s": round(len(convs) / secs, 4),
        "new_tokens": stats["new_tokens"],
        "tokens_per_s": round(stats["new_tokens"] / secs, 2),
    }, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct", help="model source (alias, folder or hub id)")
    ap.add_argument("--benchmark", type=Path, default=SHARED)
    ap.add_argument("--problems", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's; 1 on a busy machine)"
    )
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    model, tok = load_model_and_tokenizer(ModelConfig(source=args.model))
    problems = load_benchmark_file(args.benchmark)[: args.problems]
    convs = [build_prompt(p, "generic", SYSTEM).messages for p in problems]
    print(f"model {args.model} on {model.device}, {torch.get_num_threads()} threads; {len(convs)} problems")
    generate_chat(
        model, tok, convs[:1], Decoding(max_new_tokens=4), show_progress=False
    )  # warm-up, not measured

    single, single_out = timed(model, tok, convs, batch_size=1, max_new_tokens=args.max_new_tokens)
    batched, batched_out = timed(
        model, tok, convs, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens
    )
    same = sum(a == b for a, b in zip(single_out, batched_out, strict=True))
    speedup = batched["problems_per_s"] / single["problems_per_s"]
    print(f"one at a time : {single['problems_per_s']:.3f} problems/s, {single['tokens_per_s']:.1f} tok/s")
    print(
        f"batch {args.batch_size:<7} : {batched['problems_per_s']:.3f} problems/s, {batched['tokens_per_s']:.1f} tok/s"
    )
    print(f"speedup {speedup:.2f}x; identical greedy answers {same}/{len(convs)}")
    result = {
        "name": "eval_throughput",
        "speedup": round(speedup, 2),
        "baseline": "generate_chat one problem at a time (batch_size=1), same model, prompts and decoding",
        "model": args.model,
        "problems": len(convs),
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        "single": single,
        "batched": batched,
        "identical_answers": same,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
