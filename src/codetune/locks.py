"""One writer per folder: an OS lock on a file in it, which the kernel releases when the holder dies.

`codetune study` and `codetune eval` hold the study folder's lock, `codetune train` the study folder's and its
run folder's, for as long as they write there; a second writer is refused at once with one line naming the folder and the
holder's pid. Readers (report, select, bench) take no lock. A process killed with -9 leaves no stale lock:
the lock is `flock` on an open file, not the file's existence. The lock file is never deleted (deleting it
while another process waits on it would let two processes hold "the" lock at once).

Reentrant within one process: a study that holds its folder's lock can call the evaluation, which asks for
the same lock again.

Every writer of a study folder (study, eval, train, which writes a run inside it) takes it through
`study_lock`, which also refuses a folder that holds someone else's files and marks a new one as a study.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from codetune import layout
from codetune.errors import CodetuneError
from codetune.files import check_writable_dir
from codetune.layout import lock_path

_held: dict[Path, list[int]] = {}  # folder -> [fd, depth]
_guard = threading.Lock()


def lock_holder(folder: str | Path) -> int | None:
    """The pid recorded by the process that last took the folder's lock (it may have finished since)."""
    try:
        text = lock_path(Path(folder)).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@contextlib.contextmanager
def folder_lock(folder: str | Path, what: str = "folder") -> Iterator[Path]:
    """Hold `folder`'s lock for the block (creating the folder); CodetuneError if another process holds it."""
    folder = Path(folder).resolve()
    with _guard:
        entry = _held.get(folder)
        if entry is not None:
            entry[1] += 1
        else:
            _held[folder] = [_acquire(folder, what), 1]
    try:
        yield folder
    finally:
        with _guard:
            entry = _held[folder]
            entry[1] -= 1
            if entry[1] == 0:
                del _held[folder]
                os.close(entry[0])  # releases the lock


def _acquire(folder: Path, what: str) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    path = lock_path(folder)
    # O_CLOEXEC: a program this process starts must not inherit (and so keep holding) the lock.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = lock_holder(folder)
        who = f"pid {holder}" if holder is not None else "another process"
        raise CodetuneError(
            f"{what} {folder} is being written by another codetune process ({who}); wait for it to finish "
            "or stop it, then rerun"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    with contextlib.suppress(OSError):  # the pid is for the message only (a full disk may refuse it)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def check_study_folder(output_dir: str | Path) -> None:
    """CodetuneError, naming a few of its files, when output_dir holds files but no study (a study deletes
    and overwrites the files it owns, so it never starts among someone else's)."""
    if names := layout.foreign_files(Path(output_dir)):
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        raise CodetuneError(
            f"output_dir {Path(output_dir).resolve()} holds files but no codetune study ({shown}; no "
            f"{layout.STAGES_DIR}/ folder): set output_dir to a new or empty folder (nothing was changed)"
        )


@contextlib.contextmanager
def study_lock(output_dir: str | Path) -> Iterator[Path]:
    """Hold a study folder's lock for the block: refused when the folder holds files but no study; a new or
    empty folder is marked as a study (its stages/ folder) before anything else is written."""
    check_study_folder(output_dir)
    with folder_lock(check_writable_dir(output_dir), "study folder") as folder:
        check_study_folder(folder)  # again under the lock: another process may have written meanwhile
        layout.stages_dir(folder).mkdir(exist_ok=True)
        yield folder
