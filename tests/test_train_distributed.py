"""The same run with 2 CPU processes (gloo) matches one process with the same global batch: DDP under `torchrun`,
FSDP2 under `accelerate launch` with the shipped configs/accelerate/fsdp.yaml, checkpoints and resume included;
DeepSpeed, GPU-only, stops a CPU run with one line."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from codetune.config import load_config
from codetune.errors import CodetuneError
from codetune.layout import METRICS_FILE, list_checkpoints, run_dir
from codetune.train.summary import read_metrics
from helpers import write_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]
ACCELERATE_CONFIGS = REPO / "configs" / "accelerate"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _global_batch_configs(tmp_path: Path, model_dir: Path, **training) -> tuple[Path, Path]:
    """One process with batch 4 and two processes with batch 2 each: the same rows make up each step."""
    # Dropout 0: each process draws its own dropout masks, which one process would draw differently.
    single_cfg = write_config(tmp_path / "single", model_dir, batch_size=4, **training)
    multi_cfg = write_config(tmp_path / "multi", model_dir, batch_size=2, **training)  # 2 x 2 = 4 per step
    for path in (single_cfg, multi_cfg):
        doc = yaml.safe_load(path.read_text())
        doc["lora"]["dropout"] = 0.0
        path.write_text(yaml.safe_dump(doc))
    return single_cfg, multi_cfg


def _child_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path, tiny_model_dir):
    from codetune.train.run import train_run

    single_cfg, ddp_cfg = _global_batch_configs(
        tmp_path, tiny_model_dir, max_steps=6, eval_every=2, save_every=3
    )
    env = _child_env()
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    res = subprocess.run(
        # A port the kernel hands out free now, not a fixed one another run may hold.
        [torchrun, "--nproc_per_node", "2", "--master_port", str(_free_port()), "-m", "codetune"]
        + ["train", str(ddp_cfg), "--run-name", "a"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    single = train_run(load_config(single_cfg), "a")
    ddp = run_dir(load_config(ddp_cfg).output_path, "a")

    want, got = read_metrics(single / METRICS_FILE), read_metrics(ddp / METRICS_FILE)
    assert [r.step for r in got] == [r.step for r in want] == [2, 4, 6]  # written once, by rank 0
    for g, w in zip(got, want, strict=True):
        assert g.tokens_seen == w.tokens_seen, g.step  # counted over both processes
        for key in ("train_loss", "val_loss", "test_loss"):
            assert getattr(g, key) == pytest.approx(getattr(w, key), rel=1e-4), (g.step, key)
    assert [p.name for p in list_checkpoints(ddp)] == [p.name for p in list_checkpoints(single)]
    assert sorted(p.name for p in (ddp / "checkpoints").iterdir()) == sorted(
        p.name for p in list_checkpoints(ddp)
    )
    summary = json.loads((ddp / "summary.json").read_text())
    assert summary["steps"] == 6
    assert summary["acceleration"]["distributed"]["type"] == "MULTI_CPU"  # DDP on gloo
    assert summary["acceleration"]["distributed"]["processes"] == 2


# FSDP2 against one process, measured on this test's 6 steps (2 cores, torch 2.13 CPU, gloo), the same for the
# straight and the resumed run: the largest difference in a train/val/test loss was 2.4e-7 (a train loss;
# val and test were bit-identical), half a float32 step at a loss of 5.9 (one step there is 4.8e-7); in a
# saved LoRA weight 2.2e-8 (weights reach 0.18, where a float32 step is 1.5e-8). Both are fp32 rounding:
# the reduce-scatter sums two half-batch gradients where one process sums the batch in one backward pass,
# and AdamW carries the last bits forward. The loss tolerance (4 float32 steps, 8x the measured difference)
# stays 8x below what a real difference does here: the bf16 autocast that the config's `mixed_precision:
# bf16` gave on CPU before codetune turned it off moved the losses by 1.6e-5 to 7.2e-5. The weight
# tolerance leaves 45x.
FSDP_LOSS_TOL = 2e-6
FSDP_WEIGHT_TOL = 1e-6


def _accelerate_launch(config: Path, *args: str) -> subprocess.CompletedProcess:
    """`accelerate launch` with a shipped config, as the README has it, on 2 processes and a free port (this
    interpreter's accelerate, whatever else is on PATH)."""
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(config),
        "--num_processes",
        "2",
    ]
    cmd += ["--main_process_port", str(_free_port()), "-m", "codetune", *args]
    return subprocess.run(cmd, env=_child_env(), capture_output=True, text=True, timeout=600)


