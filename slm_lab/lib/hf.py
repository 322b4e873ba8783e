"""Run folders on a HuggingFace dataset repo, as `data/<folder>/...`: push (one commit per folder,
with the README card its caller writes), pull (whole folders, skipping those present) and list. Torch-free.

The repo comes from --repo or HF_REPO; the token from HF_TOKEN (or `hf auth login`). Network
errors and server errors are retried; local files are only ever read by a push, and a pull
moves a folder into place only once every file of it has arrived."""

import fnmatch
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from loguru import logger

from slm_lab.lib.errors import UsageError
from slm_lab.lib.run_paths import RESUME_ONLY, is_run
from slm_lab.lib.util import no_space, space_checked

REPO_ENV = "HF_REPO"
PREFIX = "data"  # the folder of run folders, in the repo as on disk
RETRIES = 3  # tries of create_repo when the network or the server fails
BACKOFF_S = 2.0  # wait before the second try; doubles after each
GLOB_CHARS = "*?["
SERVER_ERROR = 500  # statuses from here on are the server's trouble: retried


class HubError(Exception):
    """A push, pull or list that could not be done: the message says why and what to do."""


def repo_id(repo: str | None) -> str:
    found = repo or os.environ.get(REPO_ENV)
    if not found:
        raise UsageError(
            f"no dataset repo: set {REPO_ENV}=owner/name (see .env.example) or pass --repo",
            "--repo",
        )
    if found.count("/") != 1 or not all(found.split("/")):
        raise UsageError(f"{found!r} is not a repo id of the form owner/name", "--repo")
    return found


def endpoint() -> str | None:
    """HF_ENDPOINT as it is now (huggingface_hub reads it once, at its import)."""
    return os.environ.get("HF_ENDPOINT")


def api():
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint(), library_name="slm-lab")


def token() -> str:
    from huggingface_hub import get_token

    found = get_token()
    if not found:
        raise UsageError(
            "pushing needs a HuggingFace token with write access: set HF_TOKEN (see "
            ".env.example) or run `hf auth login`",
            "HF_TOKEN",
        )
    return found


def retried[T](what: str, call: Callable[[], T], tries: int = 1) -> T:
    """The call, tried `tries` times when the network or the server fails (huggingface_hub
    already backs off and retries uploads, listings and downloads 5 times, not create_repo);
    refusals (401, 403, 404) and a full disk are not retried. A failure is one HubError naming
    what was tried."""
    from huggingface_hub.errors import HfHubHTTPError, HTTPError  # HTTPError: its client's

    wait = BACKOFF_S
    for attempt in range(1, tries + 1):
        try:
            return call()
        except HfHubHTTPError as e:
            status = e.response.status_code if e.response is not None else None
            if status is not None and status < SERVER_ERROR:
                raise HubError(f"{what}: {refusal(status, e)}") from None
            error = f"server error {status}"
        except (HTTPError, OSError) as e:
            if no_space(e):
                raise  # a full disk, not the network: the caller's DiskFull
            error = f"{type(e).__name__}: {e}"
        if attempt < tries:
            logger.warning(f"{what}: {error}; retrying in {wait:.0f} s ({attempt}/{tries})")
            time.sleep(wait)
            wait *= 2
    after = f" after {tries} tries" if tries > 1 else ""
    raise HubError(f"{what}: {error}{after}; local files are untouched")


def refusal(status: int, e: Exception) -> str:
    from huggingface_hub.errors import RepositoryNotFoundError

    reasons = {
        401: "the token was refused (check HF_TOKEN)",
        403: "the token may not write to this repo (it needs write access)",
    }
    if isinstance(e, RepositoryNotFoundError):
        return "the repo does not exist or the token cannot see it"
    return reasons.get(status, f"HTTP {status}: {str(e).splitlines()[0]}")


def upload_paths(run_dir: Path, resume: bool) -> list[str]:
    """The run folder's files, relative to it: everything but what only a resume needs (the
    resume checkpoints with optimizer and replay state, Tune's state), unless `resume`."""
    files = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())
    keep = [f for f in files if not Path(f).name.startswith(".")]
    if resume:
        return keep
    return [f for f in keep if not any(fnmatch.fnmatch(f, pat) for pat in RESUME_ONLY)]


def add_op(add: type, base: str, run_dir: Path, name: str):
    """The commit operation for one file, or None when it went between listing and reading (a
    running lab replaces and deletes files while the remote job pushes)."""
    try:
        return add(f"{base}/{name}", str(run_dir / name))
    except ValueError:
        if (run_dir / name).exists():
            raise
        return None


def check_push(repo: str | None) -> tuple[str, str]:
    """The repo and token a push needs, or the error that says how to set them."""
    return repo_id(repo), token()


def ensure_repo(repo: str, key: str):
    """The client, once the dataset repo exists (created if missing)."""
    hub = api()
    retried(
        f"creating {repo}",
        lambda: hub.create_repo(repo, repo_type="dataset", exist_ok=True, token=key),
        RETRIES,
    )
    return hub


