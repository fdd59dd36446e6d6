"""Code that runs on the sandbox side of the boundary. Standard library only, imports nothing from codetune.

Both engines run a job through `_server.py` and so through `run_job` here (the pool keeps a server warm,
the one-process-per-job engine starts one per job), so a program behaves the same under either.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import ctypes
import io
import math
import os
import resource
import select
import signal
import sys
import time
import traceback
import types
from collections.abc import Callable

CLEAN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
PROGRAM_FILE = "main.py"
STDIN_FILE = ".stdin"
STDOUT_FILE = ".stdout"
STDERR_FILE = ".stderr"
_STARTED_IN_PIDNS = os.environ.get("CODETUNE_SANDBOX_PIDNS") == "1"  # read before the server cleans its env
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
STOP_FD_ENV = "CODETUNE_SANDBOX_STOP_FD"
_libc: ctypes.CDLL | None
_prctl: Callable[..., int] | None
try:  # resolved once, in the server: loading it in every forked job costs about a millisecond
    _libc = ctypes.CDLL(None, use_errno=True)
    _prctl = _libc.prctl
except (OSError, AttributeError):
    _libc = _prctl = None


def apply_limits(limits: dict, uid: int | None) -> None:
    """rlimits, then (when given a uid) drop to it: after this the process cannot raise them back."""
    cpu = max(1, math.ceil(limits["cpu_time_s"]))
    # Soft limit sends SIGXCPU; the hard one (a second later) SIGKILL for programs that catch it.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    mem = int(limits["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    fsize = max(int(limits["max_file_bytes"]), int(limits["max_output_bytes"]) + 1)
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    nproc = int(limits["max_processes"]) + int(limits.get("nproc_base", 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (0, 0))
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    if _prctl is not None:  # no setuid binary may hand privileges back
        _prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def _exit_code(e: SystemExit) -> int:
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def run_main(source: str) -> int:
    """Execute `source` as the __main__ module, then shut down the way the interpreter does; return the status."""
    sys.argv = [PROGRAM_FILE]
    sys.path[0] = os.getcwd()
    main = types.ModuleType("__main__")
    main.__dict__.update({"__file__": os.path.abspath(PROGRAM_FILE), "__builtins__": builtins})
    sys.modules["__main__"] = main
    status = 0
    try:
        exec(compile(source, PROGRAM_FILE, "exec"), main.__dict__)
    except SystemExit as e:
        status = _exit_code(e)
    except BaseException as e:
        # The interpreter's own (C) traceback printer, from the program's first frame: what a fresh `python`
        # prints, at a fraction of the traceback module's cost.
        if e.__traceback__ is not None:
            e.__traceback__ = e.__traceback__.tb_next
        sys.__excepthook__(type(e), e, e.__traceback__)
        status = 1
    try:  # like interpreter shutdown: join non-daemon threads, run atexit hooks, flush
        threading = sys.modules.get("threading")  # imported only if the program did (or a module it used)
        if threading is not None and threading.active_count() > 1:
            threading._shutdown()
    except BaseException:
        pass
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    try:
        sys.stdout.flush()
    except BaseException:
        status = status or 120  # what CPython exits with when flushing stdout fails at shutdown
    try:
        sys.stderr.flush()
    except BaseException:
        pass
    return status


def prepare_process(workdir: str) -> None:
    """Make this process (the server, before any fork) look to a program like a fresh interpreter would.

    Signals as CPython sets them, except SIGXFSZ: CPython ignores it, we let it kill a program at the file
    size limit (a program that catches the write error would otherwise spin to the time limit); a clean
    environment with HOME and TMPDIR the job's work dir (the same path for every job); standard streams on
    fds 0-2, which each job gets as its own files; no exit hooks.
    """
    for sig in (signal.SIGXFSZ, signal.SIGXCPU, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.clear()
    os.environ.update(CLEAN_ENV, HOME=workdir, TMPDIR=workdir)
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
    sys.stderr = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8", errors="backslashreplace"
    )
    sys.stderr.reconfigure(line_buffering=True)
    # typeshed declares these Final; the job's program must find the fresh streams there too
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr  # type: ignore[misc]
    atexit._clear()


class Stop(BaseException):
    """The stop pipe became readable in the server (the runner closed its end, or its process died and the
    kernel closed it): the job is killed, the server cleans up and exits."""


stop_fd: int | None = None  # the server's end of the stop pipe (no job inherits it: closerange)
_fork_parent = 0


def _before_fork() -> None:
    global _fork_parent
    _fork_parent = os.getpid()


def tie_to_parent() -> None:
    """SIGKILL this process when the one that forked it dies (PR_SET_PDEATHSIG), and die now if it already
    has. Run in every child a job (or the server) forks through os.fork: a job dies with its server, and what
    a job forks dies with the job, so nothing outlives a server that was killed outright."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != _fork_parent:
        os._exit(137)


