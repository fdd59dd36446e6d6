"""The built-in data: families, verified solutions, determinism, splits by problem, LiveCodeBench layout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from codetune.data.builtin import builtin_benchmark_rows, builtin_instruction_rows, builtin_split_sizes
from codetune.data.builtin.build import cache_dir, generate, normalise_statement, verification_jobs
from codetune.data.builtin.families import FAMILIES, HELD_OUT_FAMILIES, TRAIN_FAMILIES
from codetune.data.builtin.rows import benchmark_rows, deep_rows, diverse_rows, split_sizes
from codetune.data.builtin.verify import BuiltinDataError, Job, code_fingerprint, failures, run_jobs, verify
from codetune.errors import CodetuneError

NAHOLAV_FIELDS = {
    "id",
    "input",
    "output",
    "solution",
    "split",
    "difficulty",
    "source",
    "license",
    "dataset",
    "family",
    "problem_id",
}
HELD_OUT = {f.name for f in HELD_OUT_FAMILIES}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A private CODETUNE_HOME for the module: the data is built once, then read from the cache."""
    path = tmp_path_factory.mktemp("builtin-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CODETUNE_HOME", str(path))
        yield path


@pytest.fixture(scope="module")
def problems():
    return generate(0)


@pytest.fixture(scope="module")
def built(home):
    """(deep, diverse, benchmark) rows of seed 0, through the public API (builds and verifies once)."""
    return (
        builtin_instruction_rows("deep", seed=0),
        builtin_instruction_rows("diverse", seed=0),
        builtin_benchmark_rows(seed=0),
    )


def test_at_least_30_training_families_and_some_held_out():
    names = [f.name for f in FAMILIES]
    assert len(names) == len(set(names))
    assert len(TRAIN_FAMILIES) >= 30
    assert len(HELD_OUT_FAMILIES) >= 5
    assert all(len(f.solutions) >= 2 for f in FAMILIES)


def test_every_solution_passes_its_tests(problems):
    jobs = verification_jobs(problems)
    assert len(jobs) > 3000  # every solution of every problem, against every test
    assert failures(jobs, run_jobs(jobs, progress=False)) == []


def test_verification_catches_wrong_crashing_and_looping_programs():
    jobs = [
        Job("right", "print(int(input()) * 2)\n", "4\n", "8\n"),
        Job("wrong", "print(int(input()) + 2)\n", "3\n", "6\n"),
        Job("crash", "print(1 // 0)\n", "", "0\n"),
        Job("loop", "while True:\n    pass\n", "", "0\n"),
        Job("exit", "import sys\nsys.exit(3)\n", "", "\n"),
        Job("trailing-space-ok", "print('a ')\nprint('b')\n", "", "a\nb\n"),
    ]
    results = run_jobs(jobs, timeout_s=0.5, progress=False)
    assert [r["status"] for r in results] == ["ok", "ok", "error", "timeout", "exit 3", "ok"]
    assert "ZeroDivisionError" in results[2]["stderr"]
    bad = failures(jobs, results)
    assert [b.split(":")[0] for b in bad] == ["wrong", "crash", "loop", "exit"]
    with pytest.raises(BuiltinDataError, match="wrong"):
        verify(jobs[:2], progress=False)


def test_solutions_of_a_problem_are_genuinely_different(problems):
    for p in problems:
        prints = [code_fingerprint(s["code"]) for s in p.solutions]
        assert len(set(prints)) == len(prints) >= 2, p.problem_id
    # the fingerprint ignores names and layout, so a renamed copy is not "different"
    assert code_fingerprint("a = int(input())\nprint(a)\n") == code_fingerprint("x=int(input())\nprint(x)")
    assert code_fingerprint("print(sum([1, 2]))") != code_fingerprint("print(max([1, 2]))")


def _digest(seed: int) -> list[dict]:
    ps = generate(seed)
    return [deep_rows(ps, seed), diverse_rows(ps, seed), benchmark_rows(ps, seed)]


def test_deterministic_for_a_seed_and_different_across_seeds():
    assert _digest(0) == _digest(0)
    other = _digest(1)
    assert other != _digest(0)
    assert {r["input"] for r in other[0]}.isdisjoint({r["input"] for r in _digest(0)[0]})


