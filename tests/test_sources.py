"""Benchmark and dataset sources: each spec is classified once, by the registries, and `codetune fetch`
asks each source what to download."""

from __future__ import annotations

import pytest
import yaml

from codetune import hub
from codetune.bench.sources import benchmark_source
from codetune.bench.sources.builtin import BuiltinBenchmark
from codetune.bench.sources.hub import HubBenchmark
from codetune.bench.sources.local import LocalBenchmark
from codetune.config import load_config
from codetune.data.sources import dataset_source
from codetune.data.sources.builtin import BuiltinDataset
from codetune.data.sources.file import FileDataset
from codetune.data.sources.hub import HubDataset
from codetune.errors import CodetuneError
from codetune.study.fetch import fetch_study


def test_each_benchmark_kind_is_classified_and_a_bad_spec_names_the_field(tmp_path):
    assert type(benchmark_source("builtin")) is BuiltinBenchmark
    for spec in ("bench.jsonl", "rows.json", "./bench", "/abs/bench", "~/bench"):
        assert type(benchmark_source(spec, tmp_path)) is LocalBenchmark, spec
    assert benchmark_source("sub/b.jsonl", tmp_path).path == tmp_path / "sub" / "b.jsonl"  # config-relative
    assert type(benchmark_source("livecodebench/code_generation_lite")) is HubBenchmark
    for bad in ("builtin:deep", "", "two words"):  # a dataset's built-in name is the likely mistake
        with pytest.raises(
            CodetuneError, match=rf"benchmark.source '{bad}' is not a benchmark source; use builtin"
        ):
            benchmark_source(bad)


def test_each_dataset_kind_is_classified_and_a_bad_spec_names_the_field(tmp_path):
    (tmp_path / "owner" / "name").mkdir(parents=True)  # a downloaded copy beside the config wins over the hub
    assert type(dataset_source("builtin:deep")) is BuiltinDataset
    assert type(dataset_source("builtin:wide")) is BuiltinDataset  # reading it says which names exist
    assert type(dataset_source("owner/name", tmp_path)) is FileDataset
    assert type(dataset_source("owner/name")) is HubDataset
    for spec in ("missing.parquet", "./missing", "~/missing"):  # named as files: reading says not found
        assert type(dataset_source(spec, tmp_path)) is FileDataset, spec
    with pytest.raises(CodetuneError, match="dataset file not found"):
        dataset_source("missing.jsonl", tmp_path).fetch(None)  # type: ignore[arg-type]
    for bad in ("my data.csv", ""):
        with pytest.raises(
            CodetuneError, match=rf"dataset.source '{bad}' is not a dataset source; use builtin:deep"
        ):
            dataset_source(bad, tmp_path)


def test_fetch_downloads_hub_sources_once_and_names_the_rest_local(tmp_path, monkeypatch):
    calls: list[tuple] = []

    def snapshot(repo_id, **kw):
        calls.append(("snapshot", repo_id))
        return tmp_path / "snap", "c" * 40

    def download(repo_id, filename, **kw):
        calls.append(("download", repo_id, filename))
        return hub.HubFile(repo_id, filename, tmp_path / filename, "d" * 40, "0" * 64)

    monkeypatch.setattr(hub, "snapshot", snapshot)
    monkeypatch.setattr(hub, "download", download)
    (tmp_path / "model").mkdir()  # a local model folder: nothing to download
    (tmp_path / "model" / "config.json").write_text("{}")
    (tmp_path / "train.jsonl").write_text("{}\n")
    runs = {
        "a": {"dataset": {"source": "owner/data"}},
        "b": {"dataset": {"source": "owner/data"}},
        "c": {"dataset": {"source": "train.jsonl"}},
        "d": {"dataset": {"source": "builtin:deep"}},
    }
    doc = {"name": "t", "output_dir": "out", "model": {"source": str(tmp_path / "model")}, "runs": runs}
    doc["benchmark"] = {"source": "lcb/copy", "release": "v5_v6"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(doc))
    fetched = fetch_study(load_config(tmp_path / "c.yaml"), report=lambda _: None)
    assert [(f.what, f.source, f.where) for f in fetched] == [
        ("model", str(tmp_path / "model"), "local, nothing to download"),
        ("dataset (run a)", "owner/data", str(tmp_path / "snap")),
        ("dataset (run b)", "owner/data", "fetched above"),
        ("dataset (run c)", "train.jsonl", "local, nothing to download"),
        ("dataset (run d)", "builtin:deep", "local, nothing to download"),
        ("benchmark v5_v6", "lcb/copy/test5.jsonl", str(tmp_path / "test5.jsonl")),
        ("benchmark v5_v6", "lcb/copy/test6.jsonl", str(tmp_path / "test6.jsonl")),
    ]
    assert calls == [
        ("snapshot", "owner/data"),
        ("download", "lcb/copy", "test5.jsonl"),
        ("download", "lcb/copy", "test6.jsonl"),
    ]
    doc["benchmark"] = {"source": "builtin"}
    doc["runs"] = {"a": {"dataset": {"source": "gone.jsonl"}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(CodetuneError, match=f"dataset file not found: {tmp_path / 'gone.jsonl'}"):
        fetch_study(load_config(tmp_path / "c.yaml"), report=lambda _: None)
