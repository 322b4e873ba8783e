"""`slm-lab run` (train, dev, search, enjoy, and the resumes train@, search@) and `slm-lab search`.
The training stack (torch, gymnasium, Ray) is imported only once a spec is checked."""

import importlib
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from slm_lab import ROOT
from slm_lab.cli.app import DATA_DIR, SETS_HELP, app, fail
from slm_lab.experiment.context import RunFlags
from slm_lab.lib import hf
from slm_lab.lib import logger as lab_logger
from slm_lab.lib.errors import DiskFull, LabError, SessionsFailed, UsageError
from slm_lab.lib.logger import logger
from slm_lab.lib.run_paths import find_run
from slm_lab.spec import load_spec
from slm_lab.spec.names import MODES

DEMO_FILE = ROOT / "spec" / "demo.json"
DEMO_NAME = "ppo_cartpole_demo"
RUNNABLE_MODES = (
    "dev",
    "train",
    "search",
    "train@DIR",
    "train@latest",
    "search@DIR",
    "search@latest",
    "enjoy@DIR",
    "enjoy@latest",
)
DEFAULT_MODE = "dev"  # as the original lab: `train` runs every session, `dev` one with checks
NO_MODE_NOTE = ", no mode given: one session with dev checks; add `train` for every session"
PROF_SKIP, PROF_ACTIVE = 500, 20  # --profile: the original's window, in loop steps
DEFAULT_KEEP = 3  # search: trials keeping their model files, as the original lab
KEEP_ALL = -1
KEEP_HELP = (
    "search: model files of the best N trials only (default 3, or KEEP_TRIALS); -1 keeps all."
)
ENJOY_EPISODES = 4
SAVED_SPEC = "_spec.json"  # enjoy@ a run's saved spec file means its run folder
EXIT_INTERRUPT = 130
EXIT_FAULT = 1  # a full disk, or sessions that crashed or were killed


def check_mode(mode: str) -> str:
    base = mode.split("@", 1)[0]
    if base not in MODES:
        raise UsageError(f"unknown mode {mode!r}", "MODE", MODES)
    if base == "enjoy" and "@" not in mode:
        raise UsageError("enjoy replays a trained run: give it as enjoy@data/<run> or enjoy@latest")
    if base not in ("enjoy", "train", "search") and "@" in mode:
        raise UsageError(f"{base} cannot resume a run", "MODE", RUNNABLE_MODES)
    return base


def check_level(level: str) -> str:
    if level.upper() not in lab_logger.LEVELS:
        raise UsageError(f"unknown log level {level!r}", "--log-level", lab_logger.LEVELS)
    return level.upper()


