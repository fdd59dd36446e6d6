"""Writing study files so that no failure (a kill, a full disk, a second writer) leaves a half-written one.

Every write goes to a uniquely named temporary sibling (`tempfile.mkstemp` in the destination folder, so two
processes writing the same file never share one), is flushed to disk, then renamed over the real name:
readers see the old file or the new one, never a part. A write that fails removes its temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

_TMP_SUFFIX = ".tmp"


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}."


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` through a unique temporary sibling, fsync it, rename it over `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), suffix=_TMP_SUFFIX, dir=path.parent)
    try:
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; study files are ordinary files
        os.replace(tmp, path)
    except BaseException as e:
        err = write_error(e, path, size=len(data)) if isinstance(e, OSError) else None  # before the unlink
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        # name the file, the disk (err is None unless e is an OSError)
        if isinstance(e, OSError) and err is not None and (e.filename is None or err.errno == errno.ENOSPC):
            raise err from e
        raise


# A lone surrogate (half of a UTF-16 pair) is valid in JSON ("\\ud800") and in a Python str, but has no UTF-8
# form: benchmark text is hostile input and may hold one.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def write_text_atomic(path: str | Path, text: str) -> None:
    """`text` as UTF-8; a lone surrogate becomes U+FFFD (the replacement character), never an error."""
    write_bytes_atomic(path, _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8"))


def json_text(data: object, *, indent: int | None = None) -> str:
    """JSON for a file: other languages' text kept readable, a lone surrogate kept as its \\u escape (valid
    JSON that reads back to the same string; it appears only inside strings)."""
    text = json.dumps(data, indent=indent, ensure_ascii=False)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def write_json_atomic(path: str | Path, data: object, *, indent: int | None = 2) -> None:
    write_text_atomic(path, json_text(data, indent=indent) + "\n")


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """A fresh, uniquely named temporary folder beside `target`, renamed to `target` when the block succeeds
    (an existing `target` is replaced) and removed when it fails."""
    target = Path(target)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(target), suffix=_TMP_SUFFIX, dir=target.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700; the folder it becomes is an ordinary one
        yield tmp
        replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_dir(src: str | Path, dst: str | Path) -> None:
    """Move the finished folder `src` to `dst`, replacing any folder there. The old one is first renamed
    aside (a unique name), so `dst` is at every moment either the old folder or the new one, never a mix."""
    src, dst = Path(src), Path(dst)
    old = None
    if dst.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old.", suffix=_TMP_SUFFIX, dir=dst.parent))
        os.replace(dst, old)  # onto the empty folder mkdtemp made
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def is_temporary(name: str) -> bool:
    """Whether a file or folder name is one of our temporary siblings (left by a process killed mid-write)."""
    return name.startswith(".") and name.endswith(_TMP_SUFFIX)


def check_writable_file(path: str | Path, what: str = "output") -> Path:
    """Before long work: `path` is not a folder, and its folder exists (created if need be) and takes a new
    file. Raises an OSError naming `path` and the cause; returns the path."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"the {what} path is a folder", str(path))
    try:
        check_writable_dir(path.parent)
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(path)) from None
    return path


def check_writable_dir(folder: str | Path) -> Path:
    """Create `folder` if need be and prove that a new file can be created in it (a probe, removed at once).
    Raises an OSError naming `folder` and the cause."""
    folder = Path(folder)
    for p in (folder, *folder.parents):  # mkdir's own error for a file on the way ("File exists") misleads
        if p.exists():
            if not p.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, f"{p} is a file, not a folder", str(folder))
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".codetune-probe.", suffix=_TMP_SUFFIX, dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(folder)) from None
    return folder


_ERRNO_IN_MESSAGE = re.compile(r"(?:os error|code:?)\s*(\d+)", re.IGNORECASE)
_MB = 1 << 20


def write_error(exc: BaseException, path: str | Path, *, size: int = 0) -> OSError:
    """An OSError naming `path` for a failed write, whatever raised it: an OSError without a file name, or a
    library's own write error (safetensors' SafetensorError, torch.save's RuntimeError "unexpected pos") that
    wraps the OS error in its message or names none. The errno is read from the message; failing that, the
    disk is full when it has less free than the `size` bytes being written (at least 1 MB). A full disk reads
    "no space left on DIR (N MB free)". Call it before removing what the failed write left: that space is
    what the disk lacked."""
    code: int | None
    if isinstance(exc, OSError) and exc.errno is not None:
        code, cause, path = exc.errno, exc.strerror or str(exc), exc.filename or str(path)
    else:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        m = _ERRNO_IN_MESSAGE.search(str(exc))
        code = int(m.group(1)) if m else None
        free = free_bytes(Path(path))
        if code is None and free is not None and free < max(_MB, size):
            code = errno.ENOSPC
        cause = os.strerror(code) if code is not None else f"write failed ({type(exc).__name__}: {message})"
        code = errno.EIO if code is None else code
    if code == errno.ENOSPC:
        return no_space_error(path)
    return OSError(code, cause, str(path))


def no_space_error(path: str | Path) -> OSError:
    """ENOSPC for `path`, saying which folder's disk is full and how much it has left."""
    folder = _existing_dir(Path(path))
    free = free_bytes(folder)
    shown = "?" if free is None else f"{free / _MB:.0f}"
    return OSError(errno.ENOSPC, f"no space left on {folder} ({shown} MB free)", str(path))


def free_bytes(path: Path) -> int | None:
    """Bytes an unprivileged writer can still use on the disk of `path` (its nearest existing folder)."""
    try:
        st = os.statvfs(_existing_dir(path))
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def _existing_dir(path: Path) -> Path:
    for p in (path, *path.parents):
        if p.is_dir():
            return p
    return Path("/")


@contextlib.contextmanager
def removed_on_failure(folder: str | Path, *, remove: bool = True, size: int = 0) -> Iterator[None]:
    """Around a library's write of `folder` (a checkpoint): a failure becomes write_error's OSError naming
    `folder`, judged before the half-written folder is removed (its bytes are what filled the disk)."""
    try:
        yield
    except Exception as e:
        err = write_error(e, folder, size=size)
        if remove:
            shutil.rmtree(folder, ignore_errors=True)
        raise err from e
