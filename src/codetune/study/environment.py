"""Where a study ran: Python, platform, CPU/GPU and library versions, written to STUDY_DIR/environment.json."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from codetune.files import write_json_atomic

ENV_FILE = "environment.json"
PACKAGES = ("codetune", "torch", "transformers", "peft", "trl", "datasets", "accelerate", "matplotlib")


def collect_environment(*, with_torch: bool = True) -> dict:
    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    env = {
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "executable": sys.executable,
        "packages": versions,
        "accelerator": None,
    }
    if with_torch:
        import torch

        if torch.cuda.is_available():
            env["accelerator"] = f"CUDA: {torch.cuda.get_device_name(0)} (x{torch.cuda.device_count()})"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            env["accelerator"] = "Apple MPS"
        env["torch_threads"] = torch.get_num_threads()
    return env


def write_environment(study_dir: str | Path) -> Path:
    path = Path(study_dir) / ENV_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, collect_environment())
    return path
