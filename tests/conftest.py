"""Shared fixtures. Tests never touch the hub: a tiny randomly initialised model is built here in seconds."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# The whole session (subprocesses included) gets its own CODETUNE_HOME, so tests never write into the user's
# ~/.cache/codetune; a CODETUNE_HOME set by CI (to share the converted embedded model) is kept.
if not os.environ.get("CODETUNE_HOME"):
    os.environ["CODETUNE_HOME"] = tempfile.mkdtemp(prefix="codetune-home-")
    atexit.register(shutil.rmtree, os.environ["CODETUNE_HOME"], ignore_errors=True)

REPO = Path(__file__).resolve().parents[1]
SHARED_BENCHMARK = REPO.parent / "shared" / "benchmarks" / "lcb_release_v5_atcoder_easy_2408_2502.jsonl"

# The tiny-model builder lives with the training benchmark that also uses it (benchmarks/ never imports tests/).
_spec = importlib.util.spec_from_file_location("tiny_model", REPO / "benchmarks" / "tiny_model.py")
_tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tiny)
build_tiny_model = _tiny.build_tiny_model


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No test may reach the hub."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """Folder with a tiny random causal LM + tokenizer (ChatML template), built once per test session."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model")


@pytest.fixture(scope="session")
def shared_benchmark() -> Path:
    if not SHARED_BENCHMARK.is_file():
        pytest.skip(f"shared benchmark file not found: {SHARED_BENCHMARK}")
    return SHARED_BENCHMARK


@pytest.fixture(scope="session")
def codetune_home() -> Path:
    """Where the embedded model's conversion and the built-in data are cached for this session."""
    return Path(os.environ["CODETUNE_HOME"])
