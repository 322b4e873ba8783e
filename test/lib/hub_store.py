"""A local stand-in for the HuggingFace Hub's HTTP endpoints that push, pull and list use, backed
by a folder: huggingface_hub runs unchanged (HF_ENDPOINT points at this server); only the
network is replaced. Dataset repos live under <root>/<owner>/<name>/; every commit is logged."""

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

SHA_LEN = 40
TOKEN = "hf_test_token"
REPO_ROUTES = ("/api/repos/", "/api/datasets/", "/datasets/")  # what fail_next applies to


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.commits: list[dict] = []  # {"repo", "paths"} per commit
        self.requests: list[str] = []  # "METHOD path" of each request
        self.fail_next = 0  # answer this many requests with 503 first
        self.lost: set[str] = set()  # files the listing names but downloads cannot find

    def repo(self, repo_id: str) -> Path:
        return self.root / repo_id

    def files(self, repo_id: str) -> list[str]:
        base = self.repo(repo_id)
        return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())

    def sha(self, repo_id: str) -> str:
        return hashlib.sha1(f"{repo_id}:{len(self.commits)}".encode()).hexdigest()


def handler(store: Store) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def reply(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def json(self, data: object, status: int = 200) -> None:
            self.reply(status, json.dumps(data).encode(), {"Content-Type": "application/json"})

        def body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))

        def authorized(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                return True
            self.json({"error": "Invalid credentials"}, 401)
            return False

        def failing(self) -> bool:
            store.requests.append(f"{self.command} {self.path}")
            if store.fail_next > 0 and self.path.startswith(REPO_ROUTES):
                store.fail_next -= 1
                self.json({"error": "Service Unavailable"}, 503)
                return True
            return False

        def do_POST(self) -> None:
            if self.failing():
                return
            parts = urlparse(self.path).path.strip("/").split("/")
            data = self.body()
            if not self.authorized():
                return
            if parts[:3] == ["api", "repos", "create"]:
                self.create(json.loads(data))
            elif parts[:2] == ["api", "datasets"] and parts[4] == "preupload":
                files = json.loads(data)["files"]
                self.json(
                    {
                        "files": [
                            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                            for f in files
                        ],
                        "commitOid": store.sha("/".join(parts[2:4])),
                    }
                )
            elif parts[:2] == ["api", "datasets"] and parts[4] == "commit":
                self.commit("/".join(parts[2:4]), data)
            else:
                self.json({"error": f"no route {self.path}"}, 404)

        def create(self, request: dict) -> None:
            repo_id = f"{request['organization']}/{request['name']}"
            existed = store.repo(repo_id).exists()
            store.repo(repo_id).mkdir(parents=True, exist_ok=True)
            url = f"http://{self.headers['Host']}/datasets/{repo_id}"
            self.json({"url": url, "name": repo_id}, 409 if existed else 200)

        def commit(self, repo_id: str, data: bytes) -> None:
            if not store.repo(repo_id).exists():
                self.json({"error": "Repository not found"}, 404)
                return
            paths = []
            for line in data.decode().splitlines():
                item = json.loads(line)
                if item["key"] != "file":
                    continue
                value = item["value"]
                path = store.repo(repo_id) / value["path"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(base64.b64decode(value["content"]))
                paths.append(value["path"])
            store.commits.append({"repo": repo_id, "paths": sorted(paths)})
            sha = store.sha(repo_id)
            url = f"http://{self.headers['Host']}/datasets/{repo_id}/commit/{sha}"
            self.json({"commitUrl": url, "commitOid": sha, "pullRequestUrl": None})

        def do_GET(self) -> None:
            if self.failing():
                return
            url = urlparse(self.path)
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            if parts[:2] == ["api", "datasets"] and len(parts) > 4 and parts[4] == "tree":
                self.tree("/".join(parts[2:4]))
            elif parts[:2] == ["api", "datasets"] and len(parts) > 4 and parts[4] == "revision":
                self.info("/".join(parts[2:4]))
            elif parts[0] == "datasets" and len(parts) > 4 and parts[3] == "resolve":
                self.resolve("/".join(parts[1:3]), "/".join(parts[5:]))
            else:
                self.json({"error": f"no route {self.path}"}, 404)

        do_HEAD = do_GET

        def missing(self, repo_id: str) -> bool:
            if store.repo(repo_id).exists():
                return False
            self.reply(404, b"", {"X-Error-Code": "RepoNotFound"})
            return True

        def tree(self, repo_id: str) -> None:
            if self.missing(repo_id):
                return
            base = store.repo(repo_id)
            entries = [
                {"type": "file", "path": f, "size": (base / f).stat().st_size, "oid": "0" * SHA_LEN}
                for f in store.files(repo_id)
            ]
            self.json(entries)

        def info(self, repo_id: str) -> None:
            if self.missing(repo_id):
                return
            siblings = [{"rfilename": f} for f in store.files(repo_id)]
            self.json({"id": repo_id, "sha": store.sha(repo_id), "siblings": siblings})

        def resolve(self, repo_id: str, path: str) -> None:
            file = store.repo(repo_id) / path
            if self.missing(repo_id):
                return
            if not file.is_file() or path in store.lost:
                self.reply(404, b"", {"X-Error-Code": "EntryNotFound"})
                return
            body = file.read_bytes()
            headers = {
                "ETag": f'"{hashlib.sha1(body).hexdigest()}"',
                "X-Repo-Commit": store.sha(repo_id),
                "Content-Type": "application/octet-stream",
            }
            self.reply(200, body, headers)

    return Handler


class HubServer:
    """Serves a Store on 127.0.0.1 in a thread; `endpoint` is what HF_ENDPOINT takes."""

    def __init__(self, root: Path) -> None:
        self.store = Store(root)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler(self.store))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "HubServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def main(root: str, endpoint_file: str) -> None:
    """`python test/lib/hub_store.py ROOT ENDPOINT_FILE`: serve until killed (CI's minimal-install
    check runs push, list and pull against it); the endpoint is written to ENDPOINT_FILE."""
    server = HubServer(Path(root))
    Path(endpoint_file).write_text(server.endpoint)
    server.server.serve_forever()


if __name__ == "__main__":
    import sys

    main(*sys.argv[1:])