@app.command()
def run(
    spec_file: Annotated[str | None, typer.Argument(help="Spec file (JSON/YAML).")] = None,
    spec_name: Annotated[str | None, typer.Argument(help="Spec name inside the file.")] = None,
    mode: Annotated[
        str | None, typer.Argument(help=f"One of {', '.join(RUNNABLE_MODES)} (default: dev).")
    ] = None,
    sets: Annotated[list[str] | None, typer.Option("--set", "-s", help=SETS_HELP)] = None,
    render: Annotated[
        bool, typer.Option("--render", envvar="RENDER", help="Show env 0 on screen.")
    ] = False,
    video: Annotated[bool, typer.Option("--video", help="enjoy: record an mp4.")] = False,
    episodes: Annotated[
        int, typer.Option("--episodes", min=1, help="enjoy: episodes to play.")
    ] = ENJOY_EPISODES,
    log_level: Annotated[
        str, typer.Option("--log-level", envvar="LOG_LEVEL", help="DEBUG, INFO, WARNING...")
    ] = "INFO",
    strict: Annotated[bool, typer.Option("--strict", help="Unknown keys are errors.")] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="train@, search@: resume even if the spec has changed."),
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            envvar="RAY_ADDRESS",
            help="search: join this Ray cluster (default: a local Ray started for the search).",
        ),
    ] = None,
    keep: Annotated[int | None, typer.Option("--keep", help=KEEP_HELP)] = None,
    upload_hf: Annotated[
        bool,
        typer.Option(
            "--upload-hf",
            envvar="UPLOAD_HF",
            help="At the end, push the run folder to the dataset repo HF_REPO.",
        ),
    ] = False,
    optimize_perf: Annotated[
        bool,
        typer.Option(
            "--optimize-perf/--no-optimize-perf",
            envvar="OPTIMIZE_PERF",
            help="TF32 and cudnn.benchmark on CUDA, torch threads sized to the net on the CPU.",
        ),
    ] = True,
    cuda_offset: Annotated[
        int,
        typer.Option(
            "--cuda-offset", envvar="CUDA_OFFSET", help="First GPU of the sessions' round-robin."
        ),
    ] = 0,
    profile: Annotated[
        bool,
        typer.Option(
            "--profile",
            envvar="PROFILE",
            help="Torch profiler traces (PROF_SKIP, PROF_ACTIVE steps) and a time summary.",
        ),
    ] = False,
    log_extra: Annotated[
        bool,
        typer.Option(
            "--log-extra", envvar="LOG_EXTRA", help="The session's metrics at every log row."
        ),
    ] = False,
    stop_ray: Annotated[
        bool, typer.Option("--stop-ray", help="Stop this machine's Ray processes, then exit.")
    ] = False,
) -> None:
    """Train the agent a spec describes. With no arguments: the PPO CartPole demo in dev mode."""
    if stop_ray:
        raise typer.Exit(stop_ray_processes())
    if spec_file is None:
        spec_file, spec_name, mode = str(DEMO_FILE), DEMO_NAME, "dev"
    try:
        flags = RunFlags(optimize_perf, cuda_offset, profile, log_extra, *profile_window())
        level = check_level(log_level)
        lab_logger.setup(level)
        if spec_name is None:
            raise UsageError(
                "give the spec name after the spec file: slm-lab run SPEC_FILE SPEC_NAME MODE"
            )
        note = NO_MODE_NOTE if mode is None else ""
        mode = mode or DEFAULT_MODE
        base_mode = check_mode(mode)
        if keep is not None and base_mode != "search":
            raise UsageError("--keep applies to search mode only", "--keep")
        if base_mode == "search" and (profile or log_extra or cuda_offset):
            logger.warning("--profile, --log-extra and --cuda-offset apply to train and dev runs")
        if upload_hf:
            hf.check_push(None)  # before training, not after it
        if base_mode == "enjoy":
            run_enjoy(mode.split("@", 1)[1], episodes, render, video)
            return
        loaded = load_spec(spec_file, spec_name, sets, strict=strict)
        for warning in loaded.warnings:
            logger.warning(f"{loaded.file} [{spec_name}] {warning}")
        options = Options(render, level, force, ray_address, kept(keep), flags, note)
        try:
            run_dir = start(loaded.spec, loaded.file, mode, options)
        except LabError as e:
            raise e.locate(str(loaded.file), spec_name) from None
        if upload_hf:
            from slm_lab.experiment.compare import card

            hf.push(run_dir, None, card)
    except LabError as e:
        raise fail(str(e)) from None
    except (KeyboardInterrupt, DiskFull, SessionsFailed) as e:
        resume = resume_command(e, spec_file, spec_name, sets, ray_address)
        raise fail(stopped(e, resume), stop_code(e)) from None
    except hf.HubError as e:
        raise fail(str(e), 1) from None


@dataclass(frozen=True)
class Options:
    """What `start` needs from the command line besides the spec and the mode."""

    render: bool
    level: str
    force: bool
    ray_address: str | None
    keep: int | None  # search: trials keeping their model files (None: all)
    flags: RunFlags
    mode_note: str = ""  # after the mode in the run's first log line


def kept(keep: int | None) -> int | None:
    """--keep, else KEEP_TRIALS, else the original's 3; -1 keeps every trial (None)."""
    if keep is None:
        raw = os.environ.get("KEEP_TRIALS", str(DEFAULT_KEEP))
        try:
            keep = int(raw)
        except ValueError:
            raise UsageError(f"KEEP_TRIALS={raw!r} is not a whole number", "--keep") from None
    if keep == KEEP_ALL:
        return None
    if keep < 1:
        raise UsageError(f"{keep} trials: keep at least 1, or -1 for every trial", "--keep")
    return keep


def profile_window() -> tuple[int, int]:
    """PROF_SKIP and PROF_ACTIVE, the torch profiler's window in loop steps, as the original."""
    window = []
    for name, default in (("PROF_SKIP", PROF_SKIP), ("PROF_ACTIVE", PROF_ACTIVE)):
        raw = os.environ.get(name) or str(default)
        if not raw.isdigit() or (name == "PROF_ACTIVE" and int(raw) == 0):
            raise UsageError(f"{name}={raw!r} is not a count of loop steps", "--profile")
        window.append(int(raw))
    return window[0], window[1]


def stop_ray_processes() -> int:
    """`ray stop --force` for this environment's Ray (the original also killed every process
    named slm-lab: not here, that would stop other people's runs); returns its exit code."""
    beside = Path(sys.executable).parent / "ray"
    ray = shutil.which("ray") or (str(beside) if beside.exists() else None)
    if ray is None:
        raise fail("--stop-ray needs Ray, which the minimal install leaves out: run `uv sync`")
    code = subprocess.run([ray, "stop", "--force"], check=False).returncode
    typer.echo("stopped this machine's Ray processes" if code == 0 else f"ray stop: exit {code}")
    return code


