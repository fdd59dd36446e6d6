"""The same run under `torchrun` with 2 CPU processes (gloo) matches one process with the same global batch."""

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
from codetune.layout import METRICS_FILE, list_checkpoints, run_dir
from codetune.train.summary import read_metrics
from test_train import _one_thread, write_config  # noqa: F401  (_one_thread: autouse fixture)

REPO = Path(__file__).resolve().parents[1]
ACCELERATE_CONFIGS = REPO / "configs" / "accelerate"


@pytest.mark.slow
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_match_one_process(tmp_path, tiny_model_dir):
    from codetune.train.run import train_run

    # Dropout 0: each process draws its own dropout masks, which one process would draw differently.
    common = {"max_steps": 6, "eval_every": 2, "save_every": 3}
    single_cfg = write_config(tmp_path / "single", tiny_model_dir, batch_size=4, **common)
    ddp_cfg = write_config(tmp_path / "ddp", tiny_model_dir, batch_size=2, **common)  # 2 x 2 = 4 per step
    for path in (single_cfg, ddp_cfg):
        doc = yaml.safe_load(path.read_text())
        doc["lora"]["dropout"] = 0.0
        path.write_text(yaml.safe_dump(doc))

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
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
    assert json.loads((ddp / "summary.json").read_text())["steps"] == 6


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
