"""LiveCodeBench `code_generation_lite` rows: read (hub, local JSONL, built-in), decode, filter.

A row's fields: question_title, question_content, platform, question_id, contest_id, contest_date (ISO or
null), starter_code, difficulty, public_test_cases (JSON string), private_test_cases (JSON string, or on the
hub base64(zlib(pickle(JSON string)))), metadata (JSON string; `func_name` marks a call-based problem).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import pickle
import zlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from codetune.config import DEFAULT_SEED
from codetune.errors import CodetuneError
from codetune.fingerprint import digest

if TYPE_CHECKING:
    from codetune.config import BenchmarkConfig

HUB_DATASET = "livecodebench/code_generation_lite"
BUILTIN_SOURCE = "builtin"


@dataclass(frozen=True)
class Test:
    input: str
    output: str
    testtype: str  # "stdin" or "functional"


@dataclass
class Problem:
    question_id: str
    question_title: str
    question_content: str
    platform: str
    contest_id: str
    contest_date: datetime | None
    starter_code: str
    difficulty: str
    public_tests: list[Test]
    private_tests: list[Test]
    metadata: dict = field(default_factory=dict)

    @property
    def fn_name(self) -> str | None:
        """The function a call-based problem's tests call; None for stdin/stdout problems."""
        return self.metadata.get("func_name") or None

    @property
    def tests(self) -> list[Test]:
        return self.public_tests + self.private_tests

    def info(self) -> dict:
        """The row's descriptive fields, as LiveCodeBench writes them into its output files."""
        return {
            "question_id": self.question_id,
            "question_title": self.question_title,
            "platform": self.platform,
            "contest_id": self.contest_id,
            "contest_date": self.contest_date.isoformat() if self.contest_date else None,
            "difficulty": self.difficulty,
            "starter_code": self.starter_code,
        }


class _StrOnlyUnpickler(pickle.Unpickler):
    """Private tests are a pickled str; a pickle that names any class or function is refused outright."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: only a pickled str is accepted")


def decode_private_tests(value: str) -> str:
    """The JSON text of a hub row's private tests: base64 -> zlib -> pickle (a str only)."""
    try:
        raw = zlib.decompress(base64.b64decode(value.encode("ascii"), validate=True))
    except (binascii.Error, zlib.error, UnicodeEncodeError, ValueError) as e:
        raise ValueError(f"not base64(zlib(pickle)) data: {e}") from None
    try:
        obj = _StrOnlyUnpickler(io.BytesIO(raw)).load()
    except pickle.UnpicklingError as e:
        raise ValueError(f"unsafe or broken pickle: {e}") from None
    except Exception as e:  # a truncated or corrupt pickle raises many kinds of error
        raise ValueError(f"broken pickle: {type(e).__name__}: {e}") from None
    if not isinstance(obj, str):
        raise ValueError(f"the pickle holds a {type(obj).__name__}, expected a str")
    return obj


def encode_private_tests(tests_json: str) -> str:
    """The inverse of decode_private_tests (used to write test fixtures in the hub's form)."""
    return base64.b64encode(zlib.compress(pickle.dumps(tests_json))).decode("ascii")


def _parse_tests(text: str, what: str) -> list[Test]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{what}: invalid JSON ({e.msg} at char {e.pos})") from None
    if not isinstance(items, list):
        raise ValueError(f"{what}: expected a list of tests, got {type(items).__name__}")
    tests = []
    for i, t in enumerate(items):
        if not isinstance(t, dict) or not {"input", "output"} <= t.keys():
            raise ValueError(f"{what}[{i}]: expected an object with input and output")
        ttype = t.get("testtype", "stdin")
        if ttype not in ("stdin", "functional"):
            raise ValueError(f"{what}[{i}]: unknown testtype {ttype!r}")
        tests.append(Test(input=str(t["input"]), output=str(t["output"]), testtype=ttype))
    return tests


def _parse_date(value: object) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"contest_date: not an ISO date: {value!r}") from None


