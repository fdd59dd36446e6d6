#!/usr/bin/env bash
# Wheels the GPU suite can bring to a machine that has torch, transformers, peft, accelerate and triton but
# no network: codetune's light dependencies (pydantic, rich, pyyaml), liger-kernel, and TRL with the small part
# of its dependencies (datasets still needs pyarrow and pandas there, or TRL's comparison is skipped).
# Written to .gpu-wheels/ (git-ignored), for CPython 3.12 on x86_64 Linux (the device's Python), at the versions
# of constraints.txt and the GPU lock (TRL, which codetune does not depend on, at the version pinned here); pass it to the
# device tool with carry [".gpu-wheels"]. See the top of benchmarks/gpu_suite.py for the device commands.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.gpu-wheels
mkdir -p "$out"
py=${PYTHON:-python3}
pkgs=(rich markdown-it-py mdurl pygments pydantic pydantic-core annotated-types typing-inspection typing-extensions
      pyyaml "trl==1.16.0" datasets dill multiprocess fsspec xxhash liger-kernel)
"$py" -m pip download -q --no-deps --only-binary=:all: -c constraints.txt -c requirements-gpu.txt -d "$out" --python-version 3.12 \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 "${pkgs[@]}"
du -sh "$out"
ls "$out"
