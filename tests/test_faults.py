"""Faults and hostile input (issue 15), each case as a user meets it: one line and exit 2 (130 for an
interrupt), every JSON file still parseable, no temporary file left behind, no process of ours left running."""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import multiprocessing
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import uuid
import zlib
from pathlib import Path

import pytest
import yaml

from codetune.bench.lcb import encode_private_tests, load_benchmark, load_benchmark_file
from codetune.bench.scoring import load_generations, score_generations
from codetune.config import BenchmarkConfig, parse_config
from codetune.errors import CodetuneError
from codetune.files import (
    check_writable_file,
    is_temporary,
    replace_dir,
    write_error,
    write_json_atomic,
    write_text_atomic,
)
from codetune.layout import LOCK_FILE
from codetune.locks import folder_lock, lock_holder
from helpers import (
    REAP_S,
    marked_processes,
    prepare_study_run,
    sigint_as_default,
    sleeper_program,
    wait_for,
    write_config,
)

REPO = Path(__file__).resolve().parents[1]
IS_ROOT = os.geteuid() == 0


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1", **extra}


def _codetune(*args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "codetune", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(**env),
        cwd=REPO,
    )


def _one_error_line(res: subprocess.CompletedProcess, code: int = 2) -> str:
    """The run failed with `code`, said why in exactly one line, its last, and printed no traceback."""
    assert res.returncode == code, res.stderr[-3000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    said = [ln for ln in lines if ln.startswith("codetune:")]
    assert len(said) == 1 and lines[-1] == said[0] and "Traceback" not in res.stderr, res.stderr[-3000:]
    return said[0]


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if is_temporary(p.name) or p.name.endswith((".tmp", ".tmp-"))]


def _all_json_parses(folder: Path) -> None:
    for p in folder.rglob("*.json"):
        json.loads(p.read_text(encoding="utf-8"))


@pytest.fixture
def bench2(tmp_path, shared_benchmark) -> Path:
    """The first two problems of the shared benchmark."""
    path = tmp_path / "bench2.jsonl"
    path.write_text("".join(shared_benchmark.read_text(encoding="utf-8").splitlines(True)[:2]))
    return path


def _generations(path: Path, bench: Path, code: str) -> Path:
    ids = [json.loads(line)["question_id"] for line in bench.read_text().splitlines() if line.strip()]
    path.write_text(json.dumps([{"question_id": q, "code_list": [code]} for q in ids]))
    return path


