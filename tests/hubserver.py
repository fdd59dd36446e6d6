"""A stand-in Hugging Face Hub on loopback, serving repositories laid out as on the real hub from local folders.

Neither PyPI candidate fits: `hf-local-hub` 3.0.0 ships only a client (its server is a Go binary the wheel
does not contain), and `olah` 0.5.4 serves local git mirrors offline but answers 401 (repository not found)
for a missing file or folder and for `GET /api/models/<repo>`, which transformers takes as "no such model"
when it probes optional tokenizer files. So this is a small stdlib server (threaded http.server) covering
exactly the calls the unmodified clients make (huggingface_hub 2.x, transformers 5.x, datasets 5.x):

  HEAD|GET /<repo>/resolve/<rev>/<path>             a model file; /datasets/<repo>/resolve/... for datasets
      200 with X-Repo-Commit, ETag (git blob sha1, or sha256 for LFS files, which also carry X-Linked-Etag
      and X-Linked-Size), Content-Length, Accept-Ranges; `Range: bytes=N-` answers 206. A missing file is
      404 X-Error-Code EntryNotFound, a missing repository 401 RepoNotFound, an unknown revision 404
      RevisionNotFound, as the real hub answers.
  GET  /api/{models,datasets}/<repo>[/revision/<rev>]  repository info: id, sha, siblings, lastModified...
  GET  /api/{models,datasets}/<repo>/tree/<rev>[/<path>]?recursive=   files and folders under a path
  POST /api/{models,datasets}/<repo>/paths-info/<rev>  form or JSON `paths`: info of those that exist
  anything else                                       404 (huggingface_hub's agent registry and telemetry
                                                      calls tolerate that)

A repository is one folder and one commit whose sha is derived from its files' hashes. Every request is
counted in `requests`, so a test can assert that an offline run asked nothing.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

# Files the real hub keeps in LFS (the .gitattributes of the repos served here say the same).
LFS_SUFFIXES = (".safetensors", ".bin", ".jsonl", ".parquet", ".tiktoken")


@dataclass
class _File:
    path: str
    size: int
    sha256: str
    git_oid: str
    lfs: bool


@dataclass
class Repo:
    repo_type: str  # "model" or "dataset"
    repo_id: str
    folder: Path
    files: dict[str, _File] = field(default_factory=dict)
    commit: str = ""

    @classmethod
    def from_folder(cls, repo_type: str, repo_id: str, folder: Path) -> Repo:
        repo = cls(repo_type, repo_id, Path(folder))
        for p in sorted(Path(folder).rglob("*")):
            if not p.is_file():
                continue
            data = p.read_bytes()
            rel = p.relative_to(folder).as_posix()
            git_oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            lfs = rel.endswith(LFS_SUFFIXES)
            repo.files[rel] = _File(rel, len(data), hashlib.sha256(data).hexdigest(), git_oid, lfs)
        digest = hashlib.sha1(repo_id.encode())
        for f in repo.files.values():
            digest.update(f"{f.path}\0{f.sha256}\n".encode())
        repo.commit = digest.hexdigest()
        return repo

    def entry(self, f: _File) -> dict:
        out = {"type": "file", "oid": f.git_oid, "size": f.size, "path": f.path}
        if f.lfs:
            out["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": 134}
        return out

    def folders(self) -> set[str]:
        out = set()
        for p in self.files:
            parts = p.split("/")[:-1]
            out.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return out


class StandInHub:
    """`with StandInHub(repos) as hub:` serves on 127.0.0.1:<free port>; `hub.endpoint` is HF_ENDPOINT."""

    def __init__(self, repos: list[Repo]):
        self.repos = {(r.repo_type, r.repo_id): r for r in repos}
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "the stand-in hub is not running"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> StandInHub:
        hub = self

        class Handler(_Handler):
            stand_in = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StandInHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    stand_in: StandInHub
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args) -> None:  # quiet: the test output is the clients'
        pass

    # ------------------------------------------------------------------ plumbing

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _json(self, data, status: int = 200) -> None:
        self._send(status, json.dumps(data).encode(), {"Content-Type": "application/json"})

    def _error(self, status: int, code: str, message: str, head: bool = False) -> None:
        body = json.dumps({"error": message}).encode()
        headers = {"Content-Type": "application/json", "X-Error-Code": code, "X-Error-Message": message}
        self._send(status, b"" if head else body, headers)

    def _repo(self, repo_type: str, repo_id: str, rev: str, head: bool = False) -> Repo | None:
        repo = self.stand_in.repos.get((repo_type, repo_id))
        if repo is None:
            self._error(401, "RepoNotFound", "Repository not found", head)
            return None
        if unquote(rev) not in ("main", repo.commit):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}", head)
            return None
        return repo

    # ------------------------------------------------------------------ routes

    def do_HEAD(self) -> None:
        self._route("HEAD")

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        url = urlparse(self.path)
        self.stand_in.requests.append(f"{method} {url.path}")
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        query = parse_qs(url.query)
        head = method == "HEAD"
        if parts[:1] == ["api"] and len(parts) >= 4 and parts[1] in ("models", "datasets"):
            repo_type = "model" if parts[1] == "models" else "dataset"
            repo_id, rest = "/".join(parts[2:4]), parts[4:]
            if method == "GET" and not rest:
                return self._info(repo_type, repo_id, "main")
            if method == "GET" and rest[:1] == ["revision"] and len(rest) == 2:
                return self._info(repo_type, repo_id, rest[1])
            if method == "GET" and rest[:1] == ["tree"] and len(rest) >= 2:
                return self._tree(repo_type, repo_id, rest[1], "/".join(rest[2:]), query)
            if method == "POST" and rest[:1] == ["paths-info"] and len(rest) == 2:
                return self._paths_info(repo_type, repo_id, rest[1])
            return self._error(404, "NotFound", "Not found")
        repo_type = "model"
        if parts[:1] == ["datasets"]:
            repo_type, parts = "dataset", parts[1:]
        if len(parts) >= 5 and parts[2] == "resolve" and method in ("GET", "HEAD"):
            return self._resolve(repo_type, "/".join(parts[:2]), parts[3], "/".join(parts[4:]), head)
        self._error(404, "NotFound", "Not found", head)

    def _info(self, repo_type: str, repo_id: str, rev: str) -> None:
        repo = self._repo(repo_type, repo_id, rev)
        if repo is None:
            return
        self._json(
            {
                "_id": repo.commit[:24],
                "id": repo.repo_id,
                "author": repo.repo_id.split("/")[0],
                "sha": repo.commit,
                "lastModified": "2025-01-01T00:00:00.000Z",
                "createdAt": "2025-01-01T00:00:00.000Z",
                "private": False,
                "gated": False,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "cardData": {},
                "siblings": [{"rfilename": p} for p in sorted(repo.files)],
            }
        )

    def _tree(self, repo_type: str, repo_id: str, rev: str, path: str, query: dict) -> None:
        repo = self._repo(repo_type, repo_id, rev)
        if repo is None:
            return
        path = path.strip("/")
        folders = repo.folders()
        if path and path not in folders:
            return self._error(404, "EntryNotFound", f"{path} does not exist on {rev}")
        recursive = query.get("recursive", ["false"])[0].lower() == "true"
        prefix = f"{path}/" if path else ""
        out = []
        for d in sorted(folders):
            if d.startswith(prefix) and (recursive or "/" not in d[len(prefix) :]):
                out.append(
                    {"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0, "path": d}
                )
        for p, f in sorted(repo.files.items()):
            if p.startswith(prefix) and (recursive or "/" not in p[len(prefix) :]):
                out.append(repo.entry(f))
        self._json(out)

    def _paths_info(self, repo_type: str, repo_id: str, rev: str) -> None:
        repo = self._repo(repo_type, repo_id, rev)
        if repo is None:
            return
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            paths = json.loads(raw or "{}").get("paths", [])
        else:
            paths = parse_qs(raw).get("paths", [])
        paths = [paths] if isinstance(paths, str) else paths
        folders = repo.folders()
        out = []
        for p in paths:
            p = p.strip("/")
            if p in repo.files:
                out.append(repo.entry(repo.files[p]))
            elif p in folders:
                out.append(
                    {"type": "directory", "oid": hashlib.sha1(p.encode()).hexdigest(), "size": 0, "path": p}
                )
        self._json(out)

    def _resolve(self, repo_type: str, repo_id: str, rev: str, path: str, head: bool) -> None:
        repo = self._repo(repo_type, repo_id, rev, head)
        if repo is None:
            return
        f = repo.files.get(path)
        if f is None:
            return self._error(404, "EntryNotFound", f"{path} does not exist on {rev}", head)
        etag = f.sha256 if f.lfs else f.git_oid
        headers = {
            "X-Repo-Commit": repo.commit,
            "ETag": f'"{etag}"',
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
        }
        if f.lfs:
            headers.update({"X-Linked-Etag": f'"{f.sha256}"', "X-Linked-Size": f.size})
        data = b"" if head else (repo.folder / path).read_bytes()
        start = 0
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=") and rng[6:].split("-")[0].isdigit():
            start = int(rng[6:].split("-")[0])
        if head:
            headers["Content-Length"] = f.size
            self.send_response(200)
            for k, v in headers.items():
                self.send_header(k, str(v))
            self.end_headers()
            return
        if start:
            headers["Content-Range"] = f"bytes {start}-{f.size - 1}/{f.size}"
            return self._send(206, data[start:], headers)
        self._send(200, data, headers)
