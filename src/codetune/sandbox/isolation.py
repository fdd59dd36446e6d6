"""What this machine lets the sandbox do, and the bubblewrap command line that confines a program.

Layers, each used where available:
- rlimits (CPU, address space, file size, open files; always);
- an unprivileged uid per worker, when codetune runs as root (RLIMIT_NPROC only binds non-root uids, so this
  is what stops fork bombs; killing everything that uid owns cleans up processes that left the group);
- bubblewrap: mount, network, pid, ipc and uts namespaces; of the file system only the system's folders
  (_child.SYSTEM_DIRS) and the interpreter's (python_roots), read-only, and a private, size-capped /tmp;
  no network at all. Home, the study folder, HF_HOME and sockets on disk are simply not there.
- none of these (not root, no bubblewrap): refused unless WEAK_ENV=1 accepts it (require_isolation).
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codetune.errors import CodetuneError
from codetune.sandbox import _child

SANDBOX_DIR = Path(__file__).resolve().parent
TMPFS_BYTES = 256 * 1024 * 1024  # the private /tmp of one worker, in RAM: a hard cap on what a job writes
# The capabilities the fork server keeps inside bubblewrap (root only): switch each job to its uid, own its
# work dir, clean up after it. Jobs lose them all with the uid switch (and no_new_privs).
# CAP_SYS_ADMIN: to mount each job's own size- and inode-capped tmpfs in the server's mount namespace.
_SERVER_CAPS = (
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_CHOWN",
    "CAP_FOWNER",
    "CAP_DAC_OVERRIDE",
    "CAP_KILL",
    "CAP_SYS_ADMIN",
)


@dataclass(frozen=True)
class Isolation:
    bwrap: str | None  # path of a working bubblewrap, or None
    is_root: bool
    unshare: bool  # root without bubblewrap: namespaces and mounts set up by the server itself
    drop_uid: bool  # jobs run as a fresh unprivileged uid (root only)
    reason: str  # why a layer is missing, for `codetune doctor`

    @property
    def shares_uid(self) -> bool:
        """Jobs would run as codetune's own uid with no namespace around them: nothing isolates them (they
        could read the user's files and codetune's memory, reach the network, kill codetune)."""
        return self.bwrap is None and not self.drop_uid


# The explicit setting that accepts running model code where nothing isolates it (recorded: isolation_level).
WEAK_ENV = "CODETUNE_SANDBOX_WEAK"
INSTALL_HINT = (
    "install bubblewrap (sudo apt-get install bubblewrap; or scripts/install-system-packages.sh bubblewrap)"
)


def weak_accepted() -> bool:
    return os.environ.get(WEAK_ENV, "0") == "1"


def require_isolation(iso: Isolation) -> None:
    """Refuse to run model code where nothing isolates it, unless WEAK_ENV=1 says to go ahead anyway."""
    if iso.shares_uid and not weak_accepted():
        raise CodetuneError(
            f"sandbox: nothing isolates model-written code here ({iso.reason}): {INSTALL_HINT}, or set "
            f"{WEAK_ENV}=1 to run it as your own user anyway (it can then read your files and kill your processes)"
        )


def check_isolation() -> None:
    """Before long work that ends in running model code (a study, an eval): refuse now, not hours later."""
    require_isolation(detect())


def isolation_level(iso: Isolation | None = None) -> str:
    """How model-written code is confined here, in one phrase (recorded with every evaluation)."""
    iso = iso or detect()
    if iso.bwrap:
        return "bubblewrap"
    if iso.unshare:
        return "namespaces without bubblewrap (root), jobs as an unprivileged uid"
    if iso.drop_uid:
        return "jobs as an unprivileged uid only (root, no namespaces: network reachable)"
    if weak_accepted():
        return f"none: jobs run as the user's own uid ({WEAK_ENV}=1)"
    return f"none: model code refused ({INSTALL_HINT}, or {WEAK_ENV}=1)"


def _readable_by_others(path: Path) -> bool:
    """Whether an unprivileged uid can reach `path` (every parent searchable, the directory readable)."""
    try:
        path = path.resolve()
        for p in [path, *path.parents]:
            mode = p.stat().st_mode
            if not mode & stat.S_IXOTH:
                return False
        return bool(path.stat().st_mode & stat.S_IROTH)
    except OSError:
        return False


def python_roots() -> list[Path]:
    """Directories the worker needs besides the system's: the interpreter's prefixes (a venv, pyenv's build)
    with the standard library and installed packages, and this package's own folder (an editable install
    runs it from the clone). Bound read-only wherever they live, /tmp and home included."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.exec_prefix).resolve()}
    roots.add(Path(sys.executable).resolve().parent.parent)
    roots.add(SANDBOX_DIR)
    # Nested roots (a venv inside a clone) need only the outermost.
    return sorted(r for r in roots if not any(o in r.parents for o in roots))


