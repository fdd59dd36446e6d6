"""The programs the sandbox runs to test one solution on one test, built to LiveCodeBench's execution model.

LiveCodeBench's grader (lcb_runner/evaluation/testing_util.py at commit
28fef95ea8c9f7a547c8329f2cd3d32b92c1fa24) does not run a solution as a script. For a stdin problem it
unwraps a final `if __name__ == '__main__':` block, moves the top-level imports to module level after its
import prelude and wraps every other statement in a function, executes that in a module named `tmp_sol`,
then calls the function per test with stdout captured in a StringIO, `SystemExit` swallowed, and stdin
replaced by a mock (read() is the whole input, readline() a StringIO's, readlines() the input split on
"\\n", buffer.readline() always the first line, no iteration, no fileno). It disables `quit`, `help` and many
os / shutil / subprocess functions first. The drivers below reproduce that inside the sandbox process
(never in codetune's), written for codetune; bench/scoring.py's docstring lists each rule and where
codetune keeps its own.

The solution travels as a string literal and is transformed inside the sandbox: parsing model output is
left to the process that has limits.
"""

from __future__ import annotations

# What LiveCodeBench puts in front of every solution: a program that uses `sqrt` or `List[int]` without an
# import passes there, so it passes here too.
PRELUDE = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\nfrom random import *\n"
    "from statistics import *\nfrom itertools import *\nfrom functools import *\nfrom operator import *\n"
    "from io import *\nfrom sys import *\nfrom json import *\nfrom builtins import *\nfrom typing import *\n"
    "import string\nimport re\nimport datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\n"
    "import math\nimport random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
    "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n"
)
RESULT_MARKER = "\x1e codetune-result "

# Shared by both drivers: the sandbox-side setup LiveCodeBench's worker has before a solution runs.
_GUARD = """\
import ast as _ast, builtins as _builtins, io as _io, os as _os, sys as _sys, traceback as _traceback
import types as _types
_write, _exit, _dup, _dup2, _open_fd = _os.write, _os._exit, _os.dup, _os.dup2, _os.open
_sys.set_int_max_str_digits(50000)  # LiveCodeBench's grader process raises Python's 4300-digit limit


def _emit(fd, text):
    data = text.encode("utf-8", "surrogatepass")
    while data:
        data = data[_write(fd, data):]


def _fail(exc):
    # The traceback on stderr (its last line names the error: MemoryError is told apart by the runner).
    _sys.__stderr__.write("".join(_traceback.format_exception(exc)))
    _sys.__stderr__.flush()
    _exit(1)


def _guard():
    # What LiveCodeBench's reliability_guard disables before it runs a solution (no memory limit is set
    # there; the sandbox keeps its own).
    import shutil, subprocess
    _os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork",
                 "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod",
                 "fchown", "chmod", "chown", "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir"):
        setattr(_os, name, None)
    shutil.rmtree = shutil.move = shutil.chown = None
    subprocess.Popen = None
    _builtins.quit = None
    _builtins.help = None
    # A solution's os._exit kills LiveCodeBench's worker (TestRunnerError, a failure whatever it printed):
    # here it is a runtime error, never an exit that looks like a finished run.
    _os._exit = lambda *args: _fail(RuntimeError("the solution called os._exit: it ended the grader's process"))
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        _sys.modules[name] = None
"""

