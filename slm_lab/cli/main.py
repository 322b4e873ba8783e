"""The `slm-lab` command. Heavy imports (torch, gymnasium) happen inside commands that need them."""

import importlib
import os
import shlex
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from slm_lab import ROOT, __version__
from slm_lab.experiment import SessionsFailed
from slm_lab.lib import hf
from slm_lab.lib import logger as lab_logger
from slm_lab.lib.logger import logger
from slm_lab.lib.redact import redact
from slm_lab.lib.util import find_run, load_env_file
from slm_lab.spec import SpecError, load_spec
from slm_lab.spec.names import MODES

DEMO_FILE = ROOT / "spec" / "demo.json"
DEMO_NAME = "ppo_cartpole_demo"
DATA_DIR = Path("data")
PLOT_DIR = DATA_DIR / "plots"
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
ENJOY_EPISODES = 4
EXIT_SPEC = 2
EXIT_INTERRUPT = 130
VALUE_OPTIONS = ("-s", "--set", "--log-level", "--ray-address", "--keep", "--repo", "-n", "--name")
HELP_FLAGS = ("--help", "-h", "--version", "--install-completion", "--show-completion")

app = typer.Typer(
    name="slm-lab",
    help="SLM Lab: modular deep reinforcement learning. `slm-lab run` starts the PPO CartPole demo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def fail(message: str, code: int = EXIT_SPEC) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def check_mode(mode: str) -> str:
    base = mode.split("@", 1)[0]
    if base not in MODES:
        raise SpecError(f"unknown mode {mode!r}", "MODE", MODES)
    if base == "enjoy" and "@" not in mode:
        raise SpecError("enjoy replays a trained run: give it as enjoy@data/<run> or enjoy@latest")
    if base not in ("enjoy", "train", "search") and "@" in mode:
        raise SpecError(f"{base} cannot resume a run", "MODE", RUNNABLE_MODES)
    return base


def check_level(level: str) -> str:
    if level.upper() not in lab_logger.LEVELS:
        raise SpecError(f"unknown log level {level!r}", "--log-level", lab_logger.LEVELS)
    return level.upper()


@app.command()
def run(
    spec_file: Annotated[str | None, typer.Argument(help="Spec file (JSON/YAML).")] = None,
    spec_name: Annotated[str | None, typer.Argument(help="Spec name inside the file.")] = None,
    mode: Annotated[str, typer.Argument(help=f"One of {', '.join(RUNNABLE_MODES)}.")] = "train",
    sets: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="Substitute ${key} in the file: key=value."),
    ] = None,
    render: Annotated[bool, typer.Option("--render", help="Show env 0 on screen.")] = False,
    video: Annotated[bool, typer.Option("--video", help="enjoy: record an mp4.")] = False,
    episodes: Annotated[
        int, typer.Option("--episodes", min=1, help="enjoy: episodes to play.")
    ] = ENJOY_EPISODES,
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING...")] = "INFO",
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
    keep: Annotated[
        int | None,
        typer.Option("--keep", min=1, help="search: model files of the best N trials only."),
    ] = None,
    upload_hf: Annotated[
        bool,
        typer.Option(
            "--upload-hf",
            envvar="UPLOAD_HF",
            help="At the end, push the run folder to the dataset repo HF_REPO.",
        ),
    ] = False,
) -> None:
    """Train the agent a spec describes. With no arguments: the PPO CartPole demo in dev mode."""
    if spec_file is None:
        spec_file, spec_name, mode = str(DEMO_FILE), DEMO_NAME, "dev"
    try:
        level = check_level(log_level)
        lab_logger.setup(level)
        if spec_name is None:
            raise SpecError(
                "give the spec name after the spec file: slm-lab run SPEC_FILE SPEC_NAME MODE"
            )
        base_mode = check_mode(mode)
        if keep is not None and base_mode != "search":
            raise SpecError("--keep applies to search mode only", "--keep")
        if upload_hf:
            hf.check_push(None)  # before training, not after it
        if base_mode == "enjoy":
            run_enjoy(mode.split("@", 1)[1], episodes, render, video)
            return
        loaded = load_spec(spec_file, spec_name, sets, strict=strict)
        for warning in loaded.warnings:
            logger.warning(f"{loaded.file} [{spec_name}] {warning}")
        control = import_control()
        try:
            if "@" in mode:
                target = mode.split("@", 1)[1]
                run_dir = find_run(target, DATA_DIR, "resume", loaded.spec["name"])
                if base_mode == "search":
                    run_dir, metrics = import_search().resume(
                        loaded.spec, run_dir, level, ray_address, keep, force
                    )
                else:
                    run_dir, metrics = control.resume(loaded.spec, run_dir, level, force)
            elif base_mode == "search":
                run_dir, metrics = import_search().search(
                    loaded.spec, loaded.file, level, DATA_DIR, ray_address, keep
                )
            else:
                run_dir, metrics = control.start(
                    loaded.spec, loaded.file, base_mode, render, level, DATA_DIR
                )
        except SpecError as e:
            raise e.locate(str(loaded.file), spec_name) from None
        logger.debug(f"trial metrics: {metrics}")
        if upload_hf:
            hf.push(run_dir, None)
    except SpecError as e:
        raise fail(str(e)) from None
    except KeyboardInterrupt as e:
        raise fail(interrupted(e, spec_file, spec_name, sets), stop_code(e)) from None
    except SessionsFailed as e:
        raise fail(str(e), 1) from None
    except hf.HubError as e:
        raise fail(str(e), 1) from None


