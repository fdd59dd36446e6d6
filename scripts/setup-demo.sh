#!/usr/bin/env bash
# Fresh machine -> the whole demo study on the embedded default (CPU, no network at run time).
# Creates .venv, installs codetune (torch first, pinned: a looser pin downloads a multi-GB CUDA build),
# then runs `codetune demo`. Extra arguments go to `codetune demo` (e.g. --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install.sh
codetune demo "$@"
