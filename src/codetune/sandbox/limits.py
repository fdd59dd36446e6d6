"""The records that cross the sandbox boundary: what a run may use (Limits), what to run (Job), what came back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from codetune.config import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S

Status = Literal["ok", "runtime_error", "timeout", "memory_limit", "output_limit", "sandbox_error"]


# Bump when how a program runs changes (isolation, limits, how a verdict is classified): evaluations redo.
SANDBOX_VERSION = 2  # 2: the wall clock leaves out a job's waits for a CPU; jobs see only system and
# interpreter folders (HF_HOME, studies hidden)

# A job's wall clock leaves out the time it waited for a CPU that other work held (Linux schedstat), so a
# verdict does not depend on what else runs on the machine; in real time a job still ends by this many times
# its wall limit (a machine that gives it less than 1/WALL_STRETCH of a CPU ends it "starved").
WALL_STRETCH = 10.0


@dataclass(frozen=True)
class Limits:
    """Per-run resource limits. Timeouts count CPU seconds, so a loaded harness does not cause them."""

    cpu_time_s: float = DEFAULT_TIMEOUT_S
    wall_time_s: float | None = None  # None: 2 * cpu_time_s + 2, a ceiling for programs that sleep or block
    memory_mb: int = DEFAULT_MEMORY_MB  # address space (RLIMIT_AS)
    max_output_bytes: int = 1_000_000  # captured stdout; more is "output_limit" with the first bytes kept
    max_file_bytes: int = 10_000_000  # any single file the program writes (RLIMIT_FSIZE)
    max_processes: int = (
        32  # processes + threads (RLIMIT_NPROC; enforced where the program runs unprivileged)
    )

    @property
    def wall_ceiling_s(self) -> float:
        return self.wall_time_s if self.wall_time_s is not None else 2 * self.cpu_time_s + 2

    @property
    def real_time_ceiling_s(self) -> float:
        """The longest a job may take in real time, its waits for a CPU included."""
        return self.wall_ceiling_s * WALL_STRETCH

    def to_dict(self) -> dict[str, float | int]:
        return {
            "cpu_time_s": self.cpu_time_s,
            "wall_time_s": self.wall_ceiling_s,
            "real_time_s": self.real_time_ceiling_s,
            "memory_mb": self.memory_mb,
            "max_output_bytes": self.max_output_bytes,
            "max_file_bytes": self.max_file_bytes,
            "max_processes": self.max_processes,
        }


@dataclass(frozen=True)
class Job:
    """One execution: a Python program (untrusted source) and the text it reads on stdin."""

    program: str
    stdin: str = ""
    limits: Limits = field(default_factory=Limits)


@dataclass
class Result:
    """What one execution did. "ok" means exit status 0 within every limit; judging the output is the caller's.

    Output over `max_output_bytes` is status "output_limit" (never "ok"), with the first bytes kept in `stdout`
    and `stdout_truncated` set. `stderr` keeps at most the last 8 kB.
    """

    status: Status
    exit_code: int | None
    stdout: str
    stderr: str
    stdout_truncated: bool
    cpu_time_s: float
    wall_time_s: float  # real time, its waits for a CPU included
    # Of that, the time it waited for a CPU other work held (left out of its wall clock); None where this
    # kernel does not say (no /proc/PID/schedstat): then the wall clock is real time.
    cpu_wait_s: float | None = None
