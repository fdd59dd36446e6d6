#!/usr/bin/env bash
# Fresh machine -> the whole demo study on the embedded default (CPU, no network at run time).
# Creates .venv, installs codetune (torch first, pinned: a looser pin downloads a multi-GB CUDA build) and
# bubblewrap (the sandbox's isolation of model-written code), then runs `codetune demo`. Extra arguments go
# to `codetune demo` (e.g. --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install.sh
if ! scripts/install-system-packages.sh bubblewrap; then
  echo "warning: bubblewrap could not be installed (needs root or sudo, and apt-get): without it and without" \
    "root nothing isolates model-written code, and codetune refuses to run it; install bubblewrap" \
    "(sudo apt-get install bubblewrap), or set CODETUNE_SANDBOX_WEAK=1 to accept running it as your own user" >&2
fi
codetune demo "$@"
