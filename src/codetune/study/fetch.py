"""`codetune fetch`: download everything a study config reads from the hub into the Hugging Face cache,
so that the study then runs with `HF_HUB_OFFLINE=1` (cluster compute nodes have no internet).

What a study reads from the hub: the base model (weights, config, tokenizer), each run's dataset, and the
benchmark release's files. Built-in and local sources need nothing and are reported as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from codetune.config import StudyConfig


@dataclass(frozen=True)
class Fetched:
    what: str  # "model", "dataset (run deep)", "benchmark"
    source: str
    where: str  # a cache folder, or why nothing was downloaded
    revision: str | None = None


def fetch_study(cfg: StudyConfig, report: Callable[[str], None] = print) -> list[Fetched]:
    """Download (or find in the cache) every hub file `cfg` needs; returns what was fetched, in order."""
    from codetune.bench.sources import benchmark_source
    from codetune.data.sources import dataset_source
    from codetune.models import fetch_model

    base_dir = cfg.base_dir
    out: list[Fetched] = []

    def note(item: Fetched) -> None:
        out.append(item)
        rev = f" @ {item.revision[:12]}" if item.revision else ""
        report(f"{item.what}: {item.source}{rev} -> {item.where}")

    folder, commit = fetch_model(cfg.model)
    local = commit is None
    note(Fetched("model", cfg.model.source, "local, nothing to download" if local else folder, commit))
    seen: set[tuple[str, str | None]] = set()
    for name, run in cfg.runs.items():
        ds = run.dataset
        what = f"dataset (run {name})"
        if (ds.source, ds.revision) in seen:  # only hub datasets are in `seen`
            note(Fetched(what, ds.source, "fetched above"))
            continue
        cached = dataset_source(ds.source, base_dir).fetch(ds)
        if cached is None:
            note(Fetched(what, ds.source, "local, nothing to download"))
            continue
        seen.add((ds.source, ds.revision))
        snapshot, commit = cached
        note(Fetched(what, ds.source, str(snapshot), commit))
    bench = cfg.benchmark
    files = benchmark_source(bench.source, base_dir).fetch(bench)
    if not files:
        note(Fetched("benchmark", bench.source, "local, nothing to download"))
    for f in files:
        what = f"benchmark {bench.release or 'release_latest'}"
        note(Fetched(what, f"{bench.source}/{f.name}", str(f.path), f.revision))
    return out
