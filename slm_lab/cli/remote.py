"""Runs on cloud machines through dstack, torch-free on this side.

`run-remote` checks the spec here, then submits `.dstack/run-{cpu,gpu}-{train,search}.yml` with
`dstack apply`, passing the spec and the HuggingFace settings as environment variables. On the
remote machine the task runs `slm-lab remote-job`: the lab as a child process, its run folder
pushed to HF_REPO with its resume state every UPLOAD_EVERY_S seconds and at the end. A spot
machine taken away and retried by dstack starts `remote-job` again in an empty folder: it pulls
the run its remote name (DSTACK_RUN_NAME) recorded and resumes it.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from loguru import logger

from slm_lab import ROOT
from slm_lab.cli.app import DATA_DIR, SETS_HELP, app, fail
from slm_lab.experiment.compare import card
from slm_lab.lib import hf
from slm_lab.lib import logger as lab_logger
from slm_lab.lib.errors import DiskFull, LabError, UsageError
from slm_lab.lib.util import write_json
from slm_lab.spec import load_spec
from slm_lab.spec.space import samplers

CONFIG_DIR = ROOT.parent / ".dstack"
REMOTE_FILE = "remote.json"  # in the run folder: the dstack run it belongs to
REMOTE_MODES = ("train", "search", "dev")  # dev runs on the train machine, as the original
PROF_DEFAULTS = {"PROF_SKIP": "500", "PROF_ACTIVE": "20"}  # --profile: the profiler's window
UPLOAD_EVERY_S = 900.0  # default period of the resume uploads of a remote run
POLL_S = 1.0
NAME_LEN = 40  # dstack run names: lowercase letters, digits and hyphens
JOB_KEYS = ("SPEC_FILE", "SPEC_NAME", "LAB_MODE", "SPEC_VARS")  # what the task runs
DSTACK_INSTALL = "uv tool install dstack"


class RemoteError(Exception):
    """dstack refused or failed the submission (its own output says why)."""


def config_file(gpu: bool, mode: str) -> Path:
    """The task file: the search machine for a search, the train machine otherwise."""
    kind = "search" if mode == "search" else "train"
    return CONFIG_DIR / f"run-{'gpu' if gpu else 'cpu'}-{kind}.yml"


def run_name(spec_name: str, mode: str) -> str:
    """A dstack run name from the spec name: lowercase, hyphens, at most NAME_LEN characters."""
    name = re.sub(r"[^a-z0-9-]+", "-", f"{spec_name}-{mode}".lower()).strip("-")
    return name[:NAME_LEN].rstrip("-")


def check_name(name: str) -> str:
    if not re.fullmatch(rf"[a-z][a-z0-9-]{{0,{NAME_LEN - 1}}}", name):
        raise UsageError(
            f"{name!r} is not a dstack run name: lowercase letters, digits and hyphens, "
            f"starting with a letter, at most {NAME_LEN}",
            "-n",
        )
    return name


def repo_path(spec_file: Path) -> str:
    """The spec file relative to the repository, which dstack sends to the remote machine."""
    root = ROOT.parent.resolve()
    try:
        return str(spec_file.resolve().relative_to(root))
    except ValueError:
        raise UsageError(
            f"{spec_file} is outside the repository {root}: the remote machine gets the "
            "repository only, so put the spec file inside it",
            "SPEC_FILE",
        ) from None


def dstack_command() -> str:
    found = shutil.which("dstack")
    if found is None:
        raise UsageError(
            f"run-remote needs the dstack CLI: install it with `{DSTACK_INSTALL}`, then add "
            "your project (`dstack project add ...`, see docs/USER_GUIDE.md)",
            "dstack",
        )
    return found


def submit(
    spec_file: Path,
    spec_name: str,
    mode: str,
    sets: list[str],
    gpu: bool,
    name: str | None,
    profile: bool = False,
) -> tuple[list[str], dict[str, str]]:
    """`dstack apply` of the task file for gpu and mode, detached; returns its argv and the
    variables passed. The spec is already validated."""
    if mode not in REMOTE_MODES:
        raise UsageError(f"run-remote runs train, search or dev, not {mode!r}", "MODE")
    repo, _ = hf.check_push(None)  # the remote run sends its results there
    name = check_name(name) if name else run_name(spec_name, mode)
    env = {
        "SPEC_FILE": repo_path(spec_file),
        "SPEC_NAME": spec_name,
        "LAB_MODE": mode,
        "SPEC_VARS": " ".join(shlex.quote(s) for s in sets),
        "HF_REPO": repo,
        "HF_TOKEN": hf.token(),
        "PROFILE": str(profile).lower(),
        **{k: os.environ.get(k, v) for k, v in PROF_DEFAULTS.items()},
    }
    config = config_file(gpu, mode)
    argv = [dstack_command(), "apply", "-f", str(config), "-n", name, "-y", "-d"]
    result = subprocess.run(argv, cwd=ROOT.parent, env={**os.environ, **env}, check=False)
    if result.returncode != 0:
        raise RemoteError(f"dstack apply failed (exit {result.returncode}): see its output above")
    return argv, env


# the remote side


def job_argv(env: dict[str, str], run_dir: Path | None) -> list[str]:
    """The lab command of a remote job: a new run, or the resume of run_dir."""
    mode = env.get("LAB_MODE", "train")
    sets = [arg for kv in shlex.split(env.get("SPEC_VARS", "")) for arg in ("-s", kv)]
    resumed = "train" if mode == "dev" else mode  # a dev run resumes as its one session
    target = f"{resumed}@{run_dir}" if run_dir else mode
    cli = str(Path(sys.executable).parent / "slm-lab")  # this environment's console script
    return [cli, "run", *sets, env["SPEC_FILE"], env["SPEC_NAME"], target]


def find_own_run(data_root: Path, key: str) -> Path | None:
    """The local run folder this remote job recorded itself in, if any."""
    for path in sorted(data_root.glob(f"*/{REMOTE_FILE}")):
        if hf.remote_key(path) == key:
            return path.parent
    return None


def mark(run_dir: Path, key: str, env: dict[str, str]) -> None:
    if not (run_dir / REMOTE_FILE).exists():
        write_json(
            run_dir / REMOTE_FILE, {"dstack_run": key, **{k: env.get(k, "") for k in JOB_KEYS}}
        )


def new_run(data_root: Path, before: set[Path]) -> Path | None:
    runs = [p for p in data_root.glob("*_*") if p.is_dir() and p not in before]
    return max(runs, key=lambda p: p.stat().st_mtime) if runs else None


def job(data_root: Path, env: dict[str, str], every_s: float) -> int:
    """The remote job: resume this dstack run's folder from HF_REPO if it has one, else start;
    push the folder with its resume state every `every_s` and when the lab exits (or is
    stopped: SIGTERM reaches the lab, which saves, then the last push goes). Returns the lab's
    exit code."""
    key = env.get("DSTACK_RUN_NAME") or "local"
    hf.check_push(None)
    # its folder on the Hub (pulled if missing here), else one a previous try left here
    run_dir = hf.pull_remote(key, REMOTE_FILE, data_root) or find_own_run(data_root, key)
    logger.info(f"remote job {key}: " + (f"resuming {run_dir}" if run_dir else "new run"))
    before = {p for p in data_root.glob("*_*") if p.is_dir()}
    lab = subprocess.Popen(job_argv(env, run_dir))

    def forward(signum: int, frame: object) -> None:  # the lab saves, then the last push goes
        lab.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    next_push = time.monotonic() + every_s
    try:
        while lab.poll() is None:
            time.sleep(POLL_S)
            run_dir = run_dir or new_run(data_root, before)
            if run_dir is not None and time.monotonic() >= next_push:
                upload(run_dir, key, env)
                next_push = time.monotonic() + every_s
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    run_dir = run_dir or new_run(data_root, before)
    if run_dir is not None:
        upload(run_dir, key, env)
    return lab.returncode


def upload(run_dir: Path, key: str, env: dict[str, str]) -> None:
    """A push with the resume state; a failed one is logged and tried again at the next."""
    mark(run_dir, key, env)
    try:
        hf.push(run_dir, None, card, resume=True)
    except hf.HubError as e:
        logger.warning(f"upload of {run_dir} failed, the next one will try again: {e}")


@app.command("run-remote")
def run_remote(
    spec_file: Annotated[str, typer.Argument(help="Spec file inside this repository.")],
    spec_name: Annotated[str, typer.Argument(help="Spec name inside the file.")],
    mode: Annotated[str, typer.Argument(help="train, search or dev.")] = "train",
    sets: Annotated[list[str] | None, typer.Option("--set", "-s", help=SETS_HELP)] = None,
    gpu: Annotated[bool, typer.Option("--gpu", help="A GPU machine (default: CPU).")] = False,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="dstack run name (default: from the spec).")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Unknown keys are errors.")] = False,
    profile: Annotated[
        bool,
        typer.Option("--profile", help="Profile the run (PROF_SKIP, PROF_ACTIVE: its window)."),
    ] = False,
) -> None:
    """Train or search on a cloud machine through dstack; the run folder comes back to HF_REPO
    (`slm-lab pull SPEC_NAME`). The spec is checked here first."""
    lab_logger.setup()
    try:
        loaded = load_spec(spec_file, spec_name, sets, strict=strict)
        for warning in loaded.warnings:
            logger.warning(f"{loaded.file} [{spec_name}] {warning}")
        if mode == "search":
            try:
                samplers(loaded.spec)
            except LabError as e:
                raise e.locate(str(loaded.file), spec_name) from None
        argv, _ = submit(loaded.file, spec_name, mode, sets or [], gpu, name, profile)
    except LabError as e:
        raise fail(str(e)) from None
    except RemoteError as e:
        raise fail(str(e), 1) from None
    run = argv[argv.index("-n") + 1]
    typer.echo(
        f"submitted {run}: `dstack logs {run}` follows it; when it ends, "
        f"`slm-lab pull {loaded.name}` brings its run folder here"
    )


@app.command("remote-job", hidden=True)
def remote_job() -> None:
    """On the remote machine (the .dstack task files run it): the lab with periodic uploads."""
    lab_logger.setup()
    every = float(os.environ.get("UPLOAD_EVERY_S", UPLOAD_EVERY_S))
    try:
        code = job(DATA_DIR, dict(os.environ), every)
    except LabError as e:
        raise fail(str(e)) from None
    except (hf.HubError, DiskFull) as e:
        raise fail(str(e), 1) from None
    raise typer.Exit(code)