@contextlib.contextmanager
def _tmpfs(path: Path, size: str, *, read_only: bool = False):
    """A small tmpfs at `path` (root only): a full disk or a read-only file system for real."""
    if not IS_ROOT:
        pytest.skip("mounting a tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if read_only else "")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)])


def _fill(folder: Path) -> None:
    with contextlib.suppress(OSError), open(folder / "filler", "wb") as f:
        while True:
            f.write(b"\0" * 65536)
            f.flush()


# --- 1. OS errors: one line naming the path, exit 2, checked before the long work ---------------------------


@pytest.mark.parametrize("where", ["a folder", "under a file", "a read-only file system"])
def test_unwritable_score_output_fails_at_once_in_one_line(tmp_path, bench2, where):
    # Programs that would each take the whole timeout: the error must come before any of them runs.
    gens = _generations(tmp_path / "gens.json", bench2, "import time\ntime.sleep(3600)")
    if where == "a folder":
        out = tmp_path / "s.json"
        out.mkdir()
    elif where == "under a file":
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "s.json"
    else:
        out = tmp_path / "ro" / "s.json"
    with (
        _tmpfs(tmp_path / "ro", "1m", read_only=True)
        if where.startswith("a read")
        else contextlib.nullcontext()
    ):
        t0 = time.monotonic()
        # Each program would hold a worker for the 600 s limit: far above any start-up on a loaded machine.
        res = _codetune(
            "score",
            "--benchmark",
            str(bench2),
            "--generations",
            str(gens),
            "--out",
            str(out),
            "--timeout",
            "600",
        )
        line = _one_error_line(res)
        assert time.monotonic() - t0 < 300, "the output path was checked after scoring"
    assert line.startswith(f"codetune: error: {out}: "), line
    assert {"a folder": "is a folder", "under a file": "is a file, not a folder"}.get(
        where, "Read-only"
    ) in line
    assert not _temporaries(tmp_path)


def test_full_disk_during_score_is_one_line_and_keeps_the_old_file(tmp_path, bench2):
    gens = _generations(tmp_path / "gens.json", bench2, "print(input())")
    with _tmpfs(tmp_path / "full", "64k") as full:
        out = full / "s.json"
        out.write_text("[]\n")
        _fill(full)
        res = _codetune("score", "--benchmark", str(bench2), "--generations", str(gens), "--out", str(out))
        line = _one_error_line(res)
        assert line == (
            f"codetune: error: {out}: no space left on {full} (0 MB free); free some space, then rerun the "
            "same command"
        )
        assert json.loads(out.read_text()) == [] and not _temporaries(full)


def test_full_disk_during_training_is_one_line_and_leaves_no_temporary_file(tmp_path, tiny_model_dir):
    with _tmpfs(tmp_path / "disk", "200k") as disk:
        cfg = write_config(disk, tiny_model_dir)  # the run folder lands on the small disk
        res = _codetune("train", str(cfg), "--run", "a")
        line = _one_error_line(res)
        assert "no space left on " in line and str(disk / "out" / "runs" / "a") in line, line
        rdir = disk / "out" / "runs" / "a"
        assert not _temporaries(rdir)
        # Trainer's own half-written `checkpoint-S` folder is removed too; finished checkpoints stay.
        assert all(p.name.startswith("checkpoint-step-") for p in (rdir / "checkpoints").iterdir())
        _all_json_parses(rdir)


def test_a_library_write_error_becomes_an_os_error_naming_the_path(tmp_path):
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    with _tmpfs(tmp_path / "full", "64k") as full:
        _fill(full)
        with pytest.raises(SafetensorError) as info:
            save_file({"w": torch.zeros(100_000)}, str(full / "m.safetensors"))
    err = write_error(info.value, full)
    assert (err.errno, err.filename) == (errno.ENOSPC, str(full))
    # An OSError without a file name (a write on an open file) gets the path it was writing.
    err = write_error(OSError(errno.EIO, "Input/output error"), tmp_path / "x")
    assert (err.errno, err.filename) == (errno.EIO, str(tmp_path / "x"))


def test_a_checkpoint_that_fills_a_disk_says_so_though_removing_it_frees_space(tmp_path):
    """torch.save on a 20 MB disk fails with "unexpected pos" (no errno); removing the half-written checkpoint
    frees the files it had finished (its adapter): the error still says the disk was full."""
    import torch

    from codetune.cli import os_error_line
    from codetune.files import removed_on_failure

    with _tmpfs(tmp_path / "disk", "20m") as disk:
        folder = disk / "checkpoint-4"
        with pytest.raises(OSError) as info, removed_on_failure(folder):
            folder.mkdir()
            (folder / "adapter_model.safetensors").write_bytes(b"\0" * (4 << 20))
            torch.save({"w": torch.zeros(8_000_000)}, folder / "optimizer.pt")  # 32 MB
        assert not folder.exists() and shutil.disk_usage(disk).free >= 4 << 20
    assert isinstance(info.value.__cause__, RuntimeError)  # torch's own error, kept as the cause
    assert os_error_line(info.value) == (
        f"{folder}: no space left on {folder} (0 MB free); free some space, then rerun the same command"
    )


def test_a_write_short_of_disk_space_says_so(tmp_path, monkeypatch):
    """Without a real full disk: a library's write error that names no errno, on a disk with less free space
    than the file needs (more than 1 MB free), is a full disk; with room to spare it is not."""
    err = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")
    free = shutil.disk_usage(tmp_path).free
    assert write_error(err, tmp_path / "m.pt", size=free + (50 << 20)).strerror == (
        f"no space left on {tmp_path} ({free / (1 << 20):.0f} MB free)"
    )
    assert write_error(err, tmp_path / "m.pt", size=1000).errno == errno.EIO


def test_check_writable_file(tmp_path):
    assert (
        check_writable_file(tmp_path / "new" / "deeper" / "s.json") == tmp_path / "new" / "deeper" / "s.json"
    )
    assert (tmp_path / "new" / "deeper").is_dir() and not list((tmp_path / "new" / "deeper").iterdir())
    with pytest.raises(IsADirectoryError, match="folder"):
        check_writable_file(tmp_path / "new")


# --- 2. unique temporary names: concurrent writers of one file ----------------------------------------------


def _write_many(path: str, n: int, tag: int) -> None:
    for i in range(n):
        write_json_atomic(path, {"writer": tag, "i": i, "pad": "x" * 5000})


def test_concurrent_atomic_writes_of_one_file_never_fail(tmp_path):
    path = tmp_path / "s.json"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(path), 300, t)) for t in range(2)]
    for p in procs:
        p.start()
    seen = 0
    while any(p.is_alive() for p in procs):  # a reader meanwhile always finds a whole file
        if path.exists():
            json.loads(path.read_text())
            seen += 1
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0, 0] and seen
    assert json.loads(path.read_text())["i"] == 299 and not _temporaries(tmp_path)


