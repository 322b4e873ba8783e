"""Small shared helpers: files, time, provenance."""

import errno
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pendulum

from slm_lab import ROOT
from slm_lab.lib.errors import DiskFull
from slm_lab.lib.redact import redact

TIMESTAMP_FORMAT = "YYYY_MM_DD_HHmmss"
GIB = 2**30
FILE_MODE = 0o644  # files the lab writes: readable by others, as open() would make them
VERSIONED = ("slm-lab", "torch", "gymnasium", "ale-py", "mujoco", "numpy", "torcharc", "ray")
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)  # a full file system, or a full disk quota
MEMINFO = Path("/proc/meminfo")
CGROUP = Path("/sys/fs/cgroup")  # cgroup v2: a container's memory.max and memory.current
KIB = 1024


def timestamp() -> str:
    return pendulum.now().format(TIMESTAMP_FORMAT)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def available_memory() -> int:
    """Bytes of memory a new process can take now without swapping: the kernel's MemAvailable
    (free pages and reclaimable caches), or free pages where it is not reported; within a
    container, no more than its cgroup's limit leaves."""
    free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * KIB
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = (CGROUP / "memory.max").read_text().strip()
        if limit != "max":
            free = min(free, int(limit) - int((CGROUP / "memory.current").read_text()))
    except (OSError, ValueError):
        pass
    return max(0, free)


def peak_memory(pid: int) -> int | None:
    """The most resident memory process pid has held (Linux's VmHWM), in bytes; None if
    unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * KIB
    except (OSError, ValueError, IndexError):
        pass
    return None


def no_space(error: BaseException | None) -> bool:
    """The error, or one it arose from, is a write refused for want of space (torch.save wraps
    the OSError in a RuntimeError)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError) and error.errno in NO_SPACE:
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def disk_free(path: Path) -> int | None:
    """Bytes free on the file system holding path (its nearest existing folder); None if
    unknown."""
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                return shutil.disk_usage(folder).free
            except OSError:
                return None
    return None


@contextmanager
def space_checked(path: Path, need: Callable[[], int] | None = None) -> Iterator[None]:
    """A write of `path` that fails for want of space raises DiskFull (with the space free and
    `need()`, the bytes it needed, where known); other errors pass unchanged."""
    try:
        yield
    except DiskFull:
        raise
    except Exception as e:
        if not no_space(e):
            raise
        raise DiskFull(path, disk_free(path.parent), need() if need else None) from e


def write_atomic(path: Path, text: str) -> None:
    """Write through a temp file and rename, so readers never see half a file: a write that
    fails removes its temp file and leaves the old file as it was (DiskFull when the disk is
    full). Secrets from the environment are redacted."""
    data = redact(text).encode()
    with space_checked(path, lambda: len(data)):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.chmod(tmp, FILE_MODE)  # mkstemp's files are private (0600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


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
