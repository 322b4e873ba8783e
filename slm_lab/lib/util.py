"""Small shared helpers: files, time, provenance."""

import json
import os
import re
import subprocess
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pendulum

from slm_lab import ROOT
from slm_lab.lib.redact import redact
from slm_lab.spec.errors import SpecError

TIMESTAMP_FORMAT = "YYYY_MM_DD_HHmmss"
FOLDER_RETRY_S = 0.1  # wait before trying a run folder name again (names change each second)
GIB = 2**30
FILE_MODE = 0o644  # files the lab writes: readable by others, as open() would make them
RUN_STAMP = re.compile(r"_\d{4}_\d{2}_\d{2}_\d{6}$")  # the timestamp ending a run folder's name
LATEST = "latest"
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


def find_run(target: str, data_root: Path, purpose: str, name: str | None = None) -> Path:
    """MODE@target's run folder: `latest` is the newest run under data_root (of spec `name` when
    given; enjoy folders are not runs), anything else a folder path."""
    if target != LATEST:
        run = Path(target)
        if not run.is_dir():
            raise SpecError(f"run folder {target} does not exist", "MODE")
        return run
    runs = [p for p in data_root.glob("*_*") if p.is_dir() and is_run(p.name, name)]
    if not runs:
        which = f"run of {name}" if name else "run folder"
        raise SpecError(f"no {which} in {data_root}/ to {purpose}", "MODE")
    return max(runs, key=lambda p: p.stat().st_mtime)


def is_run(folder: str, name: str | None) -> bool:
    stamp = RUN_STAMP.search(folder)
    if stamp is None or "_enjoy_" in folder:
        return False
    return name is None or folder[: stamp.start()] == name


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
