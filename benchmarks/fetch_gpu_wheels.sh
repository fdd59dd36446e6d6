#!/usr/bin/env bash
# Wheels the GPU suite can bring to a machine that has torch, transformers, peft, accelerate and triton but
# no network: codetune's light dependencies (pydantic, rich), liger-kernel, and TRL with the small part of
# its dependencies (datasets still needs pyarrow and pandas there, or TRL's comparison is skipped).
# Written to .gpu-wheels/ (git-ignored), for CPython 3.10-3.13 on x86_64 Linux; pass it to the device tool
# with carry [".gpu-wheels"]. See the top of benchmarks/gpu_suite.py for the device command.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.gpu-wheels
mkdir -p "$out"
py=${PYTHON:-python}
pure=(rich markdown-it-py mdurl pygments "pydantic==2.14.4" annotated-types typing-inspection
      typing-extensions "trl==1.16.0" datasets dill multiprocess fsspec liger-kernel)
"$py" -m pip download -q --no-deps --only-binary=:all: -d "$out" "${pure[@]}"
for v in 3.10 3.11 3.12 3.13; do  # compiled wheels, one per Python version
  "$py" -m pip download -q --no-deps --only-binary=:all: -d "$out" --python-version "$v" \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 "pydantic-core==2.50.5" xxhash
done
du -sh "$out"
ls "$out"