def become_server() -> None:
    """Server start-up: the stop pipe the runner passed (its fd in STOP_FD_ENV), and the fork hook that ties
    every job, and what a job forks through os.fork, to its parent's life."""
    global stop_fd
    fd = os.environ.get(STOP_FD_ENV)
    stop_fd = int(fd) if fd and fd.isdigit() else None
    os.register_at_fork(before=_before_fork, after_in_child=tie_to_parent)


def check_stop(timeout: float | None = 0) -> None:
    """Raise Stop when the runner's end of the stop pipe is closed (waiting up to `timeout` seconds)."""
    if stop_fd is not None and select.select([stop_fd], [], [], timeout)[0]:
        raise Stop


def become_program(
    workdir: str, source: str, stdio: tuple[int, int, int], limits: dict, uid: int | None
) -> None:
    """In a fresh child: new session, the given fds as stdio, limits, privileges dropped, run the program, exit.

    Signals, environment and standard streams were set once in the server (`prepare_process`): doing it here
    would copy-on-write a few hundred pages per job."""
    status = 1
    try:
        # Its own session and process group, to kill it whole. (Measured: a job that stays in the server's
        # session costs about twice the CPU here, the scheduler's autogroups keeping it next to the server.)
        os.setsid()
        os.chdir(workdir)
        for fd, f in enumerate(stdio):
            os.dup2(f, fd)
        os.closerange(3, 65536)
        apply_limits(limits, uid)
        tie_to_parent()  # again: changing uid cleared the parent-death signal
        status = run_main(source)
    except BaseException:
        try:
            traceback.print_exc()
        except BaseException:
            pass
    os._exit(status)


def cpu_wait_s(pid: int) -> float | None:
    """Seconds `pid` has been runnable but waiting for a CPU that other work held: the second field of
    /proc/PID/task/TID/schedstat (nanoseconds), the most of any of its threads (a program that works in a
    thread while its main thread waits for it). None where the kernel keeps no such count."""
    waits = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                    fields = f.read().split()
                if int(fields[2]):  # no timeslice counted: not measured here
                    waits.append(int(fields[1]) / 1e9)
    except OSError:
        return None
    return max(waits) if waits else None


def supervise(pid: int, wall_s: float, real_s: float | None = None) -> dict:
    """Wait for `pid` (a session leader); SIGKILL its group once it has run `wall_s` seconds of wall clock
    not counting its waits for a CPU (cpu_wait_s), or `real_s` seconds of real time, whichever comes first.
    Returns its raw outcome. Raises Stop (the job still running) when the runner's stop pipe closes meanwhile."""
    start = time.monotonic()
    hard = start + max(wall_s, real_s or wall_s)
    deadline = start + wall_s
    waited: float | None = None  # the job's waits for a CPU, as last measured
    timed_out = False
    try:
        pidfd = os.pidfd_open(pid)
    except (OSError, AttributeError):  # Linux before 5.3
        pidfd = None
    try:
        while True:
            now = time.monotonic()
            if pidfd is not None:
                watch = [pidfd] if stop_fd is None else [pidfd, stop_fd]
                ready, _, _ = select.select(watch, [], [], max(0.0, min(deadline, hard) - now))
                if pidfd in ready:
                    break
                if ready:
                    raise Stop
            else:  # kernels before 5.3: poll
                if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    break
                check_stop(0.002)
            now = time.monotonic()
            if now < min(deadline, hard):
                continue
            # The limit, unless the job spent part of it waiting for a CPU: that part is added on.
            measured = cpu_wait_s(pid)
            if measured is not None:
                waited = max(waited or 0.0, measured)
            deadline = start + wall_s + (waited or 0.0)
            if now >= min(deadline, hard):
                timed_out = True
                break
    finally:
        if pidfd is not None:
            os.close(pidfd)
    if timed_out:
        kill_group(pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    final = cpu_wait_s(pid)  # an exited job's count stays readable until it is reaped (its threads' do not)
    if final is not None:
        waited = max(waited or 0.0, final)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    kill_group(pid)  # whatever the program left behind in its process group
    return {
        "exit_code": os.waitstatus_to_exitcode(status),
        "cpu_time_s": usage.ru_utime + usage.ru_stime,
        "wall_time_s": wall,
        "cpu_wait_s": waited,
        "wall_timeout": timed_out,
    }


def stop_job(pid: int, uid: int | None) -> None:
    """Kill a job that is still running, its process group and whatever it left elsewhere; reap it."""
    kill_group(pid)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
    kill_leftovers(uid)


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def read_capped(fd: int, cap: int, tail: bool = False) -> tuple[bytes, int]:
    """(at most `cap` bytes of the file open at `fd` — its head, or its tail — and the file's full size)."""
    size = os.fstat(fd).st_size
    start = max(0, size - cap) if tail else 0
    chunks, want = [], min(cap, size - start)
    while want > 0:
        chunk = os.pread(fd, want, start)
        if not chunk:
            break
        chunks.append(chunk)
        start += len(chunk)
        want -= len(chunk)
    return b"".join(chunks), size


def kill_leftovers(uid: int | None) -> None:
    """SIGKILL whatever the job left running, including processes that escaped its group with setsid()."""
    if in_own_pid_namespace():
        # Inside bubblewrap's pid namespace (bwrap's init is 1, we are 2): every other process is the job's.
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:  # nothing was left: the usual case
            return
        except OSError:
            pass
        # Answer only once they are gone (we reap our orphans, bwrap's init the rest), so "nothing left
        # running" holds on return.
        deadline = time.monotonic() + 2.0
        while True:
            _reap_children()
            if not any(int(p) > 2 for p in os.listdir("/proc") if p.isdigit()) or time.monotonic() > deadline:
                return
            time.sleep(0.001)
    if uid is not None:  # kill(-1) as the job's own uid reaches exactly the processes it owns
        pid = os.fork()
        if pid == 0:
            try:
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
    # We are a child subreaper (see `become_subreaper`): whatever the job left, even after setsid(), is
    # re-parented to us once its parent dies. Kill and reap our children until there are none.
    me, deadline = str(os.getpid()), time.monotonic() + 2.0
    while time.monotonic() < deadline:
        kids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent_of(p) == me]
        if not kids:
            break
        for kid in kids:
            try:
                os.kill(kid, signal.SIGKILL)
            except OSError:
                pass
        _reap_children()
        time.sleep(0.001)


