"""A LiveCodeBench dataset on the Hugging Face Hub (`livecodebench/code_generation_lite`, or a copy).

On the hub the dataset is a loading script (code_generation_lite.py, which `datasets` 4+ refuses to run)
beside raw files test.jsonl, test2.jsonl ... test6.jsonl; a release names the files it is made of
(`release_files`), which are downloaded with huggingface_hub and parsed by codetune.bench.lcb. Its rows'
private tests are base64(zlib(pickle(JSON string))), megabytes each: lcb decodes only the selected ones.
"""

from __future__ import annotations

from codetune import hub
from codetune.bench.sources.base import BenchmarkRows, BenchmarkSource
from codetune.bench.sources.local import read_jsonl
from codetune.config import BenchmarkConfig
from codetune.errors import CodetuneError
from codetune.hub import HubFile

HUB_DATASET = "livecodebench/code_generation_lite"


def _test_file(n: int) -> str:
    return "test.jsonl" if n == 1 else f"test{n}.jsonl"


# LiveCodeBench's own release names (its hub loading script): each release_vN adds one file to the last.
RELEASE_COUNT = 6
RELEASES: dict[str, list[str]] = {
    **{f"release_v{n}": [_test_file(i) for i in range(1, n + 1)] for n in range(1, RELEASE_COUNT + 1)},
    "release_latest": [_test_file(i) for i in range(1, RELEASE_COUNT + 1)],
    **{f"v{n}": [_test_file(n)] for n in range(1, RELEASE_COUNT + 1)},
    **{
        f"v{a}_v{b}": [_test_file(i) for i in range(a, b + 1)]
        for a in range(1, RELEASE_COUNT + 1)
        for b in range(a + 1, RELEASE_COUNT + 1)
    },
}
DEFAULT_RELEASE = "release_latest"


def release_files(release: str | None) -> list[str]:
    """The hub files a release is made of; an unknown release is an error listing the known ones."""
    name = release or DEFAULT_RELEASE
    if name not in RELEASES:
        named = [k for k in RELEASES if k.startswith("release_")]
        raise CodetuneError(
            f"benchmark.release {name!r} is not a LiveCodeBench release; use one of {', '.join(named)}, "
            f"v1..v{RELEASE_COUNT} (one file each) or a range vA_vB such as v5_v6"
        )
    return RELEASES[name]


def fetch_release(source: str, release: str | None, revision: str | None = None) -> list[HubFile]:
    """The release's raw files in the hub cache (downloaded when missing), all from one commit."""
    files = [hub.download(source, n, repo_type="dataset", revision=revision) for n in release_files(release)]
    revisions = {f.revision for f in files}
    if len(revisions) > 1:  # "main" moved between two downloads: the release would mix two snapshots
        raise CodetuneError(
            f"benchmark {source}: its files come from different commits "
            f"({', '.join(sorted(map(str, revisions)))}); set benchmark.revision to one commit"
        )
    return files


class HubBenchmark(BenchmarkSource):
    description = f"a hub dataset id in LiveCodeBench's layout ({HUB_DATASET}, filtered by benchmark.release)"
    offline = False
    uses_release = True

    @classmethod
    def claims(cls, spec: str) -> bool:
        return hub.is_repo_id(spec)

    def read(self, cfg: BenchmarkConfig, *, seed: int) -> BenchmarkRows:
        release = cfg.release or DEFAULT_RELEASE
        files = fetch_release(self.spec, release, cfg.revision)
        rows = [row for f in files for row in read_jsonl(f.path, f"{self.spec}/{f.name}")]
        revision = files[0].revision if files else None
        note = f"{', '.join(f.name for f in files)} at {(revision or '?')[:12]}"
        return BenchmarkRows(rows, f"{self.spec} ({release})", note, release, files)

    def fetch(self, cfg: BenchmarkConfig) -> list[HubFile]:
        return fetch_release(self.spec, cfg.release, cfg.revision)

    def card_name(self, release: str | None) -> tuple[str, str]:
        return self.spec, f"LiveCodeBench {self.spec} {release or ''}".strip()
