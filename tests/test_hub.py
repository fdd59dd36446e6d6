"""The benchmark from the hub without its loading script, through the stand-in hub (tests/hubserver.py):
releases, `codetune bench`, provenance in the eval fingerprint, and the offline cache."""

from __future__ import annotations

import json

import pytest

from codetune.bench.lcb import BenchmarkSelection, selection_identity
from codetune.bench.sources.hub import release_files
from codetune.errors import CodetuneError
from hubserver import StandInHub
from standin import LCB_FILES, LCB_ID, SEED, build_stand_in, codetune, hub_env


@pytest.fixture(scope="module")
def bench_hub(tmp_path_factory, shared_benchmark):
    stand_in = build_stand_in(tmp_path_factory.mktemp("hub"), shared_benchmark, model=False)
    with StandInHub(stand_in.repos) as hub:
        yield stand_in, hub


def test_releases_are_cumulative_files_as_livecodebench_names_them():
    assert release_files("release_v1") == ["test.jsonl"]
    assert release_files("release_v5") == LCB_FILES[:5]
    assert release_files("release_v6") == release_files("release_latest") == release_files(None) == LCB_FILES
    assert release_files("v1") == ["test.jsonl"] and release_files("v6") == ["test6.jsonl"]
    assert release_files("v2_v4") == ["test2.jsonl", "test3.jsonl", "test4.jsonl"]
    with pytest.raises(
        CodetuneError, match=r"'release_v7' is not a LiveCodeBench release; use one of release_v1"
    ):
        release_files("release_v7")


def test_bench_json_through_the_hub_is_the_seed_selection_then_offline_the_same(bench_hub, tmp_path):
    stand_in, hub = bench_hub
    bench = stand_in.benchmark
    repo = next(r for r in stand_in.repos if r.repo_id == LCB_ID)
    res = codetune("bench", SEED, "--json", env=hub_env(tmp_path / "hf", hub.endpoint))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["question_ids"] == bench.seed_selection and len(out["question_ids"]) == 41
    assert out["counts"][0] == {"step": "loaded", "count": bench.count(*LCB_FILES[:5])}
    assert out["counts"][-1] == {"step": "contest 2408-2502", "count": 41}
    assert [c["step"] for c in out["counts"]] == [
        "loaded",
        "platform=atcoder",
        "difficulty=easy",
        "contest 2408-2502",
    ]
    assert out["tests"] == bench.seed_tests == 236 and out["private_tests"] == 118
    assert out["revision"] == repo.commit
    assert out["files"] == [{"name": n, "sha256": repo.files[n].sha256} for n in LCB_FILES[:5]]
    assert any(r.startswith("GET /datasets/livecodebench") for r in hub.requests)

    # The same cache with the hub unreachable: HF_HUB_OFFLINE=1 reads it, and selects the same problems.
    offline = codetune("bench", SEED, "--json", env=hub_env(tmp_path / "hf", None))
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout) == out


def test_only_release_v6_holds_its_rows(bench_hub, tmp_path):
    stand_in, hub = bench_hub
    res = codetune(
        "bench",
        SEED,
        "--json",
        "--set",
        "benchmark.release=release_v6",
        env=hub_env(tmp_path / "hf", hub.endpoint),
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["counts"][0]["count"] == stand_in.benchmark.count(*LCB_FILES)
    assert out["question_ids"] == stand_in.benchmark.seed_selection + ["abc391_a", "abc392_b"]
    only = codetune(
        "bench", SEED, "--json", "--set", "benchmark.release=v6", env=hub_env(tmp_path / "hf", hub.endpoint)
    )
    assert json.loads(only.stdout)["question_ids"] == ["abc391_a", "abc392_b"]


def test_a_file_missing_offline_is_one_line_naming_it_and_how_to_fetch(tmp_path):
    res = codetune("bench", SEED, env=hub_env(tmp_path / "empty-hf", None))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "test.jsonl of dataset livecodebench/code_generation_lite" in lines[0]
    assert "not in the Hugging Face cache" in lines[0] and "HF_HUB_OFFLINE is set" in lines[0]
    assert (
        "codetune fetch CONFIG" in lines[0]
        and "hf download livecodebench/code_generation_lite test.jsonl" in lines[0]
    )


def test_an_unknown_release_is_an_error_before_any_download(tmp_path):
    res = codetune("bench", SEED, "--set", "benchmark.release=release_v9", env=hub_env(tmp_path / "hf", None))
    assert res.returncode == 2 and "'release_v9' is not a LiveCodeBench release" in res.stderr


def test_a_changed_upstream_file_is_a_new_evaluation(shared_benchmark):
    from codetune.bench.lcb import load_benchmark_file

    problems = load_benchmark_file(shared_benchmark)[:3]
    files = [{"name": "test.jsonl", "sha256": "a" * 64}]

    def identity(revision, files):
        return selection_identity(BenchmarkSelection(problems, LCB_ID, "release_v5", files, revision, []))

    fp = identity("1" * 40, files)
    assert identity("1" * 40, [{"name": "test.jsonl", "sha256": "b" * 64}]) != fp
    # A new commit that leaves every file as it was (a README edit) keeps the evaluation.
    assert identity("2" * 40, files) == fp
    # Local and built-in sources record no provenance: only their problems and tests identify them.
    assert identity(None, []) == {k: v for k, v in fp.items() if k != "files"}


def test_hub_dataset_profile_through_the_hub_then_offline(bench_hub, tmp_path):
    stand_in, hub = bench_hub
    shape = stand_in.datasets["Naholav/CodeGen-Deep-5K"]
    runs = [
        codetune("data", "profile", "Naholav/CodeGen-Deep-5K", "--json", env=hub_env(tmp_path / "hf", e))
        for e in (hub.endpoint, None)
    ]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr
    online, offline = (json.loads(r.stdout) for r in runs)
    assert offline == online
    assert (online["rows"], online["unique_problems"], online["splits"]) == (
        shape.rows,
        shape.problems,
        shape.splits,
    )
    assert online["columns"] == [
        "id",
        "input",
        "output",
        "solution",
        "split",
        "difficulty",
        "source",
        "license",
        "dataset",
    ]


def test_a_model_missing_offline_names_the_file_and_how_to_fetch(tmp_path):
    model = "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    res = codetune(
        "data", "profile", "builtin:deep", "--tokenizer", model, env=hub_env(tmp_path / "hf", None)
    )
    assert res.returncode == 2
    (line,) = res.stderr.strip().splitlines()
    assert f"tokenizer_config.json of model {model} is not in the Hugging Face cache" in line
    assert f"`codetune fetch CONFIG` (or `hf download {model} tokenizer_config.json`)" in line