def _reap_children() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG) != (0, 0):
            pass
    except ChildProcessError:
        pass


def _parent_of(pid: str) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[1].decode()
    except (OSError, IndexError):
        return None


def make_undumpable() -> None:
    """Codetune's own process: no process of its uid may read its /proc/<pid>/environ or mem (HF_TOKEN,
    model weights) or ptrace it, should a job ever run as that uid. Forks inherit it; a new program resets it."""
    if _prctl is not None:
        _prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def become_subreaper() -> None:
    """Orphans of jobs become our children (not init's), so the cleanup can always find and reap them."""
    if _prctl is not None:
        _prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def in_own_pid_namespace() -> bool:
    """True inside bubblewrap's pid namespace, where bwrap's init is pid 1 and this server is 2."""
    return os.getpid() == 2 and _STARTED_IN_PIDNS


_CLONE_NEWNS, _CLONE_NEWUTS, _CLONE_NEWIPC, _CLONE_NEWNET = 0x00020000, 0x04000000, 0x08000000, 0x40000000
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC, _MS_PRIVATE = 2, 4, 4096, 16384, 1 << 18
_MNT_DETACH = 2
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # world-writable on a usual system
BWRAP_SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run")  # the private tmpfs mounts of bwrap_args
# What a job sees of the host's file system (besides the interpreter's own folders): programs, libraries and
# configuration. Everything else (home, the study folder, HF_HOME's private tests, sockets on disk) is hidden.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
_KERNEL_DIRS = ("/proc", "/dev", "/sys")  # kept as they are by the fallback (no pid namespace there)


