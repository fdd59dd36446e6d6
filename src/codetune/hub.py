"""Files from the Hugging Face Hub, through huggingface_hub into its standard cache ($HF_HOME/hub).

The same call serves a machine with internet (download, or reuse what the cache holds) and a compute node
with `HF_HUB_OFFLINE=1` (read the cache only). A file missing offline is one line naming the repository
and the file and saying how to pre-download it; hub errors online are one line too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from codetune import fingerprint
from codetune.errors import CodetuneError

RepoType = Literal["model", "dataset"]
FETCH_HINT = "pre-download it where the hub is reachable: `codetune fetch CONFIG` (or `{cmd}`)"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_REPO_ID = re.compile(r"[\w.-]+(/[\w.-]+)?")  # name or owner/name: the shape huggingface_hub accepts


@dataclass(frozen=True)
class HubFile:
    """A file of a hub repository as it lies in the cache, with the commit it came from."""

    repo_id: str
    name: str
    path: Path
    revision: str | None  # commit sha of the repository snapshot
    sha256: str


def is_repo_id(name: str) -> bool:
    """Whether `name` has the shape of a hub repository id (`name` or `owner/name`)."""
    return _REPO_ID.fullmatch(name) is not None


def offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def cache_dir() -> str:
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def download_command(repo_id: str, repo_type: RepoType, filename: str | None = None) -> str:
    kind = " --repo-type dataset" if repo_type == "dataset" else ""
    return f"hf download {repo_id}{' ' + filename if filename else ''}{kind}"


def _snapshot_revision(path: Path) -> str | None:
    """The commit sha of a cached file or snapshot folder: the cache lays files out as snapshots/<sha>/..."""
    parts = Path(path).parts
    for i, part in enumerate(parts[:-1]):
        if part == "snapshots" and _COMMIT.match(parts[i + 1]):
            return parts[i + 1]
    return None


def file_sha256(path: Path) -> str:
    """The content's sha256: the cache's blob name for an LFS file (its hub etag), else computed."""
    blob = Path(path).resolve()
    if _SHA256.match(blob.name):
        return blob.name
    return fingerprint.file_sha256(blob)


def cached_revision(repo_id: str, repo_type: RepoType, revision: str | None = None) -> str | None:
    """The commit a hub repository (or branch/tag `revision`) resolves to in the local cache, without the
    network; None when it is not cached (then its content cannot be told apart)."""
    from huggingface_hub import snapshot_download

    try:
        path = snapshot_download(repo_id, repo_type=repo_type, revision=revision, local_files_only=True)
    except Exception:  # not cached, or offline: the revision is unknown
        return None
    return _snapshot_revision(Path(path))


def not_cached(
    repo_id: str, repo_type: RepoType, filename: str | None, revision: str | None = None
) -> CodetuneError:
    """The one line for a file (or a whole repository) the cache lacks while the hub is out of reach."""
    what = f"{repo_type} {repo_id}" + (f" (revision {revision})" if revision else "")
    target = f"{filename} of {what}" if filename else what
    why = "HF_HUB_OFFLINE is set" if offline() else "the hub cannot be reached"
    hint = FETCH_HINT.format(cmd=download_command(repo_id, repo_type, filename))
    return CodetuneError(f"{target} is not in the Hugging Face cache ({cache_dir()}) and {why}; {hint}")


def first_uncached(
    repo_id: str, repo_type: RepoType, needed: list[tuple[str, ...]], revision: str | None
) -> str | None:
    """The first of `needed` (each a file or its alternatives) that the cache has in none of its forms."""
    from huggingface_hub import try_to_load_from_cache

    for names in needed:
        cached = [try_to_load_from_cache(repo_id, n, revision=revision, repo_type=repo_type) for n in names]
        if not any(isinstance(c, str) for c in cached):
            return names[0]
    return None


def _error(e: Exception, repo_id: str, repo_type: RepoType, filename: str | None, revision: str | None):
    """One line for a hub failure; None when the exception is not the hub's."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    what = f"{repo_type} {repo_id}" + (f" (revision {revision})" if revision else "")
    target = f"{filename} of {what}" if filename else what
    if isinstance(e, LocalEntryNotFoundError):
        return not_cached(repo_id, repo_type, filename, revision)
    if isinstance(e, GatedRepoError):
        return CodetuneError(f"{what} is gated: accept its terms on the hub and log in (`hf auth login`)")
    if isinstance(e, RepositoryNotFoundError):
        return CodetuneError(f"{what}: no such repository on the hub (or it is private: `hf auth login`)")
    if isinstance(e, RevisionNotFoundError):
        return CodetuneError(f"{what}: no such revision on the hub")
    if isinstance(e, EntryNotFoundError):
        return CodetuneError(f"{what} has no file {filename}")
    if isinstance(e, OSError | ValueError):  # network failures, HTTP errors, a corrupt cache entry
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return CodetuneError(f"{target}: could not download: {first}")
    return None


def download(
    repo_id: str, filename: str, *, repo_type: RepoType = "dataset", revision: str | None = None
) -> HubFile:
    """One file of a hub repository, from the cache or downloaded into it."""
    from huggingface_hub import hf_hub_download

    try:
        path = Path(hf_hub_download(repo_id, filename, repo_type=repo_type, revision=revision))
    except Exception as e:
        err = _error(e, repo_id, repo_type, filename, revision)
        if err is None:
            raise
        raise err from None
    return HubFile(repo_id, filename, path, _snapshot_revision(path), file_sha256(path))


def snapshot(
    repo_id: str,
    *,
    repo_type: RepoType,
    revision: str | None = None,
    allow_patterns: list[str] | None = None,
) -> tuple[Path, str | None]:
    """(folder, commit sha) of a repository snapshot in the cache, downloading what is missing."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(
            snapshot_download(repo_id, repo_type=repo_type, revision=revision, allow_patterns=allow_patterns)
        )
    except Exception as e:
        err = _error(e, repo_id, repo_type, None, revision)
        if err is None:
            raise
        raise err from None
    return folder, _snapshot_revision(folder) or (revision if revision and _COMMIT.match(revision) else None)