def test_two_scores_with_the_same_out_both_succeed(tmp_path, bench2):
    gens = _generations(tmp_path / "gens.json", bench2, "print(input())")
    out = tmp_path / "s.json"
    cmd = [sys.executable, "-m", "codetune", "score", "--benchmark", str(bench2), "--generations", str(gens)]
    for _ in range(2):
        procs = [
            subprocess.Popen([*cmd, "--out", str(out), "--workers", "1"], env=_env(), stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        errs = [p.communicate(timeout=120)[1].decode() for p in procs]
        assert [p.returncode for p in procs] == [0, 0], errs
        assert len(json.loads(out.read_text())) == 2 and not _temporaries(tmp_path)


def test_a_failed_write_removes_its_temporary_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "s.json"
    write_json_atomic(path, {"v": 1})

    def broken_fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError) as info:
        write_json_atomic(path, {"v": 2})
    assert info.value.filename == str(path)
    assert info.value.strerror.startswith(f"no space left on {tmp_path} (")
    assert json.loads(path.read_text()) == {"v": 1} and not _temporaries(tmp_path)


def test_replace_dir_swaps_a_whole_folder(tmp_path):
    old, new = tmp_path / "ckpt", tmp_path / "ckpt-new"
    old.mkdir()
    (old / "a").write_text("old")
    new.mkdir()
    (new / "b").write_text("new")
    replace_dir(new, old)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"] and (old / "b").read_text() == "new"


# --- 3. one writer per run folder and per study folder ------------------------------------------------------


def test_a_second_train_of_the_same_run_is_refused_naming_the_holder(tmp_path, tiny_model_dir):
    cfg = write_config(tmp_path, tiny_model_dir)
    rdir = tmp_path / "out" / "runs" / "a"
    (tmp_path / "out" / "stages").mkdir(parents=True)  # as the first train left its study folder
    with folder_lock(rdir, "run folder"):
        res = _codetune("train", str(cfg), "--run", "a")
    line = _one_error_line(res)
    assert str(rdir) in line and f"pid {os.getpid()}" in line, line
    assert not (rdir / "metrics.jsonl").exists()


def test_a_second_eval_of_the_same_study_is_refused(tmp_path, tiny_model_dir, bench2):
    cfg = _study_config(tmp_path, tiny_model_dir, bench2)
    with folder_lock(tmp_path / "study", "study folder"):
        res = _codetune("eval", str(cfg), "--include-base")
    line = _one_error_line(res)
    assert str(tmp_path / "study") in line and f"pid {os.getpid()}" in line, line


_HOLD = "import sys, time\nfrom codetune.locks import folder_lock\nwith folder_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(600)\n"


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path)], env=_env(), stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline() == "held\n"
    assert lock_holder(tmp_path) == holder.pid
    with pytest.raises(CodetuneError, match=rf"{tmp_path} is being written by .*pid {holder.pid}"):
        with folder_lock(tmp_path):
            pass
    holder.kill()
    holder.wait()
    with folder_lock(tmp_path):  # kill -9 released it: the kernel drops a dead process's locks
        assert lock_holder(tmp_path) == os.getpid()
    assert (tmp_path / LOCK_FILE).exists()


_TRY = (
    "import sys\nfrom codetune.errors import CodetuneError\nfrom codetune.locks import folder_lock\n"
    "try:\n    with folder_lock(sys.argv[1]):\n        print('took')\nexcept CodetuneError:\n    print('refused')\n"
)


