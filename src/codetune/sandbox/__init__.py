"""Executing untrusted, model-written programs: limits, isolation, a warm worker pool. Imports no torch.

    from codetune.sandbox import Job, Limits, get_runner
    with get_runner() as runner:  # "auto": warm fork servers when they start here, else a process per job
        results = runner.run([Job(program=src, stdin=test_input) for ...], progress=bar_update)

Every program runs in its own process (never in the codetune process), in a fresh work dir, with CPU-time,
wall-clock, address-space, file-size, output and process limits, a scrubbed environment, and everything it
started killed at the end, or at once when the runner closes mid-job (an interrupted caller), when its
worker dies, or when the codetune process dies (kill -9 included): a job and what it forks die with their
parent process; `protections()` (and `codetune doctor`) says which extra layers this machine allows
(bubblewrap namespaces: no network, only the system's folders and the interpreter's visible, read-only, a
private /tmp; a fresh uid per worker). Where nothing isolates a job (no bubblewrap, not root) a runner is
refused, unless CODETUNE_SANDBOX_WEAK=1 accepts it (`isolation_level()` says which, and evaluations record it).

Verdicts (`Result.status`): "ok" = exit status 0 within every limit (judging the output is the caller's);
"runtime_error" = non-zero exit, uncaught exception or a signal (stderr keeps the traceback's last 8 kB);
"timeout" = over `cpu_time_s` of CPU, or over the wall-clock ceiling (default 2 * cpu + 2 s) while blocked
(the wall clock leaves out the job's waits for a CPU other work held, up to limits.WALL_STRETCH x the ceiling
in real time; `Result.cpu_wait_s`);
"memory_limit" = a MemoryError under the address-space limit; "output_limit" = more stdout than
`max_output_bytes` (the first bytes kept, `stdout_truncated` set; never "ok"); "sandbox_error" = the harness
failed, not the program (counted as a failure). `progress(n)` gets the number of jobs finished so far.
"""

from codetune.sandbox.isolation import check_isolation, isolation_level, protections
from codetune.sandbox.limits import SANDBOX_VERSION, Job, Limits, Result, Status
from codetune.sandbox.runner import Runner, get_runner

__all__ = [
    "SANDBOX_VERSION",
    "Job",
    "Limits",
    "Result",
    "Runner",
    "Status",
    "check_isolation",
    "get_runner",
    "isolation_level",
    "protections",
]