_STDIO_DRIVER = (
    _GUARD
    + """

_PRELUDE = {prelude!r}


def _as_function(code):
    # A last `if __name__ == '__main__':` block is unwrapped (only the last statement, only that spelling).
    try:
        tree = _ast.parse(code)
        last = tree.body[-1]
        if isinstance(last, _ast.If) and _ast.unparse(last.test).strip() == "__name__ == '__main__'":
            code = _ast.unparse(tree.body[:-1]) + "\\n" + _ast.unparse(last.body)
    except Exception:
        pass
    # Top-level imports run at module level after the prelude; every other statement becomes the body of
    # wrapped_function(). Code that does not parse is left as it is (and fails to compile).
    try:
        tree = _ast.parse(code)
        imports = [s for s in tree.body if isinstance(s, (_ast.Import, _ast.ImportFrom))]
        rest = [s for s in tree.body if not isinstance(s, (_ast.Import, _ast.ImportFrom))]
        fn = _ast.FunctionDef(
            name="wrapped_function",
            args=_ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
            body=rest,
            decorator_list=[],
            lineno=-1,
        )
        return _PRELUDE + "\\n" + _ast.unparse(imports) + "\\n" + _ast.unparse(fn)
    except Exception:
        return code


class _Buffer:
    def __init__(self, text):
        self._data = text.encode("utf-8")

    def read(self, *args):
        return self._data

    def readline(self, *args):
        return self._data.split(b"\\n")[0] + b"\\n"


class _Stdin:
    # Not iterable and without a working fileno(), like LiveCodeBench's mock.
    def __init__(self, text):
        self._text = text
        self._lines = _io.StringIO(text)
        self.buffer = _Buffer(text)

    def read(self, *args):
        return self._text

    def readline(self, *args):
        return self._lines.readline(*args)

    def readlines(self, *args):
        return self._text.split("\\n")

    def __getattr__(self, name):
        return getattr(self._lines, name)


_inputs = _sys.stdin.read()
_result_fd = _dup(1)
# What bypasses the captured sys.stdout (fd 1, a stdout bound at import time) is lost, and fd 0 (open(0),
# os.read) is empty, as in LiveCodeBench's worker process.
_null = _open_fd(_os.devnull, _os.O_RDWR)
_dup2(_null, 0)
_dup2(_null, 1)
_real_stdin = open(_os.devnull, encoding="utf-8")
_real_stdout = open(_os.devnull, "w", encoding="utf-8")
_sys.stdin = _sys.__stdin__ = _real_stdin
_sys.stdout = _sys.__stdout__ = _real_stdout
_guard()
try:
    _program = _as_function({code!r})
    _module = _types.ModuleType("tmp_sol", "")
    exec(_program, _module.__dict__)
    if "class Solution" in _program:  # LiveCodeBench's LeetCode test, applied to stdin programs too
        _module.Solution()
    _solution = _module.wrapped_function
except BaseException as e:
    _fail(e)

# Per test: the real stdin object answers read/readline/readlines from the input (readline from its
# "\\n"-split lines), sys.stdin is the mock, builtins.open returns the input, stdout is captured.
_split = iter(_inputs.split("\\n"))
_real_stdin.readline = lambda *args: next(_split)
_real_stdin.readlines = lambda *args: _inputs.split("\\n")
_real_stdin.read = lambda *args: _inputs
_builtins.open = lambda *args, **kwargs: _io.StringIO(_inputs)
_captured = _io.StringIO()
_captured.close = lambda x: 1
_sys.stdin = _Stdin(_inputs)
_sys.stdout = _captured
try:
    _solution()
except SystemExit:
    pass
except BaseException as e:
    _sys.stdout = _real_stdout
    _fail(e)
_sys.stdout = _real_stdout  # threads still running write nowhere, as there
_emit(_result_fd, _captured.getvalue())
_exit(0)  # without waiting for threads the solution left running
"""
)

_CALL_DRIVER = (
    _GUARD
    + """
import json as _json


def _plain(v):
    # The result as a JSON value that equals (==) a JSON-decoded value exactly when `v` does; TypeError when
    # none can (a set, a nested tuple, a dict with a non-string key): the comparison happens in codetune,
    # where the expected value is, never here.
    t = type(v)
    if v is None or t in (bool, int, float, str):
        return v
    if t.__module__ == "numpy" and getattr(v, "ndim", None) == 0:
        return _plain(v.item())  # a numpy scalar compares like its Python value
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict) and all(type(k) is str for k in v):
        return {{k: _plain(x) for k, x in v.items()}}
    raise TypeError(t.__name__)


_guard()
_real_stdout = _sys.stdout
_sys.stdout = _io.StringIO()  # the solution's own prints must not mix with the result line
try:
    _code = {prelude!r} + "\\n\\n" + {code!r}
    _module = _types.ModuleType("tmp_sol", "")
    exec(_code, _module.__dict__)
    # LiveCodeBench's test: a program mentioning `class Solution` is a LeetCode class, else a module.
    _target = _module.Solution() if "class Solution" in _code else _module
    _fn = getattr(_target, {fn!r})
    _args = [_json.loads(line) for line in {args!r}.split("\\n")]
    _result = _fn(*_args)
except BaseException as e:
    _fail(e)
if isinstance(_result, tuple):
    _result = list(_result)
_sys.stdout = _real_stdout
try:
    _line = "= " + _json.dumps(_plain(_result))
except BaseException:
    try:
        _line = "x " + repr(_result)[:300]  # equal to no expected value
    except BaseException:
        _line = "x (unprintable)"
print({marker!r} + _line, flush=True)
_exit(0)
"""
)


def stdio_program(code: str) -> str:
    """A program that runs `code` on the test input it reads from stdin, as LiveCodeBench's grader does,
    and prints exactly what the solution printed to the captured sys.stdout."""
    return _STDIO_DRIVER.format(prelude=PRELUDE, code=code)


def call_program(code: str, fn_name: str, test_input: str) -> str:
    """A program that calls the solution's `fn_name` on one test's JSON arguments (one per line) and prints
    one result line: RESULT_MARKER, then "= " and the result as JSON (a returned tuple as a list, as
    LiveCodeBench takes it), or "x " when no JSON value can equal it. The expected value is not in the
    program: a solution could read it from its own process (`sys.modules["__main__"]`); codetune compares
    (`scoring.call_output_matches`)."""
    return _CALL_DRIVER.format(prelude=PRELUDE, code=code, fn=fn_name, args=test_input, marker=RESULT_MARKER)
