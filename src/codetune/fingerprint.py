"""Stage fingerprints: what decides a stage's output, and whether the output on disk was made from it.

A stage's `StageSpec` holds the config values it reads (nested like the YAML, so a difference is named by its
key path, `training.learning_rate`) and its inputs: content hashes of the data, benchmark, model and
checkpoints it reads, the fingerprints of the stages whose output it uses, and the version of the rules it
applies. Its fingerprint is the sha256 of a canonical JSON of all that plus FORMAT_VERSION. The stage writes a
records.StageRecord (stages/...json) when it starts and again when it finishes, then with the hashes of what
it wrote (layout.stage_content); its output counts as done only when the output exists, the record is
finished with the fingerprint the current config gives, and the files still have the hashes it recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from codetune import __version__, layout
from codetune.records import StageRecord

# Bump when a study file's layout or meaning changes: every stage is then redone (training refuses instead).
FORMAT_VERSION = 1


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(obj: Any) -> str:
    """sha256 of the canonical JSON of `obj`."""
    data = canonical_json(obj).encode("utf-8", "surrogatepass")  # hostile text (a lone surrogate) too
    return hashlib.sha256(data).hexdigest()


_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes; remembered per (path, size, mtime) so a big model is read once a process."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _FILE_HASHES:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _FILE_HASHES[key] = h.hexdigest()
    return _FILE_HASHES[key]


def files_sha256(paths: Iterable[Path], root: Path | None = None) -> str:
    """One hash over several files, each named (relative to `root`, else by file name) and hashed."""
    named = sorted((str(Path(p).relative_to(root)) if root else Path(p).name, file_sha256(p)) for p in paths)
    return digest(named)


def adapter_sha256(checkpoint: Path) -> str:
    """A checkpoint's identity: one hash over its adapter files (weights and adapter config)."""
    return files_sha256(layout.adapter_paths(checkpoint))


def folder_sha256(folder: Path) -> str:
    """One hash over every file of a folder, hidden files and folders left out."""
    folder = Path(folder)
    files = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files += [Path(dirpath) / f for f in filenames if not f.startswith(".")]
    return files_sha256(files, root=folder)


def content_hashes(output_dir: Path, stage: str, key: str | None) -> dict[str, str]:
    """sha256 of each file of a stage's content (layout.stage_content) that exists, by its path in the
    study folder."""
    out = Path(output_dir)
    return {
        p.relative_to(out).as_posix(): file_sha256(p)
        for p in layout.stage_content(out, stage, key)
        if p.is_file()
    }


def content_digest(output_dir: Path, stage: str, key: str | None) -> str | None:
    """One hash over a stage's content as it is now (what the stages after it chain on); None while none of
    it exists."""
    hashes = content_hashes(output_dir, stage, key)
    return digest(sorted(hashes.items())) if hashes else None


def changed_content(output_dir: Path, record: StageRecord) -> list[str]:
    """The files of a finished stage's content that are not as it left them (edited, truncated, replaced,
    deleted or added since), by their path in the study folder; empty when all are, or when the record
    holds no hashes (an unfinished stage, an older codetune)."""
    if record.outputs is None:
        return []
    now_ = content_hashes(output_dir, record.stage, record.key)
    return sorted(p for p in set(now_) | set(record.outputs) if now_.get(p) != record.outputs.get(p))


def stage_label(stage: str, key: str | None) -> str:
    """How a stage is named in messages and in the records that chain on it: "eval deep/checkpoint-..."."""
    return stage if key is None else f"{stage} {key}"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class StageSpec:
    """What one stage reads: the config subset and the inputs its fingerprint is computed from."""

    stage: str  # profile | overlap | train | eval | selection | compare | report
    key: str | None  # the run or the model, for stages done per run or per model
    config: dict[str, Any]
    inputs: dict[str, Any]
    speed: dict[str, Any] = field(default_factory=dict)  # speed-only settings: recorded, not fingerprinted

    @property
    def fingerprint(self) -> str:
        return digest(
            {
                "format": FORMAT_VERSION,
                "stage": self.stage,
                "key": self.key,
                "config": self.config,
                "inputs": self.inputs,
            }
        )

    @property
    def label(self) -> str:
        return stage_label(self.stage, self.key)

    def record_path(self, output_dir: Path) -> Path:
        return layout.stage_record_path(output_dir, self.stage, self.key)

    def read_record(self, output_dir: Path) -> StageRecord | None:
        return StageRecord.read(self.record_path(output_dir))

    def write_record(
        self,
        output_dir: Path,
        *,
        finished: bool,
        config_file: str | None = None,
        started_at: str | None = None,
    ) -> StageRecord:
        """The stage's record: written with finished=False before the work, with finished=True after it."""
        record = StageRecord(
            stage=self.stage,
            key=self.key,
            fingerprint=self.fingerprint,
            format_version=FORMAT_VERSION,
            config=self.config,
            inputs=self.inputs,
            speed=self.speed,
            config_file=config_file,
            codetune_version=__version__,
            started_at=started_at or now(),
            finished_at=now() if finished else None,
            outputs=content_hashes(output_dir, self.stage, self.key) if finished else None,
        )
        record.write(self.record_path(output_dir))
        return record

    def finish_record(self, output_dir: Path) -> StageRecord:
        """Mark the stage's record finished (keeping when it started)."""
        old = self.read_record(output_dir)
        same = old if old is not None and old.fingerprint == self.fingerprint else None
        return self.write_record(
            output_dir,
            finished=True,
            config_file=same.config_file if same is not None else None,
            started_at=same.started_at if same is not None else None,
        )