def test_the_lock_is_reentrant_within_one_process(tmp_path):
    def another_process() -> str:
        cmd = [sys.executable, "-c", _TRY, str(tmp_path)]
        return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120).stdout.strip()

    with folder_lock(tmp_path):
        with folder_lock(tmp_path):  # a study evaluating holds the study lock twice
            pass
        assert another_process() == "refused"  # leaving the inner block kept the outer block's lock
    assert another_process() == "took"  # leaving the outer one released it


def test_under_a_launcher_only_process_zero_locks_the_run(tmp_path, monkeypatch, tiny_model_dir):
    from codetune.config import load_config
    from codetune.train import run as run_mod

    cfg = load_config(write_config(tmp_path, tiny_model_dir))
    monkeypatch.setattr(run_mod, "_train_run", lambda cfg, name, **kw: run_mod.run_dir(cfg.output_path, name))
    rdir = tmp_path / "out" / "runs" / "a"
    (tmp_path / "out" / "stages").mkdir(parents=True)  # as rank 0 left its study folder
    rank0 = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(rdir)], env=_env(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert rank0.stdout.readline() == "held\n"
        monkeypatch.setenv("RANK", "1")  # another process of the same launch: it neither waits nor is refused
        assert run_mod.train_run(cfg, "a") == rdir
        monkeypatch.setenv("RANK", "0")  # a second launch's process 0 is refused
        with pytest.raises(CodetuneError, match=f"pid {rank0.pid}"):
            run_mod.train_run(cfg, "a")
    finally:
        rank0.kill()
        rank0.wait()


def test_train_overwrite_beside_a_study_of_the_same_folder_is_refused(tmp_path, monkeypatch, tiny_model_dir):
    """Issue 29.11: a study (another process) holds its folder while it evaluates the run; `codetune train
    --overwrite` of that run is refused naming the study folder and its pid, and deletes nothing."""
    from codetune.config import load_config
    from codetune.train import run as run_mod

    cfg = load_config(write_config(tmp_path, tiny_model_dir))
    out = tmp_path / "out"
    evaluation = out / "runs" / "a" / "eval" / "checkpoint-step-2-epoch-0" / "generations.partial.jsonl"
    evaluation.parent.mkdir(parents=True)
    evaluation.write_text("{}\n")
    (out / "stages").mkdir()
    trained = []
    monkeypatch.setattr(run_mod, "_train_run", lambda cfg, name, **kw: trained.append(name))
    study = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(out)], env=_env(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert study.stdout.readline() == "held\n"
        with pytest.raises(CodetuneError, match=rf"study folder {out} is being written by .*pid {study.pid}"):
            run_mod.train_run(cfg, "a", overwrite=True)
    finally:
        study.kill()
        study.wait()
    assert trained == [] and evaluation.read_text() == "{}\n"


# --- 4 and 5. Ctrl-C, SIGTERM, kill -9: one line, and no process of ours left -------------------------------


def _interrupt(cmd: list[str], mark: str, sig: int, env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        preexec_fn=sigint_as_default,  # as from a terminal, even when the suite runs in the background
    )
    try:
        assert wait_for(lambda: len(marked_processes(mark)) >= 2 or proc.poll() is not None, 120)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        # What the walk of /proc finds: every process running the programs, whatever their session or parent.
        assert wait_for(lambda: not marked_processes(mark), REAP_S), (
            f"still running: {marked_processes(mark)}"
        )
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in marked_processes(mark):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    "sig, bwrap",
    [(signal.SIGINT, "1"), (signal.SIGINT, "0"), (signal.SIGTERM, "1"), (signal.SIGKILL, "0")],
    ids=["ctrl-c", "ctrl-c-without-bwrap", "sigterm", "kill-9-without-bwrap"],
)
def test_interrupted_score_leaves_nothing_running(tmp_path, bench2, sig, bwrap):
    mark = f"cts{uuid.uuid4().hex[:8]}"
    gens = _generations(tmp_path / "gens.json", bench2, sleeper_program(mark))
    cmd = [sys.executable, "-m", "codetune", "score", "--benchmark", str(bench2), "--generations", str(gens)]
    cmd += ["--out", str(tmp_path / "s.json"), "--timeout", "1000"]  # a wall limit of half an hour
    res = _interrupt(cmd, mark, sig, _env(CODETUNE_SANDBOX_BWRAP=bwrap))
    if sig == signal.SIGKILL:
        assert res.returncode == -signal.SIGKILL
    else:
        assert _one_error_line(res, 130) == "codetune: interrupted; rerun the same command to resume"
    assert not (tmp_path / "s.json").exists() and not _temporaries(tmp_path)


