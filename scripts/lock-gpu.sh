#!/usr/bin/env bash
# Resolve the GPU stack -- codetune with vLLM (CUDA), Liger and bitsandbytes, through constraints.txt -- for
# Linux x86-64 (glibc 2.35+: Ubuntu 22.04, Colab) and Python 3.12 with PyPI's wheels (torch 2.13.0 there is the CUDA build), from metadata alone,
# and write it to requirements-gpu.txt, which scripts/setup-gpu.sh installs. tests/test_gpu_lock.py resolves it
# again in CI. Needs uv (pip install uv; in the test extras). --check: resolve and compare, write nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
uv=(uv)
command -v uv >/dev/null || uv=(python -m uv)
args=(pip compile pyproject.toml --extra vllm --extra gpu --extra qlora -c constraints.txt
      --python-platform x86_64-manylinux_2_35 --python-version 3.12 --no-build --annotation-style line
      --custom-compile-command "bash scripts/lock-gpu.sh")
export UV_PYTHON_DOWNLOADS=never  # the resolve needs no interpreter of its own
if [ "${1:-}" = "--check" ]; then
  "${uv[@]}" "${args[@]}" -c requirements-gpu.txt --no-header
else
  "${uv[@]}" "${args[@]}" -q -o requirements-gpu.txt
  echo "wrote requirements-gpu.txt ($(grep -c '==' requirements-gpu.txt) packages)"
fi