def _leaves(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict) and obj:
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix or "(all)": obj}


def differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Key paths whose values differ between two nested dicts (a key on one side only counts, as
    `key (only in the record)` or `key (not in the record)`)."""
    a, b = _leaves(old, prefix), _leaves(new, prefix)
    out = []
    for k in sorted(set(a) | set(b)):
        if k not in b:
            out.append(f"{k} (only in the record)")
        elif k not in a:
            out.append(f"{k} (not in the record)")
        elif a[k] != b[k]:
            out.append(k)
    return out


def config_disagreement(recorded: dict[str, Any], full: dict[str, Any]) -> list[str]:
    """Key paths where a stage record's config differs from a whole config (the study folder's latest), looking only at
    the keys the stage read."""
    out = []
    for path, value in _leaves(recorded).items():
        node: Any = full
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                out.append(f"{path} (not in the config)")
                break
            node = node[part]
        else:
            if node != value:
                out.append(path)
    return out


def settings_as_run(record: StageRecord) -> dict[str, Any]:
    """Every config value a stage ran with, its speed settings included (nested like the YAML): what a
    report sets against config.yaml before it says a stage ran "as config.yaml"."""
    import copy

    merged = copy.deepcopy(record.config)

    def merge(into: dict, extra: dict) -> None:
        for k, v in extra.items():
            if isinstance(v, dict) and isinstance(into.get(k), dict):
                merge(into[k], v)
            else:
                into[k] = copy.deepcopy(v)

    merge(merged, record.speed)
    return merged


def record_differences(record: StageRecord, spec: StageSpec) -> list[str]:
    """What differs between the record of an earlier computation and the current spec: config key paths,
    then inputs (`inputs.dataset.sha256`), then the format version."""
    diffs = differences(record.config, spec.config) + differences(record.inputs, spec.inputs, "inputs")
    if record.format_version != FORMAT_VERSION:
        diffs.append(f"codetune's file format ({record.format_version} -> {FORMAT_VERSION})")
    if not diffs and record.fingerprint != spec.fingerprint:
        diffs.append("the fingerprint (recomputed by another codetune version)")
    return diffs


State = Literal["done", "stale", "todo"]


@dataclass
class StageStatus:
    state: State
    why: str = ""  # stale: what differs; to do: what is missing or unfinished
    differences: tuple[str, ...] = ()

    def __str__(self) -> str:
        names = {"done": "done", "stale": "stale", "todo": "to do"}
        return names[self.state] + (f" ({self.why})" if self.why else "")


def stage_status(output_dir: Path, spec: StageSpec, *, output_exists: bool) -> StageStatus:
    """done: the output exists and the finished record has the spec's fingerprint; stale: the output (or a
    partial one) was made from something else; to do: nothing usable is there yet."""
    record = spec.read_record(output_dir)
    if record is None:
        if output_exists:
            return StageStatus("stale", "its output has no stage record, so what made it is unknown")
        return StageStatus("todo")
    if record.fingerprint != spec.fingerprint:
        diffs = tuple(record_differences(record, spec))
        if not output_exists and record.finished:
            return StageStatus("todo", "its output is gone")
        return StageStatus("stale", "differs in: " + ", ".join(diffs[:8]), diffs)
    if not record.finished:
        return StageStatus("todo", "started, unfinished: continues where it stopped")
    if not output_exists:
        return StageStatus("todo", "its output is gone")
    if record.outputs is None:
        return StageStatus("stale", "its record holds no hashes of its output (an older codetune wrote it)")
    if changed := changed_content(output_dir, record):
        # Never a result the stage did not compute: an edited file is redone, as a deleted one is.
        return StageStatus("stale", f"{', '.join(changed)} changed after the stage finished", tuple(changed))
    return StageStatus("done")