def test_same_rows_in_a_fresh_interpreter_with_another_hash_seed():
    code = (
        "import hashlib, json; from codetune.data.builtin.build import generate; "
        "from codetune.data.builtin.rows import deep_rows, benchmark_rows; ps = generate(0); "
        "print(hashlib.sha256(json.dumps([deep_rows(ps, 0), benchmark_rows(ps, 0)]).encode()).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    import hashlib

    ps = generate(0)
    here = hashlib.sha256(json.dumps([deep_rows(ps, 0), benchmark_rows(ps, 0)]).encode()).hexdigest()
    assert out.stdout.strip() == here


def test_rows_follow_the_naholav_schema(built):
    deep, diverse, _ = built
    for rows, variant in ((deep, "deep"), (diverse, "diverse")):
        assert {r["dataset"] for r in rows} == {f"builtin:{variant}"}
        assert len({r["id"] for r in rows}) == len(rows)
        for r in rows:
            assert set(r) == NAHOLAV_FIELDS
            assert r["source"] == "codetune-builtin" and r["license"] == "Apache-2.0"
            assert r["split"] in {"train", "valid", "test"}
            think, _, code_part = r["output"].partition("</think>\n")
            assert think.startswith("<think>\n1. ")
            assert code_part.strip() == f"```python\n{r['solution'].rstrip()}\n```"
    # deep: one row per problem with numbered steps ending in a computed sample check
    assert len({r["problem_id"] for r in deep}) == len(deep)
    assert all(re.search(r"\n\d+\. Check with Sample Input 1", r["output"]) for r in deep)
    # diverse: several rows per problem, one per distinct solution
    per_problem = defaultdict(list)
    for r in diverse:
        per_problem[r["problem_id"]].append(r["solution"])
    assert set(per_problem) == {r["problem_id"] for r in deep}
    assert all(len(codes) >= 2 and len(set(codes)) == len(codes) for codes in per_problem.values())


def test_no_problem_crosses_splits(built):
    deep, diverse, bench = built
    for rows in (deep, diverse):
        split_of = defaultdict(set)
        for r in rows:
            split_of[normalise_statement(r["input"])].add(r["split"])
        assert all(len(s) == 1 for s in split_of.values())
        assert set().union(*split_of.values()) == {"train", "valid", "test"}
    training = {normalise_statement(r["input"]) for r in diverse}
    assert training.isdisjoint(normalise_statement(b["question_content"]) for b in bench)


def test_split_sizes_are_cheap_and_match_the_rows(built, home):
    deep, diverse, _ = built
    assert builtin_split_sizes("builtin:deep", seed=0) == split_sizes(deep)
    assert builtin_split_sizes("builtin:diverse", seed=0) == split_sizes(diverse)
    sizes = builtin_split_sizes("builtin:deep", seed=7)  # not built: counted without running anything
    assert not cache_dir(7).exists()
    assert sizes == split_sizes(deep_rows(generate(7), 7))
    assert 150 <= sizes["train"] <= 400 and 15 <= sizes["valid"] <= 60 and 15 <= sizes["test"] <= 60
    with pytest.raises(CodetuneError, match="builtin:deep, builtin:diverse"):
        builtin_split_sizes("builtin:shallow")
    with pytest.raises(CodetuneError, match="unknown built-in dataset"):
        builtin_instruction_rows("wide")  # type: ignore[arg-type]


def test_cache_is_written_atomically_and_reused(built, home):
    folder = cache_dir(0)
    assert folder.parent == Path(home) / "builtin" and folder.name.endswith("-0")
    assert sorted(p.name for p in folder.iterdir()) == [
        "benchmark.jsonl",
        "deep.jsonl",
        "diverse.jsonl",
        "meta.json",
        "problems.jsonl",
    ]
    assert not [p for p in folder.parent.iterdir() if p.name.endswith(".tmp") or ".tmp-" in p.name]
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["families"] == len(FAMILIES) and meta["benchmark"] == len(built[2])
    stamp = (folder / "deep.jsonl").stat().st_mtime_ns
    assert builtin_instruction_rows("deep", seed=0) == built[0]
    assert (folder / "deep.jsonl").stat().st_mtime_ns == stamp  # read, not rebuilt


def test_benchmark_rows_have_the_shared_livecodebench_layout(built, shared_benchmark):
    _, _, bench = built
    shared = [json.loads(line) for line in shared_benchmark.read_text().splitlines() if line.strip()]
    assert 30 <= len(bench) <= 50
    for row in bench:
        assert list(row) == list(shared[0])  # same field names, same order
        assert row["platform"] == "codetune" and row["difficulty"] == "easy" and row["starter_code"] == ""
        datetime.fromisoformat(row["contest_date"])
        public = json.loads(row["public_test_cases"])
        private = json.loads(row["private_test_cases"])
        assert public and private
        for t in public + private:
            assert set(t) == {"input", "output", "testtype"} and t["testtype"] == "stdin"
            assert t["input"].endswith("\n") and t["output"].endswith("\n")
        for k, t in enumerate(public, 1):  # public tests are the statement's samples, as on AtCoder
            assert (
                f"Sample Input {k}\n\n{t['input'].rstrip()}\n\nSample Output {k}\n\n{t['output'].rstrip()}"
                in (row["question_content"])
            )
        assert json.loads(row["metadata"])["held_out"] in {"instance", "family"}
    assert len({r["question_id"] for r in bench}) == len(bench)


def test_statements_have_the_atcoder_sections_in_the_shared_order(built, shared_benchmark):
    shared = [json.loads(line) for line in shared_benchmark.read_text().splitlines() if line.strip()]
    layout = re.compile(
        r"\n\nInput\n\nThe input is given from Standard Input in the following format:\n.+"
        r"\n\nOutput\n\n.+\n\nConstraints\n\n\n- .+\n\nSample Input 1\n\n.+\n\nSample Output 1\n\n",
        re.S,
    )
    assert layout.search(shared[0]["question_content"])  # the pattern describes the real file
    deep, _, bench = built
    for text in [r["input"] for r in deep] + [b["question_content"] for b in bench]:
        assert layout.search(text), text[:200]


def test_benchmark_mixes_held_out_instances_and_held_out_families(built):
    deep, diverse, bench = built
    meta = [json.loads(b["metadata"]) for b in bench]
    kinds = [m["held_out"] for m in meta]
    assert {m["family"] for m in meta if m["held_out"] == "family"} == HELD_OUT
    assert {m["family"] for m in meta if m["held_out"] == "instance"} == {f.name for f in TRAIN_FAMILIES}
    assert "family" in kinds[:12] and "instance" in kinds[:12]  # a 12-problem prefix samples both
    trained = {r["family"] for r in deep} | {r["family"] for r in diverse}
    assert trained.isdisjoint(HELD_OUT)
    assert trained == {f.name for f in TRAIN_FAMILIES}


def test_the_benchmark_loader_reads_it_as_it_reads_the_shared_file(built, shared_benchmark, tmp_path):
    from codetune.bench import lcb

    path = tmp_path / "builtin.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in built[2]))
    ours, theirs = lcb.load_benchmark_file(path), lcb.load_benchmark_file(shared_benchmark)
    assert len(ours) == len(built[2]) and len(theirs) == 41
    assert {type(p) for p in ours} == {type(p) for p in theirs}
    assert all(len(p.public_tests) == 2 and len(p.private_tests) >= 2 and p.fn_name is None for p in ours)


def test_solutions_also_pass_in_the_sandbox(problems):
    """A sample (every solution of one problem per family, on its first sample) through codetune.sandbox:
    the solutions rely on nothing the verification harness provides that a real run lacks."""
    from codetune.sandbox import runner as sandbox
    from codetune.sandbox.limits import Job as SandboxJob
    from codetune.sandbox.limits import Limits

    one_each = {p.family: p for p in problems}.values()
    jobs = [(s["code"], p.tests[0]) for p in one_each for s in p.solutions]
    with sandbox.get_runner() as runner:
        results = runner.run([SandboxJob(code, t["input"], Limits(cpu_time_s=5)) for code, t in jobs])
    bad = [
        (code, r.status, r.stderr[-300:])
        for (code, t), r in zip(jobs, results, strict=True)
        if r.status != "ok" or r.stdout.rstrip() != t["output"].rstrip()
    ]
    assert bad == []


def test_an_unwritable_cache_is_a_clear_error(monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("CODETUNE_HOME", str(blocker))
    with pytest.raises(CodetuneError, match="cannot write the built-in data cache .*CODETUNE_HOME"):
        builtin_instruction_rows("deep", seed=3)