def start(spec: dict, spec_file: Path, mode: str, options: Options) -> Path:
    """Start or resume the run MODE names; returns its folder."""
    o = options
    base_mode = mode.split("@", 1)[0]
    if "@" in mode:
        run_dir = find_run(mode.split("@", 1)[1], DATA_DIR, "resume", spec["name"])
        if base_mode == "search":
            search = import_lab("search")
            run_dir, metrics = search.resume(spec, run_dir, o.level, o.ray_address, o.keep, o.force)
        else:
            run_dir, metrics = import_lab("run").resume(spec, run_dir, o.level, o.force, o.flags)
    elif base_mode == "search":
        search = import_lab("search")
        run_dir, metrics = search.search(spec, spec_file, o.level, DATA_DIR, o.ray_address, o.keep)
    else:
        run = import_lab("run")
        run_dir, metrics = run.start(
            spec, spec_file, base_mode, o.render, o.level, DATA_DIR, o.flags, o.mode_note
        )
    logger.debug(f"trial metrics: {metrics}")
    return run_dir


def stop_code(e: BaseException) -> int:
    """128 + the signal for a stop request; 1 for a full disk or failed sessions."""
    if not isinstance(e, KeyboardInterrupt):
        return EXIT_FAULT
    return getattr(e, "exit_code", EXIT_INTERRUPT)


def resume_command(
    e: BaseException, spec_file: str, spec_name: str, sets: list[str] | None, address: str | None
) -> str | None:
    """The command that resumes the run e stopped (None before its folder existed): the same
    spec, mode@DIR, and for a search the same Ray cluster."""
    run_dir = getattr(e, "run_dir", None)
    if run_dir is None:
        return None
    options = "".join(f" -s {shlex.quote(s)}" for s in sets or [])
    mode = getattr(e, "mode", "train")
    cluster = f" --ray-address {shlex.quote(address)}" if address and mode == "search" else ""
    return f"slm-lab run{options} {shlex.quote(spec_file)} {spec_name} {mode}@{run_dir}{cluster}"


def stopped(e: BaseException, resume: str | None) -> str:
    """The one line: what stopped the run, and the command that resumes it."""
    if isinstance(e, KeyboardInterrupt):
        what = f"interrupted by {getattr(e, 'name', 'SIGINT')}"
        return f"{what}; checkpoints saved; resume with: {resume}" if resume else what
    if resume is None:
        return str(e)
    then = "free space, then resume" if isinstance(e, DiskFull) else "resume"
    return f"{e}; {then} with: {resume}"


def run_enjoy(target: str, episodes: int, render: bool, video: bool) -> None:
    """Replay the run's trained agent (its saved spec, not the spec file, says what it is).
    The original lab's `enjoy@data/<run>/<name>_t0_spec.json` names the run by a spec file."""
    if target.endswith(SAVED_SPEC) and Path(target).is_file():
        target = str(Path(target).parent)
    enjoy = import_lab("enjoy")
    enjoy.enjoy(find_run(target, DATA_DIR, "enjoy"), DATA_DIR, episodes, render, video)


def import_lab(module: str):
    """A module of the training stack (torch, gymnasium, Ray), which the minimal install leaves
    out: a missing package is a clear error, not a traceback."""
    try:
        return importlib.import_module(f"slm_lab.experiment.{module}")
    except ImportError as e:
        if (e.name or "").startswith("slm_lab"):
            raise  # our own import error: a bug, not a missing install
        raise UsageError(
            f"training needs the ml dependencies ({e.name} is missing): run `uv sync`"
        ) from e


@app.command("search")
def search_command(
    spec_file: Annotated[str, typer.Argument(help="Spec file (JSON/YAML) with a search block.")],
    spec_name: Annotated[str, typer.Argument(help="Spec name inside the file.")],
    sets: Annotated[list[str] | None, typer.Option("--set", "-s", help=SETS_HELP)] = None,
    log_level: Annotated[
        str, typer.Option("--log-level", envvar="LOG_LEVEL", help="DEBUG, INFO, WARNING...")
    ] = "INFO",
    strict: Annotated[bool, typer.Option("--strict", help="Unknown keys are errors.")] = False,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", envvar="RAY_ADDRESS", help="Join this Ray cluster."),
    ] = None,
    keep: Annotated[int | None, typer.Option("--keep", help=KEEP_HELP)] = None,
    upload_hf: Annotated[
        bool,
        typer.Option("--upload-hf", envvar="UPLOAD_HF", help="At the end, push to HF_REPO."),
    ] = False,
) -> None:
    """Hyperparameter search: the same as `slm-lab run SPEC_FILE SPEC_NAME search`."""
    run(
        spec_file,
        spec_name,
        "search",
        sets=sets,
        log_level=log_level,
        strict=strict,
        ray_address=ray_address,
        keep=keep,
        upload_hf=upload_hf,
    )