def stop_code(e: KeyboardInterrupt) -> int:
    return getattr(e, "exit_code", EXIT_INTERRUPT)


def interrupted(
    e: KeyboardInterrupt, spec_file: str, spec_name: str, sets: list[str] | None
) -> str:
    """What was stopped, and the command that resumes it."""
    run_dir = getattr(e, "run_dir", None)
    signame = getattr(e, "name", "SIGINT")
    if run_dir is None:
        return f"interrupted by {signame}"
    options = "".join(f" -s {shlex.quote(s)}" for s in sets or [])
    mode = getattr(e, "mode", "train")
    command = f"slm-lab run{options} {shlex.quote(spec_file)} {spec_name} {mode}@{run_dir}"
    return f"interrupted by {signame}; checkpoints saved; resume with: {command}"


def run_enjoy(target: str, episodes: int, render: bool, video: bool) -> None:
    """Replay the run's trained agent (its saved spec, not the spec file, says what it is)."""
    import_control()
    from slm_lab.experiment import enjoy

    enjoy.enjoy(find_run(target, DATA_DIR, "enjoy"), DATA_DIR, episodes, render, video)


def import_control():
    return import_lab("control")


def import_search():
    return import_lab("search")


def import_lab(module: str):
    """A module of the training stack (torch, gymnasium, Ray), which the minimal install leaves
    out: a missing package is a clear error, not a traceback."""
    try:
        return importlib.import_module(f"slm_lab.experiment.{module}")
    except ImportError as e:
        if (e.name or "").startswith("slm_lab"):
            raise  # our own import error: a bug, not a missing install
        raise SpecError(
            f"training needs the ml dependencies ({e.name} is missing): run `uv sync`"
        ) from e


@app.command("search")
def search_command(
    spec_file: Annotated[str, typer.Argument(help="Spec file (JSON/YAML) with a search block.")],
    spec_name: Annotated[str, typer.Argument(help="Spec name inside the file.")],
    sets: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="Substitute ${key} in the file: key=value."),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING...")] = "INFO",
    strict: Annotated[bool, typer.Option("--strict", help="Unknown keys are errors.")] = False,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", envvar="RAY_ADDRESS", help="Join this Ray cluster."),
    ] = None,
    keep: Annotated[
        int | None, typer.Option("--keep", min=1, help="Model files of the best N trials only.")
    ] = None,
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


@app.command()
def analyze(
    run_dir: Annotated[Path, typer.Argument(help="A run folder, e.g. data/ppo_cartpole_<time>.")],
) -> None:
    """Rebuild a run's metrics and graphs from its files (finished or interrupted runs)."""
    from slm_lab.experiment import analysis

    lab_logger.setup()
    try:
        results = analysis.analyze(run_dir)
    except SpecError as e:
        raise fail(str(e)) from None
    typer.echo(f"{len(results)} trial(s) analyzed; graphs in {run_dir / 'graph'}")