def bwrap_args(
    *,
    is_root: bool,
    binds: Sequence[tuple[str, str]] = (),
    caps: bool = False,
    tmpfs_bytes: int = TMPFS_BYTES,
) -> list[str]:
    """The bubblewrap prefix: only the system's directories (programs, libraries, /etc) and the interpreter's
    read-only, a private /tmp, no network, own pid namespace. Nothing else of the host's file system is there:
    not home, not the study folder, not the benchmark's private tests (HF_HOME), not a unix socket on disk."""
    args = []
    for d in _child.SYSTEM_DIRS:
        if os.path.islink(d):  # merged /usr: /bin -> usr/bin
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    args += ["--dev", "/dev", "--proc", "/proc"]
    for d in _child.BWRAP_SCRATCH_DIRS:
        if os.path.isdir(d):
            args += ["--size", str(tmpfs_bytes), "--tmpfs", d]
    made = set(_child.BWRAP_SCRATCH_DIRS)
    for root in python_roots():
        if any(str(root) == d or str(root).startswith(d + "/") for d in _child.SYSTEM_DIRS):
            continue  # (bound already: a system Python)
        for parent in reversed(root.parents[:-1]):  # bwrap would make them 0700: a job's uid could not pass
            if str(parent) not in made:
                made.add(str(parent))
                args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", str(root), str(root)]
    for src, dst in binds:
        args += ["--bind", src, dst]
    args += ["--remount-ro", "/"]  # the sandbox's own root (a tmpfs holding the mount points)
    args += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not is_root:
        args += ["--unshare-user"]
    args += ["--die-with-parent", "--new-session", "--hostname", "sandbox", "--chdir", "/tmp"]
    if is_root:
        args += ["--cap-drop", "ALL"]
        if caps:
            for cap in _SERVER_CAPS:
                args += ["--cap-add", cap]
    return args


def _bwrap_failure(stderr: str) -> str:
    """Why bubblewrap's probe failed, in words that point at the cause (bwrap's own last line kept)."""
    said = (stderr.strip().splitlines() or ["no message"])[-1].strip()
    if "No such file" in said or "Can't find source path" in said:
        return f"bubblewrap is installed but cannot see a path the worker needs ({said})"
    namespace_words = ("namespace", "uid map", "Operation not permitted", "Permission denied", "setns")
    if any(w in said for w in namespace_words):
        return f"bubblewrap is installed but cannot create namespaces here ({said})"
    return f"bubblewrap is installed but failed ({said})"


