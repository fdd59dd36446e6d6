"""LiveCodeBench `code_generation_lite` rows: read (from a source, codetune.bench.sources), decode, filter.

A row's fields: question_title, question_content, platform, question_id, contest_id, contest_date (ISO or
null), starter_code, difficulty, public_test_cases (JSON string), private_test_cases (JSON string, or on the
hub base64(zlib(pickle(JSON string)))), metadata (JSON string; `func_name` marks a call-based problem).
Private tests are decoded only for the problems that survive the filters: the hub rows carry megabytes of
them each.
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

from codetune.bench.sources import benchmark_source
from codetune.bench.sources.local import read_jsonl
from codetune.config import DEFAULT_SEED, BenchmarkConfig
from codetune.errors import CodetuneError
from codetune.fingerprint import digest

DEFAULT_MAX_PRIVATE_TESTS_MB = BenchmarkConfig.model_fields["max_private_tests_mb"].default
# What a broken row's error says to do, where no option skips broken rows (the config has benchmark.skip_bad_rows).
BENCHMARK_BAD_ROWS_HINT = "set benchmark.skip_bad_rows: true to skip broken rows"


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
    # The row's private_test_cases while still undecoded (see parse_row's decode_private).
    private_raw: str = field(default="", repr=False, compare=False)
    origin: str = field(default="", repr=False, compare=False)  # file:line or hub file:line of the row

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


class _TooLarge(Exception):
    pass


_CHUNK = 8 << 20


class _StrOnlyUnpickler(pickle.Unpickler):
    """Private tests are a pickled str; a pickle that names any class or function is refused outright."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: only a pickled str is accepted")


def decode_private_tests(value: str, max_mb: int = DEFAULT_MAX_PRIVATE_TESTS_MB) -> str:
    """The JSON text of a hub row's private tests: base64 -> zlib -> pickle (a str only).

    Decompression stops at `max_mb` MB (benchmark.max_private_tests_mb): a crafted row of a few hundred kB
    that inflates to gigabytes (a zlib bomb) is refused at that cost, not after using all memory."""
    limit = max_mb << 20
    try:
        packed = base64.b64decode(value.encode("ascii"), validate=True)
        inflater, chunks, size = zlib.decompressobj(), [], 0
        while not inflater.eof:  # in chunks: one call with max_length would over-allocate up to twice
            chunk = inflater.decompress(inflater.unconsumed_tail or packed, _CHUNK)
            if not chunk:
                raise zlib.error("incomplete or truncated stream")
            size += len(chunk)
            if size > limit:
                raise _TooLarge(
                    f"decompress to more than {max_mb} MB (the cap: benchmark.max_private_tests_mb)"
                )
            chunks.append(chunk)
        raw = b"".join(chunks)
        del chunks
    except _TooLarge as e:
        raise ValueError(f"private tests {e}") from None
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


def _private_tests(private: str, max_mb: int = DEFAULT_MAX_PRIVATE_TESTS_MB) -> list[Test]:
    if not private.strip():
        return []
    try:
        return _parse_tests(private, "private_test_cases")
    except ValueError:
        if private.lstrip().startswith("["):
            raise  # JSON that does not parse: report it as JSON, not as base64
        return _parse_tests(decode_private_tests(private, max_mb), "private_test_cases")


def parse_row(
    row: dict, *, decode_private: bool = True, max_private_tests_mb: int = DEFAULT_MAX_PRIVATE_TESTS_MB
) -> Problem:
    """One LiveCodeBench row as a Problem; ValueError says which field is broken.

    With `decode_private=False` the private tests stay encoded in `private_raw` until `decode_private`.
    """
    missing = [k for k in ("question_id", "question_content", "public_test_cases") if k not in row]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}")
    private = row.get("private_test_cases") or ""
    private = private if isinstance(private, str) else ""
    metadata = row.get("metadata") or {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata) if metadata.strip() else {}
        except json.JSONDecodeError as e:
            raise ValueError(f"metadata: invalid JSON ({e.msg})") from None
    if not isinstance(metadata, dict):
        raise ValueError("metadata: expected a JSON object")
    public_tests = _parse_tests(str(row["public_test_cases"]), "public_test_cases")
    private_tests = _private_tests(private, max_private_tests_mb) if decode_private else []
    if not public_tests and not private_tests and not (private.strip() and not decode_private):
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
        private_raw="" if decode_private else private,
    )


