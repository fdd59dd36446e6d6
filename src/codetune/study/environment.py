"""Where a study ran: Python, platform, CPU/GPU and library versions (records.Environment)."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from codetune import layout
from codetune.fingerprint import now
from codetune.records import Environment
from codetune.sandbox import isolation_level

PACKAGES = ("codetune", "torch", "transformers", "peft", "datasets", "accelerate", "matplotlib")


def collect_environment(*, with_torch: bool = True) -> Environment:
    versions: dict[str, str | None] = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    accelerator, threads = None, None
    if with_torch:
        import torch

        if torch.cuda.is_available():
            accelerator = f"CUDA: {torch.cuda.get_device_name(0)} (x{torch.cuda.device_count()})"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            accelerator = "Apple MPS"
        threads = torch.get_num_threads()
    return Environment(
        recorded_at=now(),
        python=platform.python_version(),
        platform=platform.platform(),
        machine=platform.machine(),
        cpu_count=os.cpu_count(),
        executable=sys.executable,
        packages=versions,
        accelerator=accelerator,
        torch_threads=threads,
        sandbox=isolation_level(),
    )


def write_environment(study_dir: str | Path) -> Path:
    return collect_environment().write(layout.environment_path(Path(study_dir)))