def _libc_call(name: str, *args) -> None:
    if _libc is None:
        raise OSError("no libc")
    if getattr(_libc, name)(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")


def isolate_without_bwrap(home: str, keep: list[str]) -> None:
    """Root without bubblewrap: the same confinement by hand, for this process and every job it forks.

    New mount, network, ipc and uts namespaces (so no network at all); a private, size-capped tmpfs on each
    world-writable scratch dir and on every top-level folder but SYSTEM_DIRS (home, /work, /srv, /var, ...:
    the study, HF_HOME and sockets on disk with them), with only the directories in `keep` (the
    interpreter's prefix, a job's work dir) bound back, so that a job's unprivileged uid can still import
    the standard library.
    """
    _libc_call("unshare", _CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWUTS)
    _libc_call("mount", None, b"/", None, _MS_REC | _MS_PRIVATE, None)  # nothing propagates to the host
    held = [(path, os.open(path, os.O_PATH)) for path in keep if os.path.isdir(path)]
    top = [os.path.join("/", n) for n in sorted(os.listdir("/"))]
    other = [d for d in top if d not in (*SYSTEM_DIRS, *_KERNEL_DIRS) and not os.path.islink(d)]
    hidden: list[str] = []
    for d in (*SCRATCH_DIRS, *other, home):
        inside = any(d.startswith(h.rstrip("/") + "/") for h in hidden)  # (e.g. /var/tmp once /var is)
        if d != "/" and d not in hidden and not inside and os.path.isdir(d) and not os.path.islink(d):
            hidden.append(d)
    for d in hidden:  # mode 755: only this (root) process writes there; jobs get their own dir inside
        opts = b"mode=755,size=256m" if d in SCRATCH_DIRS else b"mode=755,size=1m"
        _libc_call("mount", b"tmpfs", d.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, opts)
    for path, fd in held:
        if any(path.startswith(d.rstrip("/") + "/") for d in hidden):
            os.makedirs(path, mode=0o755, exist_ok=True)
            _libc_call("mount", f"/proc/self/fd/{fd}".encode(), path.encode(), None, _MS_BIND | _MS_REC, None)
        os.close(fd)


JOB_DIR_INODES = 4096  # files a job may create in its own dir (tmpfs inodes cost kernel memory)


def mount_job_dir(path: str, size_bytes: int, uid: int) -> None:
    """Make `path` a fresh tmpfs of its own, owned by the job's uid: its size and file count capped, and
    all of it gone in one unmount. Needs CAP_SYS_ADMIN in our mount namespace (bwrap as root, or unshare)."""
    opts = f"size={size_bytes},nr_inodes={JOB_DIR_INODES},mode=700,uid={uid},gid={uid}".encode()
    _libc_call("mount", b"tmpfs", path.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, opts)


def unmount_job_dir(path: str) -> None:
    _libc_call("umount2", path.encode(), _MNT_DETACH)


def isolate_from_env() -> None:
    """Apply `isolate_without_bwrap` when the runner asked for it (CODETUNE_SANDBOX_UNSHARE holds its JSON)."""
    spec = os.environ.get("CODETUNE_SANDBOX_UNSHARE")
    if spec:
        import json

        cfg = json.loads(spec)
        isolate_without_bwrap(cfg["home"], cfg["keep"])


def seal_scratch_dirs() -> None:
    """Inside bubblewrap the shared scratch dirs are this worker's own tmpfs: make them unwritable for jobs,
    so a job can write only into its own work dir (and nothing outlives it for the next job to find)."""
    if in_own_pid_namespace() and os.geteuid() == 0:
        for d in BWRAP_SCRATCH_DIRS:
            try:
                os.chmod(d, 0o755)
            except OSError:
                pass


def _private_file(workdir: str, name: str, data: bytes = b"") -> int:
    """A file in `workdir` that only its fd reaches: written, opened, unlinked (nothing to swap or symlink)."""
    path = os.path.join(workdir, name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    os.unlink(path)
    write_all(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def run_job(workdir: str, job: dict, iodir: str | None = None) -> dict:
    """Run one job (`program`, `stdin`, `limits`, `uid`, `out_cap`, `err_cap`) in a forked child, with
    `workdir` (empty, owned by the job's uid) as its working directory; return its raw outcome.

    Its stdin, stdout and stderr are files created in `iodir` (default: `workdir`) and unlinked at once: the
    job reaches them only through its fds 0-2, and a job that fills its own dir can still report."""
    iodir = iodir or workdir
    limits, uid = job["limits"], job.get("uid")
    with open(os.path.join(workdir, PROGRAM_FILE), "w", encoding="utf-8") as f:
        f.write(job["program"])
    stdio = (
        _private_file(iodir, STDIN_FILE, job["stdin"].encode("utf-8")),
        _private_file(iodir, STDOUT_FILE),
        _private_file(iodir, STDERR_FILE),
    )
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            become_program(workdir, job["program"], stdio, limits, uid)
        try:
            raw = supervise(pid, float(limits["wall_time_s"]), limits.get("real_time_s"))
            kill_leftovers(uid)
        except BaseException:  # stopped mid-job: the job and all it started go first
            stop_job(pid, uid)
            raise
        out, out_size = read_capped(stdio[1], int(job["out_cap"]))
        err, _ = read_capped(stdio[2], int(job["err_cap"]), tail=True)
    finally:
        for fd in stdio:
            os.close(fd)
    raw.update(
        stdout=out.decode("utf-8", "replace"), stdout_size=out_size, stderr=err.decode("utf-8", "replace")
    )
    return raw


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