def parse_rows(
    rows: Iterable[tuple[str, dict]],
    *,
    skip_bad_rows: bool = False,
    report: Callable[[str], None] = print,
    decode_private: bool = True,
    bad_rows_hint: str = BENCHMARK_BAD_ROWS_HINT,
    max_private_tests_mb: int = DEFAULT_MAX_PRIVATE_TESTS_MB,
) -> list[Problem]:
    """Parse (origin, row) pairs; a broken row is an error naming its question_id (and ending with
    `bad_rows_hint`: what the caller's user can do about it) unless skipping is asked."""
    problems: list[Problem] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for origin, row in rows:
        qid = row.get("question_id", "?") if isinstance(row, dict) else "?"
        try:
            if not isinstance(row, dict):
                raise ValueError(f"expected a JSON object, got {type(row).__name__}")
            p = parse_row(row, decode_private=decode_private, max_private_tests_mb=max_private_tests_mb)
        except ValueError as e:
            if not skip_bad_rows:
                raise CodetuneError(f"{origin}: question_id {qid}: {e} ({bad_rows_hint})") from None
            skipped.append(f"{qid} ({e})")
            continue
        if p.question_id in seen:
            raise CodetuneError(f"{origin}: question_id {p.question_id} appears twice")
        seen.add(p.question_id)
        p.origin = origin
        problems.append(p)
    if skipped:
        report(f"skipped {len(skipped)} broken row(s): " + "; ".join(skipped))
    return problems


def decode_private(
    problems: list[Problem],
    *,
    skip_bad_rows: bool = False,
    report: Callable[[str], None] = print,
    bad_rows_hint: str = BENCHMARK_BAD_ROWS_HINT,
    max_private_tests_mb: int = DEFAULT_MAX_PRIVATE_TESTS_MB,
) -> list[Problem]:
    """Decode the still-encoded private tests of `problems` (those parse_rows left in `private_raw`)."""
    out, skipped = [], []
    for p in problems:
        if p.private_raw:
            try:
                p.private_tests = _private_tests(p.private_raw, max_private_tests_mb)
            except ValueError as e:
                if not skip_bad_rows:
                    raise CodetuneError(
                        f"{p.origin or 'benchmark'}: question_id {p.question_id}: {e} ({bad_rows_hint})"
                    ) from None
                skipped.append(f"{p.question_id} ({e})")
                continue
            p.private_raw = ""
        if not p.tests:
            if not skip_bad_rows:
                raise CodetuneError(f"{p.origin or 'benchmark'}: question_id {p.question_id}: no tests")
            skipped.append(f"{p.question_id} (no tests)")
            continue
        out.append(p)
    if skipped:
        report(f"skipped {len(skipped)} broken row(s): " + "; ".join(skipped))
    return out


def _yymm(d: datetime) -> str:
    return f"{d.year % 100:02d}{d.month:02d}"


def filter_problems(
    problems: list[Problem],
    cfg: BenchmarkConfig,
    report: Callable[[str], None] = print,
    counts: list[dict] | None = None,
) -> list[Problem]:
    """Platform, difficulty, contest-date range and max_problems, printing the count after each.

    `counts`, when given, receives {"step", "count"} for the loaded rows and after each filter.
    """
    counts = [] if counts is None else counts
    counts.append({"step": "loaded", "count": len(problems)})
    sel = problems
    if cfg.platform:
        sel = [p for p in sel if p.platform.lower() == cfg.platform.lower()]
        counts.append({"step": f"platform={cfg.platform}", "count": len(sel)})
        report(f"  platform {cfg.platform}: {len(sel)}")
    if cfg.difficulty:
        sel = [p for p in sel if p.difficulty.lower() == cfg.difficulty.lower()]
        counts.append({"step": f"difficulty={cfg.difficulty}", "count": len(sel)})
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
        counts.append({"step": label, "count": len(sel)})
        note = ""
        if undated:
            verb = "kept" if cfg.undated == "keep" else "dropped"
            note = f" ({len(undated)} undated row(s) {verb}: benchmark.undated is {cfg.undated})"
        report(f"  {label}: {len(sel)}{note}")
    if cfg.max_problems and len(sel) > cfg.max_problems:
        sel = sel[: cfg.max_problems]
        counts.append({"step": f"max_problems={cfg.max_problems}", "count": len(sel)})
        report(f"  max_problems {cfg.max_problems}: {len(sel)}")
    if not sel:
        steps = ", ".join(f"{c['step']}: {c['count']}" for c in counts)
        raise CodetuneError(f"benchmark selection is empty after filtering ({steps})")
    return sel