@functools.cache
def detect() -> Isolation:
    is_root = os.geteuid() == 0
    bwrap = shutil.which("bwrap")
    reason = []
    if os.environ.get("CODETUNE_SANDBOX_BWRAP", "1") == "0":  # e.g. to test the fallback
        bwrap = None
        reason.append("bubblewrap disabled by CODETUNE_SANDBOX_BWRAP=0")
    elif bwrap:
        probe = [bwrap, *bwrap_args(is_root=is_root, caps=is_root), sys.executable, "-I", "-S", "-c", "pass"]
        try:
            done = subprocess.run(
                probe, capture_output=True, timeout=30, env={"PATH": "/usr/bin:/bin"}, text=True
            )
            failure = _bwrap_failure(done.stderr) if done.returncode else None
        except (OSError, subprocess.TimeoutExpired) as e:
            failure = f"bubblewrap is installed but failed to run ({type(e).__name__}: {e})"
        if failure:
            reason.append(failure)
            bwrap = None
    elif not bwrap:
        reason.append("bubblewrap (bwrap) not found: apt-get install bubblewrap")
    unshare = False
    if is_root and bwrap is None:
        code = (
            f"import sys; sys.path.insert(0, {str(SANDBOX_DIR)!r}); import _child; _child.isolate_from_env()"
        )
        probe, env = [sys.executable, "-I", "-S", "-c", code], unshare_env()
        try:
            unshare = subprocess.run(probe, capture_output=True, timeout=30, env=env).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            unshare = False
        if not unshare:
            reason.append("root, but cannot create namespaces (no CAP_SYS_ADMIN?): no network isolation")
    # Without private mounts, an unprivileged uid can only run an interpreter that others may read.
    drop_uid = is_root and (
        bwrap is not None or unshare or all(_readable_by_others(r) for r in python_roots())
    )
    if is_root and not drop_uid:
        reason.append("running as root but the interpreter is not readable by other users: jobs keep uid 0")
    if not is_root and bwrap is None:
        reason.append("not root and no bubblewrap: jobs would run as your own uid, with nothing around them")
    elif not is_root:
        reason.append("not root: jobs share your uid, so the process limit counts all your processes")
    return Isolation(
        bwrap=bwrap, is_root=is_root, unshare=unshare, drop_uid=drop_uid, reason="; ".join(reason)
    )


def unshare_env(extra_keep: Sequence[str] = ()) -> dict[str, str]:
    """The environment that makes the server (or launcher) confine itself (see `_child.isolate_without_bwrap`)."""
    home = str(Path(os.path.expanduser("~")).resolve())
    keep = [str(r) for r in python_roots()] + list(extra_keep)
    return {"CODETUNE_SANDBOX_UNSHARE": json.dumps({"home": home, "keep": keep})}


def confine(argv: list[str], iso: Isolation, workdir: str | None = None) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run `argv` (the server or launcher) confined as far as allowed."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    if iso.bwrap:
        binds = [(workdir, workdir)] if workdir else []
        argv = [iso.bwrap, *bwrap_args(is_root=iso.is_root, binds=binds, caps=iso.is_root), *argv]
        env["CODETUNE_SANDBOX_PIDNS"] = "1"
    elif iso.unshare:
        env.update(unshare_env([workdir] if workdir else []))
    return argv, env


def user_task_count() -> int:
    """Processes and threads of this uid now: RLIMIT_NPROC counts them all, so a non-root job's limit is
    this many plus its own allowance (best effort: the count moves while jobs run)."""
    uid, count = str(os.getuid()), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if fields.get("Uid", "").split()[:1] == [uid]:
                count += int(fields.get("Threads", "1"))
    return count


def allocate_uids(n: int) -> list[int]:
    """`n` fresh uids owned by no one, one per worker: a random block so that runners never share one."""
    block = max(256, n)
    base = 0x4000_0000 + secrets.randbelow(0x3000_0000 // block) * block
    return [base + i for i in range(n)]


def protections() -> dict[str, bool | str]:
    """Which protections are active on this machine."""
    iso = detect()
    process_limit = iso.drop_uid or not iso.is_root  # non-root: your task count + max_processes
    contained = iso.bwrap is not None or iso.unshare
    return {
        "separate_process": True,
        "rlimits": "cpu time, address space, file size, open files, core dumps",
        "wall_clock_ceiling": True,
        "output_cap": True,
        "scrubbed_environment": True,
        "process_group_killed": True,
        "unprivileged_uid": iso.drop_uid,
        "process_limit": process_limit,  # RLIMIT_NPROC binds only a non-root uid
        "bubblewrap": iso.bwrap or False,
        "namespaces_without_bwrap": iso.unshare,
        "no_network": contained,
        "private_filesystem": contained,  # private /tmp (+ read-only / with bwrap), home hidden
        "pid_namespace": iso.bwrap is not None,
        "isolation": isolation_level(iso),
        "notes": iso.reason or "all protections active",
    }