def _lora_weights(checkpoint: Path, base: Path) -> dict:
    """The adapter as PEFT loads it onto the base model (not the file's raw tensors)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), checkpoint)
    return {k: v.detach().clone() for k, v in model.state_dict().items() if "lora_" in k}


def _assert_same_rows(got, want) -> None:
    assert [r.step for r in got] == [r.step for r in want] == [2, 4, 6]  # written once, by rank 0
    for g, w in zip(got, want, strict=True):
        assert g.tokens_seen == w.tokens_seen and g.epoch == w.epoch, g.step  # counted over both processes
        assert g.learning_rate == w.learning_rate, g.step
        for key in ("train_loss", "val_loss", "test_loss"):
            assert abs(getattr(g, key) - getattr(w, key)) <= FSDP_LOSS_TOL, (g.step, key)


def _assert_same_adapters(got_run: Path, want_run: Path, base: Path) -> None:
    got_ckpts, want_ckpts = list_checkpoints(got_run), list_checkpoints(want_run)
    assert [p.name for p in got_ckpts] == [p.name for p in want_ckpts]
    for got_ckpt, want_ckpt in zip(got_ckpts, want_ckpts, strict=True):
        got, want = _lora_weights(got_ckpt, base), _lora_weights(want_ckpt, base)
        assert got.keys() == want.keys() and got
        for k in want:  # whole tensors gathered from the shards, not one process's half
            assert got[k].shape == want[k].shape, k
            assert (got[k] - want[k]).abs().max().item() <= FSDP_WEIGHT_TOL, (got_ckpt.name, k)
        assert any(v.abs().sum() > 0 for k, v in got.items() if "lora_B" in k)  # trained, not the zero init


@pytest.mark.slow
def test_fsdp_on_two_gloo_processes_matches_one_process_with_checkpoints_and_resume(tmp_path, tiny_model_dir):
    """configs/accelerate/fsdp.yaml as shipped (FSDP2, bf16, cpu_ram_efficient_loading, FULL_STATE_DICT) on a
    CPU: the base model and LoRA are sharded across 2 gloo processes, the losses and every saved adapter
    match one process, and a run stopped after its first checkpoint resumes to the same result."""
    import transformers

    from codetune.train.distributed import FSDP_MIN_TRANSFORMERS
    from codetune.train.run import train_run, train_spec

    single_cfg, fsdp_cfg = _global_batch_configs(
        tmp_path, tiny_model_dir, max_steps=6, eval_every=2, save_every=3
    )
    res = _accelerate_launch(ACCELERATE_CONFIGS / "fsdp.yaml", "train", str(fsdp_cfg), "--run-name", "a")
    if tuple(int(x) for x in transformers.__version__.split(".")[:2]) < FSDP_MIN_TRANSFORMERS:
        # measured on 5.19: adapters unlike one process's, and an empty one after --resume: refused, one line
        assert res.returncode != 0, res.stderr[-3000:]  # accelerate exits 1 when a process exits 2
        assert "distributed_type: FSDP (the accelerate config) saves wrong LoRA adapters" in res.stderr
        assert not run_dir(load_config(fsdp_cfg).output_path, "a").exists()
        return
    assert res.returncode == 0, res.stderr[-3000:]
    single = train_run(load_config(single_cfg), "a")
    cfg = load_config(fsdp_cfg)
    fsdp = run_dir(cfg.output_path, "a")

    ckpts = list_checkpoints(fsdp)
    assert [p.name for p in ckpts] == ["checkpoint-step-3-epoch-0", "checkpoint-step-6-epoch-0"]
    for ckpt in ckpts:  # FSDP's own resume state: written only when FSDP (not a DDP fallback) trained
        assert (ckpt / "pytorch_model_fsdp.bin").is_file() and (ckpt / "optimizer.bin").is_file()
        assert not (ckpt / "optimizer.pt").exists()
    want = read_metrics(single / METRICS_FILE)
    first = read_metrics(fsdp / METRICS_FILE)
    _assert_same_rows(first, want)
    _assert_same_adapters(fsdp, single, tiny_model_dir)
    summary = json.loads((fsdp / "summary.json").read_text())
    assert summary["steps"] == 6
    assert summary["acceleration"]["distributed"] == {
        "type": "FSDP",
        "processes": 2,
        "fsdp_version": 2,
        "backend": "gloo",
        "mixed_precision": "no",
    }

    # Stopped after the step-3 checkpoint: what a killed run leaves (no summary, an unfinished stage record,
    # a metrics row past the checkpoint); --resume loads the sharded model and optimizer from step 3.
    shutil.rmtree(ckpts[-1])
    (fsdp / "summary.json").unlink()
    train_spec(cfg, "a").write_record(cfg.output_path, finished=False)
    res = _accelerate_launch(
        ACCELERATE_CONFIGS / "fsdp.yaml", "train", str(fsdp_cfg), "--run-name", "a", "--resume"
    )
    assert res.returncode == 0, res.stderr[-3000:]
    resumed = read_metrics(fsdp / METRICS_FILE)
    assert resumed[0] == first[0]  # the row before the checkpoint is kept, not recomputed from step 0
    _assert_same_rows(resumed, want)
    _assert_same_adapters(fsdp, single, tiny_model_dir)
    assert json.loads((fsdp / "summary.json").read_text())["steps"] == 6
    assert sorted(p.name for p in (fsdp / "checkpoints").iterdir()) == [p.name for p in ckpts]


def test_deepspeed_stops_a_cpu_run_with_one_line(tmp_path, tiny_model_dir):
    """What `accelerate launch --config_file configs/accelerate/deepspeed-zero3.yaml` hands its processes, on
    a machine without CUDA (where deepspeed is installed; without it accelerate's launcher stops first)."""
    cfg_path = write_config(tmp_path, tiny_model_dir)
    ds_env = {
        "ACCELERATE_USE_DEEPSPEED": "true",
        "ACCELERATE_DEEPSPEED_CONFIG_FILE": str(ACCELERATE_CONFIGS / "ds-zero3.json"),
        "ACCELERATE_DEEPSPEED_ZERO3_INIT": "true",
    }
    res = subprocess.run(
        [sys.executable, "-m", "codetune", "train", str(cfg_path), "--run-name", "a"],
        env={**_child_env(), **ds_env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2, res.stderr[-3000:]
    assert res.stderr.strip().splitlines() == [
        "codetune: error: distributed_type: DEEPSPEED (the accelerate config) needs a CUDA GPU; this run is on "
        "cpu (without one, launch with configs/accelerate/fsdp.yaml or ddp.yaml)"
    ]
    assert not run_dir(load_config(cfg_path).output_path, "a").exists()  # refused before the run folder


def test_fsdp1_stops_a_cpu_run_before_the_run_folder(tmp_path, tiny_model_dir, monkeypatch):
    from codetune.train.run import train_run

    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    monkeypatch.setenv("FSDP_VERSION", "1")
    cfg = load_config(write_config(tmp_path, tiny_model_dir))
    with pytest.raises(
        CodetuneError, match=r"^fsdp_config.fsdp_version: 1 \(FSDP1\) needs a CUDA GPU; this run is on cpu"
    ):
        train_run(cfg, "a")
    assert not run_dir(cfg.output_path, "a").exists()


@pytest.mark.parametrize("name", ["ddp.yaml", "fsdp.yaml", "deepspeed-zero2.yaml", "deepspeed-zero3.yaml"])
def test_accelerate_configs_parse(name):
    """Each shipped config is valid YAML that accelerate's own config class accepts."""
    from accelerate.commands.config.config_args import ClusterConfig

    path = ACCELERATE_CONFIGS / name
    doc = yaml.safe_load(path.read_text())
    cfg = ClusterConfig.from_yaml_file(str(path))
    assert cfg.compute_environment.value == "LOCAL_MACHINE"
    assert doc["distributed_type"] in ("MULTI_GPU", "FSDP", "DEEPSPEED")
    if doc["distributed_type"] == "DEEPSPEED":
        stage = int(name.removesuffix(".yaml")[-1])
        ds_json = json.loads((REPO / doc["deepspeed_config"]["deepspeed_config_file"]).read_text())
        assert ds_json["zero_optimization"]["stage"] == stage
        assert ds_json["train_micro_batch_size_per_gpu"] == "auto"  # filled from the codetune config
    if doc["distributed_type"] == "FSDP":
        assert doc["fsdp_config"]["fsdp_version"] == 2
