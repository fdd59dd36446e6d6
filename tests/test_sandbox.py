"""The sandbox: verdicts, limits, and hostile programs (each must fail, leave nothing running or written,
and leave the runner able to score the next program correctly). Both engines run every case."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from codetune.errors import CodetuneError
from codetune.sandbox import Job, Limits, get_runner, isolation, protections
from codetune.sandbox.isolation import detect
from codetune.sandbox.runner import PoolRunner, SubprocessRunner
from helpers import REAP_S, marked_processes, sleeper_program, wait_for

# Small limits keep hostile cases fast and harmless on a shared machine.
TIGHT = Limits(
    cpu_time_s=1.0,
    wall_time_s=3.0,
    memory_mb=256,
    max_output_bytes=100_000,
    max_file_bytes=1_000_000,
    max_processes=16,
)
PROT = protections()
# Whether to expect isolation is decided from the machine, never from protections() (the code under test):
# if the bubblewrap probe broke, the isolation tests must fail, not skip.
BWRAP = shutil.which("bwrap")
IS_ROOT = os.geteuid() == 0
needs_bwrap = pytest.mark.skipif(
    not BWRAP and os.environ.get("CI") != "true",
    reason="bubblewrap is not installed (apt-get install bubblewrap)",
)
REPO = Path(__file__).resolve().parents[1]
CORRECT = Job("a, b = map(int, input().split())\nprint(a + b)\n", "2 40\n", TIGHT)
SCRATCH = [Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path.home(), Path.cwd()]


def _ppid_map() -> dict[int, int]:
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            out[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for p, pp in _ppid_map().items():
        children.setdefault(pp, []).append(p)
    found, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in found:
                found.add(c)
                todo.append(c)
    return found


def _uid_procs(uids: list[int] | None) -> list[int]:
    if not uids:
        return []
    wanted, hits = {str(u) for u in uids}, []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
            if uid_line.split()[1] in wanted:
                hits.append(int(entry))
    return hits


@pytest.fixture(params=["pool", "subprocess", "pool-without-bwrap"], scope="module")
def runner(request):
    """One worker, so the job after a hostile one runs on the very worker the hostile one ran on.

    "pool-without-bwrap": root's fallback when bubblewrap is missing (namespaces and mounts done by hand)."""
    kind = request.param.split("-")[0]
    if request.param == "pool-without-bwrap":
        if os.geteuid() != 0:
            pytest.skip("the fallback without bubblewrap confines jobs only when running as root")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("CODETUNE_SANDBOX_BWRAP", "0")
            detect.cache_clear()
            try:
                if not detect().unshare:
                    pytest.skip(
                        "no namespaces without bubblewrap here (e.g. a container without CAP_SYS_ADMIN)"
                    )
                r = get_runner(kind, workers=1)
            finally:
                detect.cache_clear()
        assert r.isolation.bwrap is None and r.isolation.unshare and r.isolation.drop_uid
    else:
        r = get_runner(kind, workers=1)
    assert isinstance(r, PoolRunner if kind == "pool" else SubprocessRunner)
    if isinstance(r, PoolRunner):
        r.warm_up()
    yield r
    r.close()


