"""One study's context while its stages are planned and computed: the config, the folder, and the input
hashes several stages share (each computed once); and the config the study runs with, recorded in its folder."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from codetune import layout
from codetune.config import StudyConfig, dump_config
from codetune.errors import CodetuneError
from codetune.files import write_text_atomic
from codetune.fingerprint import digest

if TYPE_CHECKING:
    from codetune.bench.engine import Backend


class StudyContext:
    """One study's config, folder and the input hashes its stages share (each computed once)."""

    def __init__(self, cfg: StudyConfig, *, dry_run: bool = False, overwrite_stale: bool = False):
        self.cfg = cfg
        self.out = cfg.output_path
        self.base_dir = cfg.base_dir
        self.dry_run = dry_run  # read nothing from the network, load no model
        self.overwrite_stale = overwrite_stale
        self.config_file: str | None = None  # configs/<...>.yaml of this config, once the pipeline wrote it
        self._datasets: dict[str, dict] = {}

    @cached_property
    def benchmark(self):
        """The selected benchmark (a BenchmarkSelection; its counts printed, except in a dry run)."""
        from codetune.bench.lcb import load_benchmark
        from codetune.progress import say

        report = (lambda _: None) if self.dry_run else say
        return load_benchmark(self.cfg.benchmark, self.base_dir, seed=self.cfg.training.seed, report=report)

    @property
    def problems(self) -> list:
        return self.benchmark.problems

    @cached_property
    def benchmark_identity(self) -> dict | None:
        """Hash of every selected problem and test; None in a dry run on a source not read offline (the hub)."""
        from codetune.bench.lcb import selection_identity
        from codetune.bench.sources import benchmark_source

        if self.dry_run and not benchmark_source(self.cfg.benchmark.source, self.base_dir).offline:
            return None
        return selection_identity(self.benchmark)

    @cached_property
    def model_identity(self) -> dict:
        from codetune.models import model_identity

        return model_identity(self.cfg.model)

    @cached_property
    def resolved_model(self) -> dict[str, str]:
        """model.device and model.dtype as they resolve on this machine (codetune.models.resolved_model)."""
        from codetune.models import resolved_model

        return resolved_model(self.cfg.model)

    @cached_property
    def resolved_backend(self) -> Backend:
        """benchmark.generation.backend as it resolves on this machine (codetune.bench.engine)."""
        from codetune.bench.engine import resolved_backend

        return resolved_backend(self.cfg.benchmark.generation, self.cfg.model)

    def dataset_identity(self, run: str) -> dict:
        from codetune.data.sources import dataset_identity

        if run not in self._datasets:
            ds = self.cfg.run(run).dataset
            self._datasets[run] = dataset_identity(ds, self.base_dir, seed=self.cfg.training.seed)
        return self._datasets[run]


def check_own_config(cfg: StudyConfig) -> None:
    """CodetuneError when the config file given is the study folder's own config.yaml but says other than
    what the study would write there (comments, another layout): the user's file is never overwritten."""
    own = layout.config_path(cfg.output_path)
    if cfg.path is None or not own.is_file() or not own.samefile(cfg.path):
        return
    if own.read_text(encoding="utf-8", errors="replace") != dump_config(cfg):
        raise CodetuneError(
            f"{cfg.path} is where the study writes the config it ran with ({layout.CONFIG_FILE} in output_dir) "
            "and would be overwritten: give your config another name, or keep it outside output_dir"
        )


def record_config(ctx: StudyContext) -> str:
    """The study's config file (the latest) and, once per distinct config, a dated copy; returns the
    copy's path relative to the study folder (what each stage record names)."""
    check_own_config(ctx.cfg)
    text = dump_config(ctx.cfg)
    h = digest(text)[:12]
    path = next((p for p in reversed(layout.config_history(ctx.out)) if p.stem.endswith(h)), None)
    if path is None:
        path = layout.config_history_path(ctx.out, datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"), h)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    write_text_atomic(layout.config_path(ctx.out), text)
    return str(path.relative_to(ctx.out))