@app.command()
def plot(
    folders: Annotated[
        str, typer.Option("--folders", "-f", help="Run folders, comma-separated: A,B,...")
    ],
    title: Annotated[str | None, typer.Option("--title", "-t", help="Graph title.")] = None,
    legends: Annotated[
        str | None, typer.Option("--legends", "-l", help="One legend per folder, comma-separated.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = PLOT_DIR,
) -> None:
    """Several runs' scores on one graph (mean ± std over sessions, one color per algorithm)."""
    from slm_lab.experiment import analysis

    lab_logger.setup()
    dirs = [Path(f) for f in split(folders)]
    try:
        html = analysis.plot(dirs, title, split(legends) if legends else None, out)
    except SpecError as e:
        raise fail(str(e)) from None
    png = html.with_suffix(".png")
    typer.echo(f"wrote {html}" + (f" and {png}" if png.exists() else ""))


@app.command("plot-list")
def plot_list(
    root: Annotated[Path, typer.Argument(help="Folder holding the runs.")] = DATA_DIR,
) -> None:
    """The local runs, and whether they finished."""
    from slm_lab.experiment import analysis

    lab_logger.setup()
    runs = analysis.list_runs(root)
    if not runs:
        typer.echo(f"no runs in {root}")
        return
    typer.echo(format_runs(runs))


REPO_HELP = "Dataset repo owner/name (default: HF_REPO)."


@app.command("run-remote")
def run_remote(
    spec_file: Annotated[str, typer.Argument(help="Spec file inside this repository.")],
    spec_name: Annotated[str, typer.Argument(help="Spec name inside the file.")],
    mode: Annotated[str, typer.Argument(help="train or search.")] = "train",
    sets: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="Substitute ${key} in the file: key=value."),
    ] = None,
    gpu: Annotated[bool, typer.Option("--gpu", help="A GPU machine (default: CPU).")] = False,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="dstack run name (default: from the spec).")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Unknown keys are errors.")] = False,
) -> None:
    """Train or search on a cloud machine through dstack; the run folder comes back to HF_REPO
    (`slm-lab pull SPEC_NAME`). The spec is checked here first."""
    from slm_lab.cli import remote
    from slm_lab.spec import space

    lab_logger.setup()
    try:
        loaded = load_spec(spec_file, spec_name, sets, strict=strict)
        for warning in loaded.warnings:
            logger.warning(f"{loaded.file} [{spec_name}] {warning}")
        if mode == "search":
            try:
                space.samplers(loaded.spec)
            except SpecError as e:
                raise e.locate(str(loaded.file), spec_name) from None
        argv, _ = remote.submit(loaded.file, spec_name, mode, sets or [], gpu, name)
    except SpecError as e:
        raise fail(str(e)) from None
    except remote.RemoteError as e:
        raise fail(str(e), 1) from None
    run = argv[argv.index("-n") + 1]
    typer.echo(
        f"submitted {run}: `dstack logs {run}` follows it; when it ends, "
        f"`slm-lab pull {loaded.name}` brings its run folder here"
    )


@app.command("remote-job", hidden=True)
def remote_job() -> None:
    """On the remote machine (the .dstack task files run it): the lab with periodic uploads."""
    from slm_lab.cli import remote

    lab_logger.setup()
    every = float(os.environ.get("UPLOAD_EVERY_S", remote.UPLOAD_EVERY_S))
    try:
        code = remote.job(DATA_DIR, dict(os.environ), every)
    except SpecError as e:
        raise fail(str(e)) from None
    except hf.HubError as e:
        raise fail(str(e), 1) from None
    raise typer.Exit(code)


