"""Run a command as an unprivileged user, for the tests that check the sandbox as a non-root user would.

When the suite runs as root (CI, this machine), a system user is created once (`useradd`) and the command
runs as it in a private mount namespace of its own, where every folder it needs (the interpreter, the venv,
the checkout) is reachable: a closed ancestor such as root's home (mode 0700, where pyenv and a CI clone
live) is covered by a tmpfs with only those folders bound back. Nothing changes on the host (no chmod, no
ACL: those would open root's home to that user for as long as the test runs, and stay open if it is
killed), and the user still sees nothing else of root's home. `why_not()` says why this cannot be done here.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from codetune.sandbox.isolation import python_roots

USER = "codetune-test"
REPO = Path(__file__).resolve().parents[1]

# The set-up, run as root in the child before it becomes the user (util-linux has no one-step way).
_ENTER = r"""
import ctypes, json, os, sys
spec = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)

def call(name, *args):
    if getattr(libc, name)(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")

call("unshare", 0x00020000)  # CLONE_NEWNS
call("mount", None, b"/", None, 16384 | (1 << 18), None)  # MS_REC | MS_PRIVATE: nothing reaches the host
for closed, keep in spec["open"].items():
    held = [(p, os.open(p, os.O_PATH)) for p in keep]
    call("mount", b"tmpfs", closed.encode(), b"tmpfs", 0, b"mode=755,size=1m")
    for path, fd in held:
        os.makedirs(path, mode=0o755, exist_ok=True)
        call("mount", f"/proc/self/fd/{fd}".encode(), path.encode(), None, 4096 | 16384, None)  # MS_BIND|REC
        os.close(fd)
os.setgroups([])
os.setresgid(spec["gid"], spec["gid"], spec["gid"])
os.setresuid(spec["uid"], spec["uid"], spec["uid"])
os.chdir(spec["cwd"])
os.execve(spec["argv"][0], spec["argv"], spec["env"])
"""


def _closed_ancestor(path: Path) -> Path | None:
    """The outermost folder on the way to `path` that other users may not pass (no o+x), if any."""
    for p in [*reversed(path.parents), path]:
        if not p.stat().st_mode & stat.S_IXOTH:
            return p
    return None


def _needed() -> list[Path]:
    return sorted({*python_roots(), REPO, Path(sys.executable).parent.resolve()})


def why_not() -> str | None:
    """Why commands cannot run as an unprivileged user here (None: they can)."""
    if os.geteuid() != 0:
        return "the suite runs unprivileged already: the sandbox tests themselves run as this user"
    if not shutil.which("useradd"):
        try:
            pwd.getpwnam(USER)
        except KeyError:
            return f"no useradd to create the test user {USER}"
    for path in _needed():
        if path == _closed_ancestor(path):
            return f"{path} is not readable by other users"
    try:  # a private mount namespace is what makes root's closed folders passable for the test user only
        subprocess.run(["unshare", "-m", "true"], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "no private mount namespace here (unshare -m failed: no CAP_SYS_ADMIN?)"
    return None


def ensure_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", USER],
            check=True, capture_output=True,
        )  # fmt: skip
        return pwd.getpwnam(USER)


def run_as_user(
    argv: list[str], env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run `argv` (argv[0] an absolute path) as USER in the checkout, with a fresh HOME and TMPDIR of its own
    (removed afterwards), a clean environment plus `env`; returns its completed process (text output)."""
    user = ensure_user()
    home = Path(tempfile.mkdtemp(prefix=f"{USER}-home-"))  # in /tmp, which the user can pass
    try:
        os.chown(home, user.pw_uid, user.pw_gid)
        return _run(argv, user, home, env or {}, timeout)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _run(argv, user, home: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    opened: dict[str, list[str]] = {}
    for path in _needed():
        closed = _closed_ancestor(path)
        if closed is not None:
            opened.setdefault(str(closed), []).append(str(path))
    full_env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",  # the checkout is root's: nothing to write there
        **({"CI": os.environ["CI"]} if "CI" in os.environ else {}),
        **env,
    }
    spec = {
        "open": opened,
        "uid": user.pw_uid,
        "gid": user.pw_gid,
        "cwd": str(REPO),
        "argv": argv,
        "env": full_env,
    }
    return subprocess.run(
        [sys.executable, "-I", "-c", _ENTER, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin"},
    )
