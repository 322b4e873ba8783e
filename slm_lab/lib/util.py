"""Small shared helpers: files, time, provenance."""

import json
import os
import subprocess
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pendulum

from slm_lab import ROOT
from slm_lab.lib.redact import redact

TIMESTAMP_FORMAT = "YYYY_MM_DD_HHmmss"
FOLDER_RETRY_S = 0.1  # wait before trying a run folder name again (names change each second)
GIB = 2**30
VERSIONED = ("slm-lab", "torch", "gymnasium", "ale-py", "mujoco", "numpy", "torcharc", "ray")


def timestamp() -> str:
    return pendulum.now().format(TIMESTAMP_FORMAT)


def new_folder(parent: Path, prefix: str) -> tuple[Path, str]:
    """Create `<prefix>_<timestamp>` under parent, a folder no other run holds: when one started
    in the same second, wait for the next second. Returns the folder and its timestamp."""
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        stamp = timestamp()
        folder = parent / f"{prefix}_{stamp}"
        try:
            folder.mkdir()
            return folder, stamp
        except FileExistsError:
            time.sleep(FOLDER_RETRY_S)


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
