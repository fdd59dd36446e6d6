"""Run built-in solutions against their tests, outside the codetune process.

Started by verify.py as `python -I _harness.py JOBS.json RESULTS.json TIMEOUT` in a temporary folder; it
imports nothing from codetune. These are codetune's own solutions, not model output, so each
(program, input) runs in a fresh module namespace of this one process with stdin/stdout swapped for
in-memory streams: about 50 microseconds a run, against milliseconds for a fork and tens of milliseconds
for a fresh interpreter. A per-run alarm and a CPU/memory limit on the process bound a runaway program.
"""

import io
import json
import os
import resource
import signal
import sys
import traceback
import types


class RunTimeout(BaseException):  # BaseException: a solution's `except Exception` cannot swallow it
    pass


def _alarm(signum, frame):
    raise RunTimeout


_COMPILED: dict[str, types.CodeType] = {}  # a program runs once per test: compile it once


def run_one(code: str, stdin: str, timeout_s: float) -> dict:
    real = sys.stdin, sys.stdout, sys.stderr
    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
    sys.stdout, sys.stderr = out, err
    status = "ok"
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        if code not in _COMPILED:
            _COMPILED[code] = compile(code, "<solution>", "exec")
        exec(_COMPILED[code], {"__name__": "__main__"})
    except SystemExit as e:
        if e.code not in (None, 0):
            status = f"exit {e.code}"
    except RunTimeout:
        status = "timeout"
    except BaseException:
        traceback.print_exc(file=err)
        status = "error"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        try:
            out.flush()
        except ValueError:  # the program closed its stdout
            pass
        sys.stdin, sys.stdout, sys.stderr = real
    try:
        text = out.buffer.getvalue().decode("utf-8", "replace")
    except ValueError:
        text = ""
    return {"status": status, "stdout": text, "stderr": err.getvalue()[-2000:]}


def main() -> None:
    jobs_path, results_path, timeout_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
    try:  # a runaway allocation fails here instead of swapping the machine
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    except (ValueError, OSError):  # a lower hard limit is already in place, or the platform refuses
        pass
    signal.signal(signal.SIGALRM, _alarm)
    with open(jobs_path) as f:
        jobs = json.load(f)
    results = [run_one(j["code"], j["input"], timeout_s) for j in jobs]
    with open(results_path + ".tmp", "w") as f:
        json.dump(results, f)
    os.replace(results_path + ".tmp", results_path)


if __name__ == "__main__":
    main()
