"""Small shared helpers: files, time, provenance."""

import json
import os
import subprocess
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pendulum

from slm_lab import ROOT
from slm_lab.lib.redact import redact

TIMESTAMP_FORMAT = "YYYY_MM_DD_HHmmss"
GIB = 2**30
FILE_MODE = 0o644  # files the lab writes: readable by others, as open() would make them
VERSIONED = ("slm-lab", "torch", "gymnasium", "ale-py", "mujoco", "numpy", "torcharc", "ray")


def timestamp() -> str:
    return pendulum.now().format(TIMESTAMP_FORMAT)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def available_memory() -> int:
    """Bytes of memory free now (physical pages available)."""
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def write_atomic(path: Path, text: str) -> None:
    """Write through a temp file and rename, so readers never see half a file. Secrets from the
    environment are redacted."""
    text = redact(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, FILE_MODE)  # mkstemp's files are private (0600)
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    """data as indented JSON, secrets redacted (see write_atomic)."""
    write_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def git_info() -> dict[str, Any]:
    """SHA and dirty flag of the lab's source checkout (None outside one)."""
    repo = ROOT.parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=repo, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    sha = git("rev-parse", "HEAD")
    if not sha:
        return {"git_sha": None, "git_dirty": None}
    return {"git_sha": sha, "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def versions() -> dict[str, str | None]:
    import platform

    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in VERSIONED:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def load_env_file(path: Path) -> list[str]:
    """`KEY=value` and `export KEY=value` lines of a .env file into the environment, never over
    a variable already set (quotes around values dropped, # comments skipped); returns the keys
    set. A missing file sets nothing."""
    if not path.is_file():
        return []
    added = []
    for line in path.read_text().splitlines():
        text = line.strip().removeprefix("export ").strip()
        key, sep, value = text.partition("=")
        key = key.strip()
        if text.startswith("#") or not sep or not key.isidentifier():
            continue
        value = value.strip()
        if len(value) > 1 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if key not in os.environ:
            os.environ[key] = value
            added.append(key)
    return added
