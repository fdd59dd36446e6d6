#!/usr/bin/env bash
# Debian packages codetune uses: bubblewrap (sandbox isolation: setup-demo.sh installs only this one) and
# chromium (the report's rendering check, tests only). Usage: install-system-packages.sh [PACKAGE ...]
# (default: bubblewrap chromium). Needs root or sudo; does nothing when they are already there.
set -euo pipefail
[ $# -eq 0 ] && set -- bubblewrap chromium
need=()
for pkg in "$@"; do
  case "$pkg" in
    bubblewrap) cmd=bwrap ;;
    *) cmd="$pkg" ;;
  esac
  command -v "$cmd" >/dev/null || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-system-packages.sh: not root and no sudo: cannot install ${need[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
command -v apt-get >/dev/null || { echo "install-system-packages.sh: no apt-get: install ${need[*]} with your system's package manager" >&2; exit 1; }
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
