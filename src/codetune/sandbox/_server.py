"""The fork server: a warm interpreter that runs one job at a time in a forked child. Standard library only.

Started once per worker (inside bubblewrap when available) as `python -I _server.py`, or per job with
`--once` (the one-process-per-job engine: no warm imports, exits after one answer); reads
requests on stdin and answers on stdout, each message a 4-byte big-endian length then JSON. A request is
{"program", "stdin", "limits", "uid", "out_cap", "err_cap"}; the answer is the raw outcome of
`_child.run_job`. Forking this interpreter, whose common standard-library modules are already imported,
costs a few milliseconds of CPU where a fresh Python costs over twenty.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import shutil
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _child  # noqa: E402

# What solutions import: LiveCodeBench's prelude (which codetune.bench puts in front of every program) and a
# few more, plus what bench/harness.py's driver imports in every job (ast, traceback, types, and shutil and
# subprocess for LiveCodeBench's reliability guard): ~15 ms a job otherwise. Loaded once here, inherited by
# every forked job.
WARM_MODULES = (
    "array bisect collections copy datetime decimal enum fractions functools heapq io itertools json math "
    "operator random re statistics string sys time typing unicodedata ast traceback types shutil subprocess"
)


def _read_exact(fd: int, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def _remove_workdir(path: str) -> None:
    """Remove a directory tree (or a file) however a job left it."""
    try:  # the usual case: the job left only its program behind
        if not os.path.isdir(path) or os.path.islink(path):
            os.unlink(path)
            return
        os.unlink(os.path.join(path, _child.PROGRAM_FILE))
        os.rmdir(path)
    except OSError:
        for root, dirs, _ in os.walk(path):  # a job may have made its own dirs unreadable or unwritable
            for d in dirs:
                try:
                    os.chmod(os.path.join(root, d), 0o700, follow_symlinks=False)
                except OSError:
                    pass
        shutil.rmtree(path, ignore_errors=True)


def _can_mount(workdir: str) -> bool:
    """Whether each job can get its own tmpfs (root with CAP_SYS_ADMIN in a private mount namespace)."""
    if os.geteuid() != 0 or not (_child.in_own_pid_namespace() or os.environ.get("CODETUNE_SANDBOX_UNSHARE")):
        return False  # never mount anything in the caller's own mount namespace
    try:
        os.mkdir(workdir, 0o700)
        try:
            _child.mount_job_dir(workdir, 1 << 20, 0)
            _child.unmount_job_dir(workdir)
            return True
        finally:
            os.rmdir(workdir)
    except OSError:
        return False


def _job_dir_bytes(req: dict) -> int:
    """Room for the job's stdin, stdout and stderr (files in its dir) and for files it writes itself."""
    lim = req["limits"]
    fsize = max(int(lim["max_file_bytes"]), int(lim["max_output_bytes"]) + 1)
    return 3 * fsize + len(req["stdin"].encode()) + len(req["program"].encode()) + (8 << 20)


def _scratch_entries() -> set[str]:
    """What the scratch dirs hold now: at start-up, only what bubblewrap put there (the parents of bound
    directories, e.g. a venv or a clone under /tmp), which clearing must leave alone."""
    found: set[str] = set()
    for d in _child.BWRAP_SCRATCH_DIRS:
        try:
            found.update(os.path.join(d, name) for name in os.listdir(d))
        except OSError:
            continue
    return found


def _clear_scratch_dirs(keep: set[str]) -> None:
    """Remove everything in the scratch dirs but `keep`: the server's own io dir goes too (a job of our uid
    could have emptied, filled or removed it); the caller makes it afresh."""
    for path in sorted(_scratch_entries() - keep):
        _remove_workdir(path)


def serve(once: bool) -> None:
    _child.become_server()
    _child.isolate_from_env()
    if not once:
        for name in WARM_MODULES.split():
            __import__(name)
        # The first compile() in a process builds the AST module's ~100 node types (milliseconds): do it here,
        # once, rather than in every forked job; likewise the codec lookups of text I/O.
        exec(
            compile("x = [int(v) for v in '1 2'.split()]\ny = str(x).encode().decode()", "<warm>", "exec"), {}
        )
        gc.freeze()  # keep the collector from touching (and so copying) the server's objects in every job
    # Control channel on private fds; 0 and 1 become /dev/null so nothing else can write into the channel.
    ctl_in, ctl_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    _child.seal_scratch_dirs()
    # Without root the scratch dirs stay writable for jobs (same uid): inside bubblewrap they are this
    # worker's own, so empty them after every job (nothing one job writes there reaches the next).
    scratch_shared_with_jobs = _child.in_own_pid_namespace() and os.geteuid() != 0
    _child.become_subreaper()
    # Every job runs in a fresh directory at this same path, so the environment naming it is set once.
    workdir = os.path.join(
        os.environ.get("TMPDIR", "/tmp"), f"codetune-job-{os.getpid()}-{os.urandom(4).hex()}"
    )
    job_tmpfs = _can_mount(workdir)
    initial = _scratch_entries() if scratch_shared_with_jobs else set()
    # The server's own, where a job's stdio files live (a job's uid cannot enter it as root; without root a
    # job could, so it is made afresh after every job, with the rest of the scratch dirs cleared).
    iodir = workdir + "-io"
    os.mkdir(iodir, 0o700)
    _child.prepare_process(workdir)
    try:
        _child.write_all(ctl_out, b"R")  # ready
        while True:
            try:
                (size,) = struct.unpack(">I", _read_exact(ctl_in, 4))
                req = json.loads(_read_exact(ctl_in, size))
            except EOFError:
                return
            if os.path.lexists(workdir):  # a job made its dir undeletable: the runner starts a fresh server
                return
            raw = _handle(req, workdir, iodir, job_tmpfs)
            if scratch_shared_with_jobs:
                _clear_scratch_dirs(initial)
            # This worker's CPU so far, jobs included (they are reaped here): what the sandbox costs, measured.
            raw["worker_cpu_s"] = sum(
                r.ru_utime + r.ru_stime
                for r in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
            )
            body = json.dumps(raw).encode()
            _child.write_all(ctl_out, struct.pack(">I", len(body)) + body)
            if once:
                return
            if scratch_shared_with_jobs:
                if os.path.lexists(iodir):  # a job made it undeletable: a fresh server takes over
                    return
                os.mkdir(iodir, 0o700)
    finally:
        _remove_workdir(iodir)


def _handle(req: dict, workdir: str, iodir: str, job_tmpfs: bool) -> dict:
    """One job in a fresh `workdir` (its own tmpfs when we may mount), removed afterwards."""
    mounted = False
    try:
        os.mkdir(workdir, 0o700)
        uid = req.get("uid")
        if job_tmpfs and uid is not None:
            _child.mount_job_dir(workdir, _job_dir_bytes(req), uid)
            mounted = True
        elif uid is not None:
            os.chown(workdir, uid, uid)
        return _child.run_job(workdir, req, iodir)
    except Exception as e:  # report, keep serving
        return {"error": f"fork server: {type(e).__name__}: {e}"}
    finally:
        if mounted:
            _child.unmount_job_dir(workdir)
        _remove_workdir(workdir)


if __name__ == "__main__":
    try:
        serve(once="--once" in sys.argv[1:])
    except _child.Stop:  # the stop pipe closed: the job (if one ran) is dead, its dirs removed; exit quietly
        pass