@dataclass
class BenchmarkSelection:
    """The configured benchmark after every filter, with where its rows came from.

    `files` are the files read ({"name", "sha256"}), `revision` the hub commit they belong to (None for a
    local or built-in source), `counts` the {"step", "count"} after loading and after each filter.
    """

    problems: list[Problem]
    source: str
    release: str | None
    files: list[dict]
    revision: str | None
    counts: list[dict]

    @property
    def question_ids(self) -> list[str]:
        return [p.question_id for p in self.problems]

    def provenance(self) -> dict | None:
        """What identifies the upstream data (hub sources only): an evaluation made on other files is redone."""
        if self.revision is None and not self.files:
            return None
        return {"revision": self.revision, "files": self.files}

    def to_dict(self) -> dict:
        """The JSON of `codetune bench --json`."""
        return {
            "source": self.source,
            "release": self.release,
            "revision": self.revision,
            "files": self.files,
            "counts": self.counts,
            "question_ids": self.question_ids,
            "problems": len(self.problems),
            "public_tests": sum(len(p.public_tests) for p in self.problems),
            "private_tests": sum(len(p.private_tests) for p in self.problems),
            "tests": sum(len(p.tests) for p in self.problems),
        }


def load_benchmark(
    cfg: BenchmarkConfig,
    base_dir: str | Path | None = None,
    *,
    seed: int = DEFAULT_SEED,
    report: Callable[[str], None] = print,
    bad_rows_hint: str = BENCHMARK_BAD_ROWS_HINT,
) -> BenchmarkSelection:
    """The configured benchmark's problems after every filter; prints the count after each step.

    `base_dir` resolves a relative local path (the config file's folder); `seed` picks the built-in benchmark;
    `bad_rows_hint` ends a broken row's error (a command without the config's skip_bad_rows words its own).
    """
    source = benchmark_source(cfg.source, Path(base_dir) if base_dir is not None else None)
    got = source.read(cfg, seed=seed)
    files = [{"name": f.name, "sha256": f.sha256} for f in got.files]
    revision = got.files[0].revision if got.files else None
    origin, note, release = got.origin, got.note, got.release
    problems = parse_rows(
        got.rows,
        skip_bad_rows=cfg.skip_bad_rows,
        report=report,
        decode_private=False,
        bad_rows_hint=bad_rows_hint,
    )
    del got  # the raw rows: a hub release's undecoded private tests are hundreds of MB
    report(f"benchmark {origin}: {len(problems)} problems ({note})")
    counts: list[dict] = []
    selected = filter_problems(problems, cfg, report, counts)
    selected = decode_private(
        selected,
        skip_bad_rows=cfg.skip_bad_rows,
        report=report,
        bad_rows_hint=bad_rows_hint,
        max_private_tests_mb=cfg.max_private_tests_mb,
    )
    if len(selected) != counts[-1]["count"]:
        counts.append({"step": "tests decoded", "count": len(selected)})
    if not selected:
        raise CodetuneError("benchmark selection is empty: every selected row's tests are broken")
    return BenchmarkSelection(selected, cfg.source, release, files, revision, counts)


def problems_identity(problems: Iterable[Problem]) -> dict[str, object]:
    """What identifies a benchmark selection, for stage fingerprints: every selected problem in order, with
    its statement, starter code, metadata and every public and private test's input, output and type."""
    # Where a row was read from (`origin`) is not part of it: the same rows elsewhere are the same benchmark.
    rows = [{k: v for k, v in asdict(p).items() if k not in ("origin", "private_raw")} for p in problems]
    return {"problems": len(rows), "sha256": digest(rows)}


def selection_identity(selection: BenchmarkSelection) -> dict[str, object]:
    """What an evaluation's fingerprint takes from the benchmark: every selected problem and test
    (problems_identity) and, for a hub source, each release file's sha256, so a changed upstream file is a
    new evaluation. The commit is not part of it (a README edit moves it without changing a row): eval
    summaries record it."""
    identity = problems_identity(selection.problems)
    provenance = selection.provenance()
    if provenance is not None:
        identity["files"] = provenance["files"]
    return identity


def load_benchmark_file(
    path: str | Path, *, skip_bad_rows: bool = False, bad_rows_hint: str = BENCHMARK_BAD_ROWS_HINT
) -> list[Problem]:
    """Every problem of a JSONL file, unfiltered (for scoring existing generations)."""
    return parse_rows(read_jsonl(Path(path)), skip_bad_rows=skip_bad_rows, bad_rows_hint=bad_rows_hint)