def parse_row(row: dict) -> Problem:
    """One LiveCodeBench row as a Problem; ValueError says which field is broken."""
    missing = [k for k in ("question_id", "question_content", "public_test_cases") if k not in row]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}")
    private = row.get("private_test_cases") or ""
    if isinstance(private, str) and private.strip():
        try:
            private_tests = _parse_tests(private, "private_test_cases")
        except ValueError:
            if private.lstrip().startswith("["):
                raise  # JSON that does not parse: report it as JSON, not as base64
            private_tests = _parse_tests(decode_private_tests(private), "private_test_cases")
    else:
        private_tests = []
    metadata = row.get("metadata") or {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata) if metadata.strip() else {}
        except json.JSONDecodeError as e:
            raise ValueError(f"metadata: invalid JSON ({e.msg})") from None
    if not isinstance(metadata, dict):
        raise ValueError("metadata: expected a JSON object")
    public_tests = _parse_tests(str(row["public_test_cases"]), "public_test_cases")
    if not public_tests and not private_tests:
        raise ValueError("no tests (public_test_cases and private_test_cases are both empty)")
    return Problem(
        question_id=str(row["question_id"]),
        question_title=str(row.get("question_title") or ""),
        question_content=str(row["question_content"]),
        platform=str(row.get("platform") or ""),
        contest_id=str(row.get("contest_id") or ""),
        contest_date=_parse_date(row.get("contest_date")),
        starter_code=str(row.get("starter_code") or ""),
        difficulty=str(row.get("difficulty") or ""),
        public_tests=public_tests,
        private_tests=private_tests,
        metadata=metadata,
    )


def parse_rows(
    rows: Iterable[tuple[str, dict]], *, skip_bad_rows: bool = False, report: Callable[[str], None] = print
) -> list[Problem]:
    """Parse (origin, row) pairs; a broken row is an error naming its question_id unless skipping is asked."""
    problems: list[Problem] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for origin, row in rows:
        qid = row.get("question_id", "?") if isinstance(row, dict) else "?"
        try:
            if not isinstance(row, dict):
                raise ValueError(f"expected a JSON object, got {type(row).__name__}")
            p = parse_row(row)
        except ValueError as e:
            if not skip_bad_rows:
                raise CodetuneError(
                    f"{origin}: question_id {qid}: {e} (set benchmark.skip_bad_rows to skip broken rows)"
                ) from None
            skipped.append(f"{qid} ({e})")
            continue
        if p.question_id in seen:
            raise CodetuneError(f"{origin}: question_id {p.question_id} appears twice")
        seen.add(p.question_id)
        problems.append(p)
    if skipped:
        report(f"skipped {len(skipped)} broken row(s): " + "; ".join(skipped))
    return problems


def read_jsonl(path: Path) -> list[tuple[str, dict]]:
    if not path.is_file():
        raise CodetuneError(f"benchmark file not found: {path}")
    out = []
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise CodetuneError(f"{path}:{lineno}: not UTF-8 text ({e.reason})") from None
            if not line.strip():
                continue
            try:
                out.append((f"{path}:{lineno}", json.loads(line)))
            except json.JSONDecodeError as e:
                raise CodetuneError(f"{path}:{lineno}: invalid JSON ({e.msg} at column {e.colno})") from None
    return out


def read_hub(source: str, release: str | None) -> list[tuple[str, dict]]:
    """Rows of a hub release. The dataset is served as Parquet with one config per release tag
    (release_v1 .. release_v6, release_latest); older `datasets` needed version_tag= and a loading script."""
    import datasets

    name = release or "release_latest"
    try:
        ds = datasets.load_dataset(source, name, split="test")
    except Exception as e:  # network, unknown config, missing dataset: all end here with the reason
        raise CodetuneError(f"benchmark {source} ({name}): could not load from the hub: {e}") from None
    return [(f"{source}[{name}] row {i}", dict(row)) for i, row in enumerate(ds)]


def read_builtin(seed: int) -> list[tuple[str, dict]]:
    try:
        from codetune.data.builtin import builtin_benchmark_rows
    except ImportError:
        raise CodetuneError("benchmark source 'builtin' is not available in this installation") from None
    return [(f"builtin benchmark row {i}", row) for i, row in enumerate(builtin_benchmark_rows(seed=seed))]