def _run_hostile(runner, program: str, stdin: str = "", limits: Limits = TIGHT, token: str | None = None):
    """Run one hostile job; check that nothing is left running or written, and that a correct job passes."""
    baseline = _descendants(os.getpid())
    result = runner.run([Job(program, stdin, limits)])[0]
    # Nothing left running: no new process under this test, none owned by the runner's job uids.
    deadline = time.monotonic() + REAP_S
    while (_descendants(os.getpid()) - baseline or _uid_procs(runner._uids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _descendants(os.getpid()) - baseline, "a job left a process running"
    assert not _uid_procs(runner._uids), "a process owned by a job uid is still running"
    if token:
        assert not [p for d in SCRATCH for p in d.glob(f"*{token}*")], "a job wrote outside its work dir"
    after = runner.run([CORRECT])[0]
    assert (after.status, after.stdout) == ("ok", "42\n"), after
    return result


# --- ordinary programs ---------------------------------------------------------------------------------------


def test_verdicts_and_order(runner):
    jobs = [
        Job("print(int(input()) * 2)", "21\n", TIGHT),
        Job("import sys\nprint('partial')\nsys.exit(3)", limits=TIGHT),
        Job("raise ValueError('boom')", limits=TIGHT),
        Job("import sys\nprint('answer')\nsys.exit(0)", limits=TIGHT),
        Job("import sys\nprint(sys.stdin.read().upper(), end='')", "abc\ndef\n", TIGHT),
        Job("def f(n):\n    return f(n + 1)\nf(0)", limits=TIGHT),
    ]
    seen = []
    results = runner.run(jobs, progress=seen.append)
    assert seen == list(range(1, len(jobs) + 1))
    assert [(r.status, r.exit_code) for r in results] == [
        ("ok", 0),
        ("runtime_error", 3),
        ("runtime_error", 1),
        ("ok", 0),
        ("ok", 0),
        ("runtime_error", 1),
    ]
    assert results[0].stdout == "42\n" and results[1].stdout == "partial\n"
    assert "ValueError: boom" in results[2].stderr
    assert results[3].stdout == "answer\n" and results[4].stdout == "ABC\nDEF\n"
    assert "RecursionError" in results[5].stderr
    assert not any(r.stdout_truncated for r in results)


def test_timeout_counts_cpu_not_sleep(runner):
    sleeper, spinner = runner.run(
        [
            Job(
                "import time\ntime.sleep(1.5)\nprint('woke')", limits=TIGHT
            ),  # 1.5 s wall, ~0 CPU: within limits
            Job("while True:\n    pass", limits=TIGHT),
        ]
    )
    assert (sleeper.status, sleeper.stdout) == ("ok", "woke\n")
    assert spinner.status == "timeout" and 0.8 <= spinner.cpu_time_s < 2.5


def test_stderr_is_truncated_to_its_tail(runner):
    r = runner.run(
        [
            Job(
                "import sys\nfor i in range(20000):\n    print('line', i, file=sys.stderr)\nsys.exit(1)",
                limits=TIGHT,
            )
        ]
    )[0]
    assert r.status == "runtime_error" and len(r.stderr) <= 8_000 and r.stderr.rstrip().endswith("line 19999")


def test_program_files_stay_in_its_own_work_dir(runner):
    prog = "open('scratch.txt', 'w').write('hi')\nimport os\nprint(open('scratch.txt').read(), os.getcwd() == os.environ['HOME'])"
    a, b = runner.run(
        [Job(prog, limits=TIGHT), Job("import os\nprint(sorted(os.listdir('.')))", limits=TIGHT)]
    )
    assert (a.status, a.stdout) == ("ok", "hi True\n")
    assert "scratch.txt" not in b.stdout  # each job gets a fresh directory


def test_protections_report_says_what_a_job_sees():
    """What `codetune doctor` reports is what a job meets: its uid and its network interfaces."""
    probe = (
        "import os, socket\n"
        "print(os.getuid())\n"
        "print(','.join(sorted(name for _, name in socket.if_nameindex())))\n"
    )
    with get_runner(workers=1) as r:
        res = r.run([Job(probe, "", TIGHT)])[0]
    assert res.status == "ok", res.stderr
    uid_line, interfaces = res.stdout.splitlines()
    job_uid = int(uid_line)
    assert (job_uid != os.geteuid()) == PROT["unprivileged_uid"]
    if PROT["no_network"]:
        assert interfaces == "lo"  # a network namespace of its own: no route anywhere
    host = ",".join(sorted(name for _, name in __import__("socket").if_nameindex()))
    if interfaces != host:
        assert PROT["no_network"]  # a job that sees other interfaces than ours is in a namespace, and says so
    # namespaces_without_bwrap is the fallback used when bubblewrap is missing, not a protection of its own.
    booleans = [k for k, v in PROT.items() if isinstance(v, bool) and k != "namespaces_without_bwrap"]
    assert (PROT["notes"] == "all protections active") == all(PROT[k] for k in booleans)


def test_auto_runner_prefers_the_pool():
    with get_runner("auto", workers=1) as r:
        assert isinstance(r, PoolRunner)
        assert r.run([CORRECT])[0].stdout == "42\n"


def test_unknown_runner_kind():
    with pytest.raises(ValueError, match="unknown sandbox runner kind"):
        get_runner("threads")  # type: ignore[arg-type]


# --- hostile programs ----------------------------------------------------------------------------------------


def test_infinite_loop(runner):
    r = _run_hostile(runner, "while True:\n    pass")
    assert r.status == "timeout"


@pytest.mark.skipif(
    IS_ROOT and not BWRAP, reason="no enforceable process limit here (root without bubblewrap's job uid)"
)
def test_fork_bomb(runner):
    r = _run_hostile(runner, "import os\nwhile True:\n    os.fork()")
    assert r.status in ("runtime_error", "timeout")


@pytest.mark.skipif(
    IS_ROOT and not BWRAP, reason="no enforceable process limit here (root without bubblewrap's job uid)"
)
def test_fork_bomb_with_escaping_children(runner):
    # Children leave the process group with setsid() and sleep: the cleanup must find them anyway.
    prog = (
        "import os, time\n"
        "for _ in range(10):\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        while True:\n"
        "            try:\n"
        "                os.fork()\n"
        "            except OSError:\n"
        "                time.sleep(60)\n"
        "time.sleep(0.3)\n"
        "raise SystemExit(1)\n"
    )
    r = _run_hostile(runner, prog)
    assert r.status == "runtime_error"


def test_allocate_50_gb(runner):
    r = _run_hostile(runner, "x = bytearray(50 * 10**9)\nprint(len(x))")
    assert r.status == "memory_limit" and r.stdout == ""
    r = _run_hostile(runner, "chunks = []\nwhile True:\n    chunks.append(bytearray(10**7))")
    assert r.status == "memory_limit"


def test_write_10_gb_to_stdout(runner):
    prog = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(10 * 1024):\n    sys.stdout.write(chunk)"
    r = _run_hostile(runner, prog)
    assert r.status == "output_limit" and r.stdout_truncated
    assert len(r.stdout) == TIGHT.max_output_bytes and set(r.stdout) == {"x"}
    # Stopped at the cap (its first 1 MB write), not by its CPU limit: 10 GB uncapped would take minutes.
    assert r.cpu_time_s < TIGHT.cpu_time_s


def test_print_forever_to_stderr(runner):
    r = _run_hostile(runner, "import sys\nwhile True:\n    print('x' * 1000, file=sys.stderr)")
    assert r.status in ("runtime_error", "timeout") and len(r.stderr) <= 8_000


@needs_bwrap
def test_write_outside_the_work_dir(runner):
    token = f"codetune-escape-{uuid.uuid4().hex}"
    targets = [str(d / token) for d in SCRATCH] + [f"../{token}", f"/{token}"]
    prog = f"for t in {targets!r}:\n    try:\n        open(t, 'w').write('pwned')\n        print('wrote', t)\n    except OSError:\n        pass\n"
    r = _run_hostile(runner, prog, token=token)
    if not IS_ROOT and runner.isolation.bwrap:
        # Jobs share the server's uid: the worker's own private /tmp (a tmpfs in its namespace) takes their
        # writes, emptied after every job; the next job finds nothing of them, and the host never sees them.
        look = f"import glob\nprint(glob.glob('/tmp/*{token}*') + glob.glob('/var/tmp/*{token}*'))"
        assert runner.run([Job(look, "", TIGHT)])[0].stdout == "[]\n"
        return
    assert r.stdout == ""  # not even into the sandbox's own scratch dirs
    r = _run_hostile(runner, f"open('/tmp/{token}', 'w').write('x')", token=token)
    assert r.status == "runtime_error" and "Error" in r.stderr


def test_read_secrets_home_and_environment(runner, tmp_path, monkeypatch):
    secret = tmp_path / "id_rsa"
    secret.write_text("PRIVATE KEY")
    secret.chmod(0o600)
    monkeypatch.setenv("CODETUNE_TEST_SECRET", "hunter2")
    # Read the key, the caller's ~/.ssh, and the caller's environment (own, parent's, every process's).
    prog = (
        "import os, glob\n"
        "found = []\n"
        f"for path in [{str(secret)!r}, {str(Path.home() / '.ssh')!r} + '/id_rsa', '/proc/1/environ',\n"
        "             f'/proc/{os.getppid()}/environ', *glob.glob('/proc/*/environ')]:\n"
        "    try:\n"
        "        found.append(open(path, 'rb').read().decode('latin-1'))\n"
        "    except OSError:\n"
        "        pass\n"
        "print(repr(found), dict(os.environ))\n"
        "print(os.environ['CODETUNE_TEST_SECRET'])\n"
    )
    r = _run_hostile(runner, prog)
    assert r.status == "runtime_error" and "KeyError" in r.stderr
    assert "PRIVATE KEY" not in r.stdout and "hunter2" not in r.stdout


@needs_bwrap
def test_socket_to_a_local_port(runner):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.2)
        port = server.getsockname()[1]
        prog = (
            f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\ns.sendall(b'hi')"
        )
        r = _run_hostile(runner, prog)
        assert r.status == "runtime_error" and ("ConnectionRefused" in r.stderr or "OSError" in r.stderr)
        with pytest.raises(TimeoutError):
            server.accept()  # nothing reached the caller's port


def test_kill_the_parent(runner):
    r = _run_hostile(runner, "import os\nos.kill(os.getppid(), 9)\nprint('still here')")
    assert r.status in ("runtime_error", "sandbox_error")


def test_kill_the_process_group_and_everything(runner):
    r = _run_hostile(runner, "import os, signal\nos.killpg(0, signal.SIGKILL)")
    assert r.status == "runtime_error"
    r = _run_hostile(
        runner,
        "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\nraise SystemExit(2)",
    )
    # Without root, a job inside bubblewrap shares its server's uid and kills it too: its own verdict is then a
    # sandbox error (a failure all the same); codetune and the next job are unharmed (_run_hostile).
    assert r.status == "runtime_error" or (not IS_ROOT and r.status == "sandbox_error")


def test_exit_zero_before_printing(runner):
    # A clean exit is "ok"; the scorer then fails it on its (empty) output.
    r = _run_hostile(runner, "import sys\nsys.exit(0)\nprint(42)")
    assert (r.status, r.stdout) == ("ok", "")


def test_close_stdout(runner):
    r = _run_hostile(runner, "import sys\nsys.stdout.close()\nprint(42)")
    assert r.status == "runtime_error"
    r = _run_hostile(runner, "import os\nos.close(1)\nprint(42)")
    assert (r.status, r.exit_code) == ("runtime_error", 120)


def test_deep_recursion(runner):
    # Python 3.11+ keeps Python frames off the C stack: this ends in MemoryError, a crash, or the time limit.
    r = _run_hostile(
        runner, "import sys\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return f(n + 1) + 1\nf(0)"
    )
    assert r.status in ("runtime_error", "memory_limit", "timeout")


def test_signal_tricks(runner):
    # Ignore the CPU-limit signal: the hard limit kills it a second later.
    r = _run_hostile(
        runner, "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass"
    )
    assert r.status == "timeout"
    # Ignore everything that can be ignored, then block: the wall-clock ceiling uses SIGKILL.
    prog = (
        "import signal, time\n"
        "for s in signal.valid_signals():\n"
        "    try:\n"
        "        signal.signal(s, signal.SIG_IGN)\n"
        "    except (OSError, ValueError, RuntimeError):\n"
        "        pass\n"
        "time.sleep(60)\n"
    )
    r = _run_hostile(runner, prog)
    assert r.status == "timeout" and r.wall_time_s < TIGHT.wall_ceiling_s + 2


def test_thread_outlives_main(runner):
    # main prints the right answer and returns; its non-daemon thread spins on, so the program never ends
    prog = "import threading\n\ndef spin():\n    while True:\n        pass\n\nthreading.Thread(target=spin).start()\nprint(42)"
    r = _run_hostile(runner, prog)
    assert r.status == "timeout"  # (its buffered "42" dies with it, as with a plain python)


# --- the harness itself --------------------------------------------------------------------------------------


def test_a_killed_worker_is_replaced():
    with get_runner("pool", workers=1) as r:
        r.warm_up()
        os.kill(r._servers[0].proc.pid, 9)  # e.g. the OOM killer took it
        r._servers[0].proc.wait()
        assert r.run([CORRECT])[0].stdout == "42\n"


def test_a_closed_runner_refuses_work():
    r = get_runner("subprocess", workers=1)
    r.close()
    with pytest.raises(RuntimeError, match="closed"):
        r.run([CORRECT])


def test_doctor_command_lists_protections():
    import json

    from typer.testing import CliRunner

    from codetune.cli import app

    res = CliRunner().invoke(app, ["doctor", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    # Checked against the machine, not against protections() itself.
    if BWRAP:
        assert report["bubblewrap"] == BWRAP and report["no_network"] and report["private_filesystem"]
        assert report["unprivileged_uid"] == IS_ROOT and report["pid_namespace"]
    else:
        assert report["bubblewrap"] is False and "bubblewrap (bwrap) not found" in report["notes"]
    res = CliRunner().invoke(app, ["doctor"])
    assert res.exit_code == 0 and "no network" in res.output


def test_doctor_says_when_bubblewrap_is_turned_off(monkeypatch):
    import json

    from typer.testing import CliRunner

    from codetune.cli import app

    monkeypatch.setenv("CODETUNE_SANDBOX_BWRAP", "0")
    detect.cache_clear()
    try:
        report = json.loads(CliRunner().invoke(app, ["doctor", "--json"]).output)
    finally:
        detect.cache_clear()
    assert report["bubblewrap"] is False and report["pid_namespace"] is False
    assert "disabled by CODETUNE_SANDBOX_BWRAP=0" in report["notes"]


@needs_bwrap
def test_jobs_run_under_bubblewrap_where_it_is_installed(tmp_path):
    """Where bwrap is installed the pool must use it: a job lives in other network, mount and pid namespaces
    than codetune's, and cannot see a file codetune just wrote to /tmp."""
    assert BWRAP, "CI=true: bubblewrap must be installed (scripts/install-system-packages.sh)"
    token = f"codetune-visible-{uuid.uuid4().hex}"
    Path("/tmp", token).write_text("x")
    probe = (
        "import os\n"
        "print(*(os.readlink(f'/proc/self/ns/{n}') for n in ('net', 'mnt', 'pid')))\n"
        f"print(os.path.exists('/tmp/{token}'), os.getpid())\n"
    )
    try:
        with get_runner(workers=1) as r:
            assert r.isolation.bwrap == BWRAP, r.isolation.reason
            res = r.run([Job(probe, "", TIGHT)])[0]
    finally:
        Path("/tmp", token).unlink()
    assert res.status == "ok", res.stderr
    ns_line, seen_line = res.stdout.splitlines()
    ours = [os.readlink(f"/proc/self/ns/{n}") for n in ("net", "mnt", "pid")]
    assert all(a != b for a, b in zip(ns_line.split(), ours, strict=True)), (ns_line, ours)
    assert seen_line.split()[0] == "False"


def test_large_stdin_and_output_near_the_cap(runner):
    count = "import sys\ndata = sys.stdin.read()\nprint(len(data), data[:3], data[-3:])"
    big, small = "abc" * 100_000 + "xyz", "hello"
    results = runner.run([Job(count, big, TIGHT), Job(count, small, TIGHT), Job(count, big, TIGHT)])
    assert [r.stdout for r in results] == ["300003 abc xyz\n", "5 hel llo\n", "300003 abc xyz\n"]
    exact = runner.run([Job(f"import sys\nsys.stdout.write('y' * {TIGHT.max_output_bytes})", limits=TIGHT)])[
        0
    ]
    assert (exact.status, exact.stdout_truncated, len(exact.stdout)) == ("ok", False, TIGHT.max_output_bytes)


def test_worker_killed_mid_job_fails_only_that_job():
    mark = f"ctk{uuid.uuid4().hex[:8]}"
    with get_runner("pool", workers=1) as r:
        r.warm_up()
        server = r._servers[0].proc

        def kill_once_running():  # the job is seen running before its server dies: no timing guess
            if wait_for(lambda: bool(marked_processes(mark)), 60):
                os.kill(server.pid, 9)

        killer = threading.Thread(target=kill_once_running)
        killer.start()
        slow = Job(sleeper_program(mark), limits=Limits(cpu_time_s=1.0, wall_time_s=600.0))
        results = r.run([slow, CORRECT, CORRECT])
        killer.join()
        assert results[0].status == "sandbox_error"
        assert [(x.status, x.stdout) for x in results[1:]] == [("ok", "42\n")] * 2


def test_closing_during_a_run_answers_every_job():
    mark = f"ctq{uuid.uuid4().hex[:8]}"
    r = get_runner("pool", workers=1)
    r.warm_up()
    seen: set[int] = set()

    def two_jobs_seen() -> bool:
        seen.update(marked_processes(mark))
        return len(seen) >= 2

    def close_after_the_first_job():  # a second job running means the first one finished: close then
        wait_for(two_jobs_seen, 60)
        r.close()

    closer = threading.Thread(target=close_after_the_first_job)
    closer.start()
    prog = (
        f"import ctypes, time\nctypes.CDLL(None).prctl(15, {mark.encode()!r}, 0, 0, 0)\n"
        "time.sleep(0.5)\nprint('done')"
    )
    results = r.run([Job(prog, limits=TIGHT)] * 30)
    closer.join()
    statuses = [x.status for x in results]
    # Closing stopped the queue: the first job ran, the last never did, and each job has an answer.
    assert statuses[0] == "ok" and statuses[-1] == "sandbox_error"
    assert set(statuses) == {"ok", "sandbox_error"}


def test_filling_the_work_dir(runner):
    # Many files, then big ones: the job's dir is capped (its own tmpfs where the machine allows), and the job
    # can still report on stdout; nothing of it reaches the next job.
    prog = (
        "n = 0\n"
        "try:\n"
        "    while n < 20000:\n"
        "        open(f'f{n}', 'w').close()\n"
        "        n += 1\n"
        "except OSError as e:\n"
        "    print('files', n, type(e).__name__)\n"
        "try:\n"
        "    for i in range(20):\n"
        "        open(f'big{i}', 'wb').write(b'x' * 900_000)\n"
        "except OSError as e:\n"
        "    print('bytes', type(e).__name__)\n"
        "raise SystemExit(1)\n"
    )
    r = _run_hostile(runner, prog)
    assert r.status == "runtime_error"
    if PROT["private_filesystem"] and os.geteuid() == 0:
        assert r.stdout.startswith("files 40") and "bytes" in r.stdout  # ~4096 inodes; size cap
    after = runner.run([Job("import os\nprint(sorted(os.listdir('.')))", limits=TIGHT)])[0]
    assert after.stdout == "['main.py']\n"


# --- the runner going away while jobs run -----------------------------------------------------------------


def _fresh_runner(kind: str):
    if kind == "pool-without-bwrap":
        if os.geteuid() != 0:
            pytest.skip("the fallback without bubblewrap confines jobs only when running as root")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("CODETUNE_SANDBOX_BWRAP", "0")
            detect.cache_clear()
            try:
                if not detect().unshare:
                    pytest.skip("no namespaces without bubblewrap here")
                return get_runner("pool", workers=1)
            finally:
                detect.cache_clear()
    return get_runner(kind, workers=1)


@pytest.mark.parametrize("kind", ["pool", "subprocess", "pool-without-bwrap"])
def test_closing_stops_running_jobs_and_what_they_started(kind):
    """An interrupted caller closes the runner mid-job: the job and its setsid() child die at once."""
    mark = f"ctc{uuid.uuid4().hex[:8]}"
    r = _fresh_runner(kind)
    results: list = []
    job = Job(sleeper_program(mark), limits=Limits(cpu_time_s=1.0, wall_time_s=600.0))
    t = threading.Thread(target=lambda: results.extend(r.run([job])))
    t.start()
    try:
        assert wait_for(lambda: len(marked_processes(mark)) >= 2, 30), "the job did not start"
        t0 = time.monotonic()
        r.close()
        assert time.monotonic() - t0 < 60, "closing waited for the job (600 s limit) instead of stopping it"
        assert wait_for(lambda: not marked_processes(mark), REAP_S), f"left running: {marked_processes(mark)}"
        t.join(10)
        assert not t.is_alive() and results[0].status == "sandbox_error"
    finally:
        for pid in marked_processes(mark):
            os.kill(pid, 9)


@pytest.mark.parametrize("kind", ["pool", "pool-without-bwrap"])
def test_a_job_dies_with_its_server(kind):
    """A server killed outright (SIGKILL: nothing of it runs again): its job, wall limit 10 min, and the job's
    setsid() child do not wait for that limit."""
    mark = f"ctd{uuid.uuid4().hex[:8]}"
    r = _fresh_runner(kind)
    r.warm_up()
    t = threading.Thread(target=r.run, args=([Job(sleeper_program(mark), limits=Limits(1.0, 600.0))],))
    t.start()
    try:
        assert wait_for(lambda: len(marked_processes(mark)) >= 2, 30), "the job did not start"
        os.kill(r._servers[0].proc.pid, 9)
        assert wait_for(lambda: not marked_processes(mark), REAP_S), f"left running: {marked_processes(mark)}"
        t.join(20)
        assert not t.is_alive()
    finally:
        r.close()
        for pid in marked_processes(mark):
            os.kill(pid, 9)


def test_the_sweep_after_a_killed_server_finds_jobs_by_their_home(tmp_path):
    """Without a job uid (codetune not root) a dead server's leftovers are found by the HOME it gave them."""
    from codetune.sandbox.runner import _kill_with_home

    home = tmp_path / "codetune-job-424242-abcd"
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    mine = subprocess.Popen(["sleep", "600"], env=env, start_new_session=True)
    other = subprocess.Popen(["sleep", "600"], env={**env, "HOME": str(tmp_path)})
    try:
        _kill_with_home("/codetune-job-424242-")
        assert mine.wait(REAP_S) == -9 and other.poll() is None
    finally:
        other.kill()
        mine.kill()


# --- where codetune lives, what a job may see, and where nothing isolates it ----------------------------------


@needs_bwrap
def test_bubblewrap_holds_for_a_clone_and_venv_under_tmp(tmp_path):
    """A clone and its venv under /tmp (the private /tmp hid them: bubblewrap's probe failed and jobs ran
    without it, silently): the interpreter, the venv and the sandbox's own code are bound wherever they are."""
    assert str(tmp_path).startswith("/tmp/")
    clone = tmp_path / "clone"
    shutil.copytree(
        REPO / "src" / "codetune", clone / "src" / "codetune", ignore=shutil.ignore_patterns("*.pyc")
    )
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(clone / "venv")], check=True)
    site = next((clone / "venv").glob("lib/python3*/site-packages"))
    ours = [p for p in sys.path if p.endswith("site-packages")]  # pydantic & co.
    (site / "codetune-test.pth").write_text("\n".join([str(clone / "src"), *ours, ""]))
    code = (
        "import json, os\nimport codetune.sandbox as sb\nfrom codetune.sandbox import Job, get_runner\n"
        "with get_runner('pool', workers=1) as r:\n"
        "    res = r.run([Job(\"import os\\nprint(os.readlink('/proc/self/ns/mnt'))\")])[0]\n"
        "print(json.dumps({'bwrap': r.isolation.bwrap, 'reason': r.isolation.reason, 'file': sb.__file__,\n"
        "                  'status': res.status, 'out': res.stdout, 'err': res.stderr}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the copy, not the checkout
    done = subprocess.run(
        [str(clone / "venv" / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = __import__("json").loads(done.stdout.strip().splitlines()[-1])
    assert out["file"].startswith(str(clone)), out  # the copy under /tmp ran, not the checkout
    assert out["bwrap"] == BWRAP, out["reason"]
    assert out["status"] == "ok", out["err"]
    assert out["out"].strip() != os.readlink("/proc/self/ns/mnt")


def test_doctor_names_a_path_bubblewrap_cannot_see(monkeypatch):
    """When bubblewrap's probe fails on a missing path, doctor says so (not "cannot create namespaces")."""
    if not BWRAP:
        pytest.skip("bubblewrap is not installed")
    if any(sys.prefix.startswith(d + "/") for d in ("/usr", "/etc")):
        pytest.skip("the interpreter is a system one: bubblewrap sees it without a bind")
    monkeypatch.setattr(isolation, "python_roots", lambda: [])  # the venv left out of the sandbox
    detect.cache_clear()
    try:
        found = detect()
    finally:
        detect.cache_clear()
    assert found.bwrap is None
    assert "cannot see a path the worker needs" in found.reason and "No such file" in found.reason
    assert "cannot create namespaces" not in found.reason


def test_study_data_and_sockets_outside_home_and_tmp_are_hidden(runner):
    """A job sees the system's folders and the interpreter, nothing else: not a study folder, HF_HOME's
    private tests or CODETUNE_HOME where they lie outside home and /tmp, nor a unix socket there."""
    where = (
        REPO if os.access(REPO, os.W_OK) else Path.home()
    )  # (the checkout is root's in the unprivileged run)
    hidden = where / f".codetune-hidden-{uuid.uuid4().hex[:8]}"
    hidden.mkdir()
    try:
        hidden.chmod(0o755)
        (hidden / "private_tests.jsonl").write_text("EXPECTED-OUTPUT-42")
        (hidden / "private_tests.jsonl").chmod(0o644)
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(hidden / "s"))
            server.listen()
            server.settimeout(0.2)
            os.chmod(hidden / "s", 0o777)
            prog = (
                "import os, socket\n"
                f"print(os.path.exists({str(hidden)!r}))\n"
                f"try:\n    print(open({str(hidden / 'private_tests.jsonl')!r}).read())\n"
                "except OSError as e:\n    print(type(e).__name__)\n"
                "s = socket.socket(socket.AF_UNIX)\n"
                f"try:\n    s.connect({str(hidden / 's')!r})\n    print('connected')\n"
                "except OSError as e:\n    print(type(e).__name__)\n"
            )
            r = _run_hostile(runner, prog)
            with pytest.raises(TimeoutError):
                server.accept()
    finally:
        shutil.rmtree(hidden, ignore_errors=True)
    assert r.status == "ok", r.stderr
    assert r.stdout.split() == ["False", "FileNotFoundError", "FileNotFoundError"], r.stdout


def test_nothing_isolating_a_job_is_refused_unless_accepted(monkeypatch):
    """No bubblewrap and not root: jobs would run as the user's own uid, free to read the user's files and
    kill codetune. Refused in one line naming the way out, unless CODETUNE_SANDBOX_WEAK=1 accepts it."""
    bare = isolation.Isolation(bwrap=None, is_root=False, unshare=False, drop_uid=False, reason="no bwrap")
    monkeypatch.setattr("codetune.sandbox.runner.detect", lambda: bare)
    monkeypatch.delenv("CODETUNE_SANDBOX_WEAK", raising=False)
    for kind in ("pool", "subprocess"):
        with pytest.raises(CodetuneError) as e:
            get_runner(kind, workers=1)
        assert "\n" not in str(e.value)
        assert "apt-get install bubblewrap" in str(e.value) and "CODETUNE_SANDBOX_WEAK=1" in str(e.value)
    monkeypatch.setenv("CODETUNE_SANDBOX_WEAK", "1")
    get_runner("subprocess", workers=1).close()
    assert isolation.isolation_level(bare) == "none: jobs run as the user's own uid (CODETUNE_SANDBOX_WEAK=1)"