@app.command()
def push(
    run_dir: Annotated[Path, typer.Argument(help="A run folder, e.g. data/ppo_cartpole_<time>.")],
    repo: Annotated[str | None, typer.Option("--repo", help=REPO_HELP)] = None,
    with_resume: Annotated[
        bool,
        typer.Option(
            "--with-resume", help="Also the resume checkpoints and Tune state (resume elsewhere)."
        ),
    ] = False,
) -> None:
    """Upload a run folder to a HuggingFace dataset repo, under data/<folder>, with a README."""
    lab_logger.setup()
    try:
        paths = hf.push(run_dir, repo, with_resume)
    except SpecError as e:
        raise fail(str(e)) from None
    except hf.HubError as e:
        raise fail(str(e), 1) from None
    typer.echo(f"pushed {len(paths)} files to {hf.repo_id(repo)}: data/{run_dir.name}")


@app.command()
def pull(
    pattern: Annotated[
        str, typer.Argument(help="A spec name (its runs), a run folder name, or a glob.")
    ],
    repo: Annotated[str | None, typer.Option("--repo", help=REPO_HELP)] = None,
    list_only: Annotated[
        bool, typer.Option("--list", help="Only show what would be pulled.")
    ] = False,
) -> None:
    """Download run folders from the dataset repo into data/ (folders already there are kept)."""
    lab_logger.setup()
    try:
        folders = hf.pull(pattern, repo, DATA_DIR, list_only)
    except SpecError as e:
        raise fail(str(e)) from None
    except hf.HubError as e:
        raise fail(str(e), 1) from None
    verb = "would pull" if list_only else "pulled"
    lines = [f"{verb} {DATA_DIR / f}" for f in folders] or [f"nothing new matches {pattern!r}"]
    typer.echo("\n".join(lines))


@app.command("list")
def list_remote(
    pattern: Annotated[
        str | None, typer.Argument(help="A spec name, a run folder name, or a glob.")
    ] = None,
    repo: Annotated[str | None, typer.Option("--repo", help=REPO_HELP)] = None,
) -> None:
    """The run folders in the dataset repo, with their file counts."""
    lab_logger.setup()
    try:
        runs = hf.remote_runs(repo, pattern)
    except SpecError as e:
        raise fail(str(e)) from None
    except hf.HubError as e:
        raise fail(str(e), 1) from None
    if not runs:
        typer.echo(
            f"no run folders in {hf.repo_id(repo)}" + (f" match {pattern!r}" if pattern else "")
        )
        return
    width = max(len(f) for f in runs)
    typer.echo("\n".join(f"{f.ljust(width)}  {n} files" for f, n in runs.items()))


def split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def format_runs(runs: list[dict]) -> str:
    """An aligned table: run, trials, sessions done, frames, total_reward_ma, status."""
    rows = [{**r, "total_reward_ma": f"{r['total_reward_ma']:.2f}"} for r in runs]
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    lines = ["  ".join(k.ljust(widths[k]) for k in keys)]
    lines += ["  ".join(str(r[k]).ljust(widths[k]) for k in keys) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"slm-lab {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool | None, typer.Option("--version", callback=version_callback, is_eager=True)
    ] = None,
) -> None:
    """SLM Lab: modular deep reinforcement learning in PyTorch."""


def normalize_argv(argv: list[str]) -> list[str]:
    """Accept the forms users type: `slm-lab SPEC NAME MODE` (no `run`) and options before the
    command (`slm-lab --render run ...`); they become `run [options] SPEC NAME MODE`."""
    if not argv or argv[0] in HELP_FLAGS:
        return argv
    lead, i = [], 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] not in HELP_FLAGS:
        takes_value = argv[i] in VALUE_OPTIONS and i + 1 < len(argv)
        lead += argv[i : i + 1 + takes_value]
        i += 1 + takes_value
    rest = argv[i:]
    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    if rest and rest[0] in commands:
        return [rest[0], *lead, *rest[1:]]
    return ["run", *lead, *rest]


def entry() -> None:
    load_env_file(Path(".env"))  # HF_REPO, HF_TOKEN... for users who did not `source .env`
    try:
        app(args=normalize_argv(sys.argv[1:]), prog_name="slm-lab")
    except Exception:  # a bug: its traceback, secrets redacted, and exit code 1
        sys.stderr.write(redact(traceback.format_exc()))
        sys.exit(1)