def is_local_source(source: str) -> bool:
    return source.endswith((".jsonl", ".json")) or source.startswith((".", "/", "~"))


def _yymm(d: datetime) -> str:
    return f"{d.year % 100:02d}{d.month:02d}"


def filter_problems(
    problems: list[Problem], cfg: BenchmarkConfig, report: Callable[[str], None] = print
) -> list[Problem]:
    """Platform, difficulty, contest-date range and max_problems, printing the count after each."""
    counts: list[tuple[str, int]] = [("loaded", len(problems))]
    sel = problems
    if cfg.platform:
        sel = [p for p in sel if p.platform.lower() == cfg.platform.lower()]
        counts.append((f"platform={cfg.platform}", len(sel)))
        report(f"  platform {cfg.platform}: {len(sel)}")
    if cfg.difficulty:
        sel = [p for p in sel if p.difficulty.lower() == cfg.difficulty.lower()]
        counts.append((f"difficulty={cfg.difficulty}", len(sel)))
        report(f"  difficulty {cfg.difficulty}: {len(sel)}")
    if cfg.contest_start or cfg.contest_end:
        lo, hi = cfg.contest_start or "0000", cfg.contest_end or "9999"
        undated = [p for p in sel if p.contest_date is None]
        # YYMM strings compare in date order within one century, which LiveCodeBench (2023-) is.
        sel = [
            p
            for p in sel
            if (p.contest_date is None and cfg.undated == "keep")
            or (p.contest_date is not None and lo <= _yymm(p.contest_date) <= hi)
        ]
        label = f"contest {cfg.contest_start or '..'}-{cfg.contest_end or '..'}"
        counts.append((label, len(sel)))
        note = ""
        if undated:
            verb = "kept" if cfg.undated == "keep" else "dropped"
            note = f" ({len(undated)} undated row(s) {verb}: benchmark.undated is {cfg.undated})"
        report(f"  {label}: {len(sel)}{note}")
    if cfg.max_problems and len(sel) > cfg.max_problems:
        sel = sel[: cfg.max_problems]
        counts.append((f"max_problems={cfg.max_problems}", len(sel)))
        report(f"  max_problems {cfg.max_problems}: {len(sel)}")
    if not sel:
        steps = ", ".join(f"{k}: {n}" for k, n in counts)
        raise CodetuneError(f"benchmark selection is empty after filtering ({steps})")
    return sel


def load_benchmark(
    cfg: BenchmarkConfig,
    base_dir: str | Path | None = None,
    *,
    seed: int = DEFAULT_SEED,
    report: Callable[[str], None] = print,
) -> list[Problem]:
    """The configured benchmark's problems after every filter; prints the count after each step.

    `base_dir` resolves a relative local path (the config file's folder); `seed` picks the built-in benchmark.
    """
    source = cfg.source
    if source == BUILTIN_SOURCE:
        rows = read_builtin(seed)
        origin = f"built-in benchmark (seed {seed})"
        release_note = "no release filter applies to the built-in benchmark"
    elif is_local_source(source):
        path = Path(source).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        rows = read_jsonl(path)
        origin = str(path)
        release_note = "no release filter applies to a local file"
    else:
        rows = read_hub(source, cfg.release)
        origin = f"{source} ({cfg.release or 'release_latest'})"
        release_note = f"release {cfg.release or 'release_latest'} selected on the hub"
    problems = parse_rows(rows, skip_bad_rows=cfg.skip_bad_rows, report=report)
    report(f"benchmark {origin}: {len(problems)} problems ({release_note})")
    return filter_problems(problems, cfg, report)


def problems_identity(problems: Iterable[Problem]) -> dict[str, object]:
    """What identifies a benchmark selection, for stage fingerprints: every selected problem in order, with
    its statement, starter code, metadata and every public and private test's input, output and type."""
    rows = [asdict(p) for p in problems]
    return {"problems": len(rows), "sha256": digest(rows)}


def load_benchmark_file(path: str | Path, *, skip_bad_rows: bool = False) -> list[Problem]:
    """Every problem of a JSONL file, unfiltered (for scoring existing generations)."""
    return parse_rows(read_jsonl(Path(path)), skip_bad_rows=skip_bad_rows)
