"""Generate the built-in problems for a seed, verify every solution, cache the result.

Each training family gives INSTANCES problems for train/valid/test plus one more, held out for the
benchmark; each held-out family gives HELD_OUT_INSTANCES benchmark problems and nothing else. An instance
draws its statement parameters and tests from `Random(f"{seed}:{family}:{index}")`, so a seed fixes
everything and families never shift each other's draws.

Cache: $CODETUNE_HOME/builtin/<version>-<seed>/ holds problems.jsonl, deep.jsonl, diverse.jsonl,
benchmark.jsonl and meta.json, written to a temporary folder and renamed. <version> carries a hash of this
package's source, so editing a family never serves stale data.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from random import Random

from codetune.errors import CodetuneError
from codetune.files import atomic_dir

from . import render
from .families import FAMILIES, Family
from .verify import BuiltinDataError, Job, code_fingerprint, verify

DATA_VERSION = 1
INSTANCES = 7  # train/valid/test problems per training family
HELD_OUT_INSTANCES = 1  # benchmark problems per held-out family
SAMPLES = 2  # tests shown in the statement (the benchmark's public tests)
TESTS = 6  # tests per problem, samples included
VALID_FRACTION = TEST_FRACTION = 0.1


@dataclass
class Problem:
    problem_id: str
    family: str
    topic: str
    level: int
    held_out_family: bool
    split: str  # train / valid / test / benchmark
    title: str
    statement: str
    tests: list[dict]  # {"input", "output"}, both ending with a newline; the first SAMPLES are samples
    steps: list[str]  # deep reasoning, sample check included
    solutions: list[dict]  # {"label", "idea", "code"}

    @property
    def samples(self) -> list[dict]:
        return self.tests[:SAMPLES]


def _tests(family: Family, rng: Random, params: dict) -> list[dict]:
    inputs: list[str] = []
    for candidate in [family.gen(rng, params) for _ in range(SAMPLES)] + family.edges(params):
        if candidate not in inputs:
            inputs.append(candidate)
    for _ in range(50 * TESTS):
        if len(inputs) >= TESTS:
            break
        candidate = family.gen(rng, params)
        if candidate not in inputs:
            inputs.append(candidate)
    return [{"input": i, "output": family.ref(i, params) + "\n"} for i in inputs[:TESTS]]


def make_problem(family: Family, seed: int, index: int, split: str, attempt: int = 0) -> Problem:
    rng = Random(f"{seed}:{family.name}:{index}:{attempt}")
    params = family.knobs(rng)
    tests = _tests(family, rng, params)
    body = render.statement(
        render.fill_text(family.statement, params),
        render.fill_text(family.input_format, params),
        render.fill_text(family.output, params),
        [render.fill_text(c, params) for c in family.constraints],
        tests[:SAMPLES],
    )
    solutions = [
        {"label": s.label, "idea": render.fill(s.idea, params), "code": render.fill(s.code, params)}
        for s in family.solutions
    ]
    return Problem(
        problem_id=f"{family.name}-{index}",
        family=family.name,
        topic=family.topic,
        level=family.level,
        held_out_family=family.held_out,
        split=split,
        title=render.title_case(render.fill_text(family.title, params)),
        statement=body,
        tests=tests,
        steps=render.deep_steps([render.fill_text(s, params) for s in family.steps], tests[0]),
        solutions=solutions,
    )


def normalise_statement(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def generate(seed: int) -> list[Problem]:
    """All problems for a seed, splits assigned, without running anything (cheap: tens of milliseconds)."""
    seen: set[str] = set()
    pool: list[Problem] = []
    bench: list[Problem] = []
    for family in FAMILIES:
        n = HELD_OUT_INSTANCES if family.held_out else INSTANCES + 1
        for index in range(n):
            split = "benchmark" if family.held_out or index == INSTANCES else "train"
            for attempt in range(20):  # a repeated statement would be one problem in two places
                p = make_problem(family, seed, index, split, attempt)
                if normalise_statement(p.statement) not in seen:
                    break
            else:
                raise BuiltinDataError(
                    f"family {family.name}: cannot draw a new statement for instance {index}"
                )
            seen.add(normalise_statement(p.statement))
            (bench if split == "benchmark" else pool).append(p)
    order = list(range(len(pool)))
    Random(f"{seed}:splits").shuffle(order)
    n_valid, n_test = round(VALID_FRACTION * len(pool)), round(TEST_FRACTION * len(pool))
    for rank, i in enumerate(order):
        pool[i].split = "valid" if rank < n_valid else "test" if rank < n_valid + n_test else "train"
    return pool + bench


def check_distinct(problems: list[Problem]) -> None:
    """The diverse rendering promises genuinely different solutions: no two may share a fingerprint."""
    for p in problems:
        prints = [code_fingerprint(s["code"]) for s in p.solutions]
        if len(p.solutions) < 2 or len(set(prints)) != len(prints):
            raise BuiltinDataError(f"{p.problem_id}: needs at least 2 solutions, all different in structure")


def verification_jobs(problems: list[Problem]) -> list[Job]:
    return [
        Job(f"{p.problem_id}/{s['label']}/test{t}", s["code"], test["input"], test["output"])
        for p in problems
        for s in p.solutions
        for t, test in enumerate(p.tests)
    ]


# ---- cache ----


def source_hash() -> str:
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        h.update(path.relative_to(Path(__file__).parent).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:10]


def cache_dir(seed: int) -> Path:
    from codetune.models import codetune_home

    return codetune_home() / "builtin" / f"{DATA_VERSION}.{source_hash()}-{seed}"


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _unwritable(target: Path, e: OSError) -> CodetuneError:
    return CodetuneError(
        f"cannot write the built-in data cache {target}: {e.strerror or e}; set CODETUNE_HOME to a writable folder"
    )


def build(seed: int, *, progress: bool = True) -> Path:
    """Generate, verify and cache the data for a seed (no-op when cached); return the cache folder."""
    from .rows import benchmark_rows, deep_rows, diverse_rows, split_sizes

    target = cache_dir(seed)
    if (target / "meta.json").is_file():
        return target
    try:  # fail before the work, not after it
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _unwritable(target, e) from None
    t0 = time.perf_counter()
    problems = generate(seed)
    check_distinct(problems)
    jobs = verification_jobs(problems)
    verify(jobs, progress=progress)
    files = {
        "problems.jsonl": [asdict(p) for p in problems],
        "deep.jsonl": deep_rows(problems, seed),
        "diverse.jsonl": diverse_rows(problems, seed),
        "benchmark.jsonl": benchmark_rows(problems, seed),
    }
    meta = {
        "version": f"{DATA_VERSION}.{source_hash()}",
        "seed": seed,
        "families": len(FAMILIES),
        "held_out_families": sum(f.held_out for f in FAMILIES),
        "problems": len(problems),
        "solution_runs": len(jobs),
        "split_sizes": {v: split_sizes(files[f"{v}.jsonl"]) for v in ("deep", "diverse")},
        "benchmark": len(files["benchmark.jsonl"]),
        "build_seconds": round(time.perf_counter() - t0, 2),
    }
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_dir(target) as tmp:  # a killed build leaves only a temporary sibling, never trusted
            for name, rows in files.items():
                _write_jsonl(tmp / name, rows)
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1))  # written last: marks it complete
    except OSError as e:
        raise _unwritable(target, e) from None
    return target