def _study_config(tmp_path: Path, model_dir: Path, bench: Path) -> Path:
    doc = {
        "model": {"source": str(model_dir), "device": "cpu", "dtype": "float32"},
        "runs": {"r1": {"dataset": {"source": "unused.jsonl"}}},
        "benchmark": {"source": str(bench), "generation": {"max_new_tokens": 8}, "timeout_s": 1000.0},
        "output_dir": str(tmp_path / "study"),
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


# `codetune eval` whose model answers every problem with `sys.argv[2]` (the generator is replaced, the rest
# of the evaluation is the real one).
_EVAL_ANSWERING = """
import sys
from codetune.bench import generate
answer = "```python\\n" + sys.argv[2] + "```\\n"
def answering(model, tok, prompts, decoding, *, on_result=None, **kw):
    out = [[answer] * decoding.n for _ in prompts]
    for i, answers in enumerate(out):
        if on_result is not None:
            on_result(i, answers)
    return out
generate.generate_texts = answering
sys.argv = ["codetune", "eval", sys.argv[1], "--include-base"]
from codetune.cli import main
main()
"""


def test_interrupted_eval_leaves_nothing_running_and_keeps_its_generations(tmp_path, tiny_model_dir, bench2):
    from codetune.layout import base_eval_dir, generations_partial_path

    cfg_path = _study_config(tmp_path, tiny_model_dir, bench2)
    mark = f"cte{uuid.uuid4().hex[:8]}"
    cmd = [sys.executable, "-c", _EVAL_ANSWERING, str(cfg_path), sleeper_program(mark)]
    res = _interrupt(cmd, mark, signal.SIGINT, _env())
    assert _one_error_line(res, 130) == "codetune: interrupted; rerun the same command to resume"
    study = tmp_path / "study"
    assert not _temporaries(study)
    _all_json_parses(study)
    partial = generations_partial_path(base_eval_dir(study))
    assert len(partial.read_text().splitlines()) == 2  # kept: the rerun scores them without generating


# --- 6. a zlib bomb in a benchmark row ----------------------------------------------------------------------


def _bomb(n_bytes: int) -> str:
    """base64(zlib(pickle(str))) of `n_bytes` characters, a few hundred kB on the wire."""
    c = zlib.compressobj(9)
    parts = [c.compress(b"\x80\x02X" + struct.pack("<I", n_bytes))]
    chunk = b"a" * (1 << 20)
    parts += [c.compress(chunk) for _ in range(n_bytes >> 20)]
    parts += [c.compress(b"."), c.flush()]
    return base64.b64encode(b"".join(parts)).decode()


_PEAK = """
import resource, sys
from codetune.bench.lcb import load_benchmark
from codetune.config import BenchmarkConfig
from codetune.errors import CodetuneError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_benchmark(BenchmarkConfig(source=sys.argv[1], max_private_tests_mb=int(sys.argv[2])), report=lambda _: None)
    print("loaded")
except CodetuneError as e:
    print(e)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_a_zlib_bomb_is_refused_at_the_cap_without_using_the_memory(tmp_path, bench2):
    row = json.loads(bench2.read_text().splitlines()[0])
    row.update(question_id="bomb_1", private_test_cases=_bomb(512 << 20))
    path = tmp_path / "bomb.jsonl"
    path.write_text(json.dumps(row) + "\n")
    assert path.stat().st_size < 1_000_000
    res = subprocess.run(
        [sys.executable, "-c", _PEAK, str(path), "16"], capture_output=True, text=True, env=_env()
    )
    message, peak_mb = res.stdout.splitlines()
    assert (
        "question_id bomb_1" in message and "more than 16 MB" in message and "max_private_tests_mb" in message
    )
    assert int(peak_mb) < 100, f"peak memory grew by {peak_mb} MB for a 512 MB bomb under a 16 MB cap"


def test_private_tests_under_the_cap_still_decode(tmp_path, bench2):
    row = json.loads(bench2.read_text().splitlines()[0])
    tests = [{"input": "1\n" * 300_000, "output": "2\n", "testtype": "stdin"}]  # 600 kB of JSON
    row["private_test_cases"] = encode_private_tests(json.dumps(tests))
    path = tmp_path / "ok.jsonl"
    path.write_text(json.dumps(row) + "\n")
    [p] = load_benchmark(
        BenchmarkConfig(source=str(path), max_private_tests_mb=1), report=lambda _: None
    ).problems
    assert p.private_tests[0].input == tests[0]["input"]
    assert BenchmarkConfig().max_private_tests_mb == 256


# --- 7. the generations file, field by field ----------------------------------------------------------------


@pytest.mark.parametrize(
    "item, expected",
    [
        ({"code_list": ["x"], "extraction_failed": True}, "extraction_failed must be a list of true/false"),
        ({"code_list": ["x"], "extraction_failed": [1]}, "extraction_failed[0] must be one of true/false"),
        (
            {"code_list": ["x", "y"], "extraction_failed": [False]},
            "one per code_list entry (2), got a list of 1",
        ),
        ({"code_list": ["x"], "output_list": [None]}, "output_list[0] must be one of strings, got null"),
        ({"code_list": "print(1)"}, 'code_list must be a non-empty list of strings, got a string "print(1)"'),
        ({"code_list": []}, "code_list must be a non-empty list"),
        ({"code_list": [3]}, "code_list[0] must be a string or null, got a number 3"),
        ({"question_id": 7, "code_list": ["x"]}, "question_id must be a non-empty string, got a number 7"),
    ],
)
def test_generations_are_checked_field_by_field(tmp_path, item, expected):
    path = tmp_path / "g.json"
    path.write_text(json.dumps([{"question_id": "abc365_a", **item}]))
    with pytest.raises(CodetuneError, match="item \\[0\\]") as info:
        load_generations(path)
    assert expected in str(info.value)
    with pytest.raises(CodetuneError, match=expected.split("(")[0].replace("[", "\\[")):
        score_generations([], [{"question_id": "abc365_a", **item}], limits=None)


def test_bad_generations_are_one_line_in_the_cli(tmp_path, bench2):
    path = tmp_path / "g.json"
    path.write_text(json.dumps([{"question_id": "abc365_a", "code_list": ["x"], "extraction_failed": True}]))
    res = _codetune(
        "score", "--benchmark", str(bench2), "--generations", str(path), "--out", str(tmp_path / "s")
    )
    assert "extraction_failed must be a list" in _one_error_line(res)


# --- 8. minor: TensorBoard after a resume, the overlong advice, the skip_bad_rows hint ------------------------


def test_tensorboard_shows_each_step_once_after_a_resume(tmp_path, tiny_model_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from codetune.config import load_config
    from codetune.train.run import train_run

    cfg = load_config(write_config(tmp_path, tiny_model_dir, max_steps=4))
    rdir = train_run(cfg, "a")
    # As if killed after logging step 4 but before its checkpoint finished: resume from step 2.
    (rdir / "summary.json").unlink()
    shutil.rmtree(rdir / "checkpoints" / "checkpoint-step-4-epoch-0")
    train_run(cfg, "a", resume=True)
    assert len(list((rdir / "tb").glob("events.out.tfevents.*"))) == 2  # one per process that logged
    acc = EventAccumulator(str(rdir / "tb"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("train/loss")] == [1, 2, 3, 4]
    assert [e.step for e in acc.Scalars("eval/val_loss")] == [2, 4]


def _prepare(tmp_path, model_dir, **training):
    from codetune.config import load_config
    from codetune.models import load_tokenizer

    cfg = load_config(write_config(tmp_path, model_dir, **training))
    return prepare_study_run(cfg, "a", load_tokenizer(cfg.model))


def test_overlong_advice_only_when_truncating_would_help(tmp_path, tiny_model_dir):
    # 8 tokens: shorter than every prompt, so truncating answers keeps nothing.
    for overlong in ("drop", "truncate"):
        with pytest.raises(CodetuneError, match="prompts alone fill max_seq_length") as info:
            _prepare(tmp_path / overlong, tiny_model_dir, max_seq_length=8, overlong=overlong)
        assert "overlong: truncate" not in str(info.value)
    # 60 tokens: the prompts fit, the answers do not; dropping loses the rows, truncating would keep them.
    with pytest.raises(CodetuneError, match=r"raise it or set training\.overlong: truncate"):
        _prepare(tmp_path / "fits", tiny_model_dir, max_seq_length=60)
    data = _prepare(tmp_path / "kept", tiny_model_dir, max_seq_length=60, overlong="truncate")
    assert data.stats["train"]["truncated"] == data.stats["train"]["kept"] > 0


def test_skip_bad_rows_hint_only_where_the_option_exists(tmp_path, bench2):
    bad = json.loads(bench2.read_text().splitlines()[0])
    bad["public_test_cases"] = "[broken"
    bench = tmp_path / "bad.jsonl"
    bench.write_text(json.dumps(bad) + "\n")
    gens = _generations(tmp_path / "gens.json", bench2, "print(1)")
    data = tmp_path / "data.jsonl"
    data.write_text('{"input": "x"\n')
    good_data = tmp_path / "good.jsonl"
    good_data.write_text('{"input": "a problem statement", "solution": "print(1)"}\n')

    score = _one_error_line(
        _codetune(
            "score", "--benchmark", str(bench), "--generations", str(gens), "--out", str(tmp_path / "x")
        )
    )
    hint = score.rsplit("(", 1)[1]  # (the temporary folder's name holds the test's name)
    assert "question_id abc365_a" in score and hint == "score reads every row: fix or remove the broken one)"
    for train, benchmark in ((good_data, bench), (data, bench2)):
        line = _one_error_line(_codetune("data", "overlap", str(train), str(benchmark)))
        assert line.endswith("(data overlap reads every row: fix or remove the broken one)"), line
    # Where the option exists, the hint names it: the config's benchmark and dataset settings, data profile.
    with pytest.raises(CodetuneError, match=r"set benchmark\.skip_bad_rows: true"):
        load_benchmark(BenchmarkConfig(source=str(bench)), report=lambda _: None)
    with pytest.raises(CodetuneError, match="score reads every row"):
        load_benchmark_file(bench, bad_rows_hint="score reads every row")
    profile = _one_error_line(_codetune("data", "profile", str(data)))
    assert profile.endswith(
        "(set dataset.skip_bad_rows: true (data profile: --skip-bad-rows) to skip bad rows)"
    )
    assert parse_config({"runs": {"a": {"dataset": {"source": "x"}}}}).benchmark.skip_bad_rows is False


# --- 9. hostile text: a lone surrogate (valid JSON, no UTF-8 form) ------------------------------------------


def test_a_lone_surrogate_in_a_problem_title_is_scored_and_reads_back_the_same(tmp_path, bench2):
    rows = [json.loads(line) for line in bench2.read_text().splitlines()]
    rows[0]["question_title"] = "half a pair \ud800 then \u2603"
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_text("".join(json.dumps(r) + "\n" for r in rows))  # ASCII JSON: "\ud800" as an escape
    gens = _generations(tmp_path / "gens.json", hostile, "print(input())")
    out = tmp_path / "s.json"
    res = _codetune("score", "--benchmark", str(hostile), "--generations", str(gens), "--out", str(out))
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads(out.read_text(encoding="utf-8"))[0]["question_title"] == rows[0]["question_title"]


def test_hostile_text_is_written_as_valid_utf8_everywhere(tmp_path):
    from codetune.records import ScoreEntry, read_list, write_list

    title = "x\udfff\ud83d\U0001f600"
    entry = ScoreEntry(question_id="q1", question_title=title, graded_list=[True])
    write_list(tmp_path / "scores.json", [entry])
    (back,) = read_list(ScoreEntry, tmp_path / "scores.json")
    assert back.question_title == title
    write_json_atomic(tmp_path / "doc.json", {"t": title})
    assert json.loads((tmp_path / "doc.json").read_text(encoding="utf-8")) == {"t": title}
    # Text for people (report.md, report.html): the lone halves become the replacement character.
    write_text_atomic(tmp_path / "report.md", f"# {title}\n")
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == "# x\ufffd\ufffd\U0001f600\n"