def push(
    run_dir: Path, repo: str | None, readme: Callable[[Path], str], resume: bool = False
) -> list[str]:
    """Upload run_dir to the repo under data/<folder> in one commit (created if missing), with
    `readme(run_dir)` as its README.md (the caller's card); returns the paths written."""
    repo, key = check_push(repo)
    if not run_dir.is_dir():
        raise UsageError(f"run folder {run_dir} does not exist", "RUN_DIR")
    from huggingface_hub import CommitOperationAdd

    base = f"{PREFIX}/{run_dir.name}"
    files = upload_paths(run_dir, resume)
    ops = [op for f in files if (op := add_op(CommitOperationAdd, base, run_dir, f))]
    ops.append(CommitOperationAdd(f"{base}/README.md", readme(run_dir).encode()))
    hub = ensure_repo(repo, key)
    retried(
        f"pushing {run_dir.name} to {repo}",
        lambda: hub.create_commit(
            repo,
            ops,
            commit_message=f"slm-lab push {run_dir.name}",
            repo_type="dataset",
            token=key,
        ),
    )
    logger.info(f"pushed {len(ops)} files of {run_dir} to {repo}/{base}")
    return [op.path_in_repo for op in ops]


def remote_runs(repo: str | None, pattern: str | None = None) -> dict[str, int]:
    """Run folders in the repo (matching pattern) -> how many files each holds."""
    repo = repo_id(repo)
    hub = api()
    files = retried(f"listing {repo}", lambda: hub.list_repo_files(repo, repo_type="dataset"))
    counts: dict[str, int] = {}
    for path in files:
        head, _, rest = path.partition(f"{PREFIX}/")
        folder, _, file = rest.partition("/")
        if not head and folder and file:
            counts[folder] = counts.get(folder, 0) + 1
    chosen = select(sorted(counts), pattern)
    return {f: counts[f] for f in chosen}


def select(folders: list[str], pattern: str | None) -> list[str]:
    """The folders `matches` picks; when it picks none, the original lab's substring match
    (`pull ppo_cartpole_2026`, `pull data/ppo`)."""
    pattern = pattern.removeprefix(f"{PREFIX}/") if pattern else pattern
    picked = [f for f in folders if matches(f, pattern)]
    return picked or [f for f in folders if pattern and pattern in f]


def matches(folder: str, pattern: str | None) -> bool:
    """No pattern: all; a glob: fnmatch on the folder name; else a spec name (its runs) or a
    folder name."""
    if not pattern:
        return True
    if any(c in pattern for c in GLOB_CHARS):
        return fnmatch.fnmatch(folder, pattern)
    return folder == pattern or is_run(folder, pattern)


def pull(pattern: str, repo: str | None, data_root: Path, list_only: bool = False) -> list[str]:
    """Download the repo's run folders that match and are not in data_root; returns them."""
    repo = repo_id(repo)
    found = remote_runs(repo, pattern)
    todo = [f for f in found if not (data_root / f).exists()]
    for folder in found:
        if folder not in todo:
            logger.info(f"{folder}: already in {data_root}, skipped")
    if list_only or not todo:
        return todo
    data_root.mkdir(parents=True, exist_ok=True)
    staging = data_root / f".pull-{os.getpid()}"
    try:
        download(repo, todo, staging)
        for folder in todo:
            (staging / PREFIX / folder).rename(data_root / folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info(f"pulled {len(todo)} run folder(s) from {repo} into {data_root}")
    return todo


def download(repo: str, folders: list[str], staging: Path) -> None:
    fetch(repo, [f"{PREFIX}/{f}/*" for f in folders], staging)


def fetch(repo: str, patterns: list[str], staging: Path) -> None:
    """Download into staging (a full disk: DiskFull; the caller removes the staging folder)."""
    from huggingface_hub import snapshot_download

    with space_checked(staging):
        retried(
            f"pulling from {repo}",
            lambda: snapshot_download(
                repo,
                repo_type="dataset",
                allow_patterns=patterns,
                local_dir=staging,
                endpoint=endpoint(),
            ),
        )


def remote_key(path: Path) -> str | None:
    """The dstack run a run folder's remote.json names (None when unreadable)."""
    try:
        return json.loads(path.read_text()).get("dstack_run")
    except (OSError, ValueError, AttributeError):
        return None


def pull_remote(key: str, marker: str, data_root: Path) -> Path | None:
    """The run folder of remote job `key` (its `marker` file names the job), pulled from the
    repo into data_root with its resume state, unless it is there already; None when the repo
    holds none (the job's first start). Creates the repo if missing."""
    repo, secret = check_push(None)
    hub = ensure_repo(repo, secret)
    files = retried(f"listing {repo}", lambda: hub.list_repo_files(repo, repo_type="dataset"))
    markers = [f for f in files if f.startswith(f"{PREFIX}/") and f.endswith(f"/{marker}")]
    if not markers:
        return None
    staging = data_root / f".pull-{os.getpid()}"
    try:
        fetch(repo, markers, staging)
        owned = [m for m in markers if remote_key(staging / m) == key]
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not owned:
        return None
    folder = owned[0].split("/")[1]
    if not (data_root / folder).exists():
        pull(folder, repo, data_root)
    return data_root / folder
