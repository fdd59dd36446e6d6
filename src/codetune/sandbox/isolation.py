"""What this machine lets the sandbox do, and the bubblewrap command line that confines a program.

Layers, each used where available:
- rlimits (CPU, address space, file size, open files; always);
- an unprivileged uid per worker, when codetune runs as root (RLIMIT_NPROC only binds non-root uids, so this
  is what stops fork bombs; killing everything that uid owns cleans up processes that left the group);
- bubblewrap: mount, network, pid, ipc and uts namespaces; the whole file system read-only except a private,
  size-capped /tmp; the caller's home hidden (the interpreter's prefix stays readable); no network at all.
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
from dataclasses import dataclass
from pathlib import Path

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
    """Directories the interpreter needs to run and import the standard library and installed packages."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.exec_prefix).resolve()}
    roots.add(Path(sys.executable).resolve().parent.parent)
    return sorted(roots)


def bwrap_args(
    *, is_root: bool, binds: list[tuple[str, str]] = (), caps: bool = False, tmpfs_bytes: int = TMPFS_BYTES
) -> list[str]:
    """The bubblewrap prefix: read-only root, private /tmp, hidden home, no network, own pid namespace."""
    args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for d in ("/tmp", "/var/tmp", "/dev/shm", "/run"):
        if os.path.isdir(d):
            args += ["--size", str(tmpfs_bytes), "--tmpfs", d]
    home = Path(os.path.expanduser("~")).resolve()
    if home != Path("/") and home.is_dir():
        args += ["--tmpfs", str(home)]
        for root in python_roots() + [SANDBOX_DIR]:
            if home in root.parents:  # keep the interpreter readable although it lives under home (pyenv)
                for parent in reversed(root.relative_to(home).parents[:-1]):
                    args += ["--perms", "0755", "--dir", str(home / parent)]  # bwrap would make them 0700
                args += ["--ro-bind", str(root), str(root)]
    for src, dst in binds:
        args += ["--bind", src, dst]
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
            ok = (
                subprocess.run(
                    probe, capture_output=True, timeout=30, env={"PATH": "/usr/bin:/bin"}
                ).returncode
                == 0
            )
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if not ok:
            reason.append("bubblewrap is installed but cannot create namespaces here")
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
    if not is_root:
        reason.append("not root: jobs share your uid, so the process limit counts all your processes")
    return Isolation(
        bwrap=bwrap, is_root=is_root, unshare=unshare, drop_uid=drop_uid, reason="; ".join(reason)
    )


def unshare_env(extra_keep: list[str] = ()) -> dict[str, str]:
    """The environment that makes the server (or launcher) confine itself (see `_child.isolate_without_bwrap`)."""
    home = str(Path(os.path.expanduser("~")).resolve())
    keep = [str(r) for r in python_roots()] + [str(SANDBOX_DIR), *extra_keep]
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
        "notes": iso.reason or "all protections active",
    }
