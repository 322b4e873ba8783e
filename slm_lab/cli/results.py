"""`slm-lab analyze`, `plot`, `plot-list` (a run folder's files alone, torch-free) and the Hub
commands `push`, `pull`, `list`."""

from pathlib import Path
from typing import Annotated

import typer

from slm_lab.cli.app import DATA_DIR, REPO_HELP, app, fail, split
from slm_lab.lib import hf
from slm_lab.lib import logger as lab_logger
from slm_lab.lib.errors import DiskFull, LabError

PLOT_DIR = DATA_DIR / "plots"


@app.command()
def analyze(
    run_dir: Annotated[Path, typer.Argument(help="A run folder, e.g. data/ppo_cartpole_<time>.")],
) -> None:
    """Rebuild a run's metrics and graphs from its files (finished or interrupted runs)."""
    from slm_lab.experiment import analysis

    lab_logger.setup()
    try:
        results = analysis.analyze(run_dir)
    except LabError as e:
        raise fail(str(e)) from None
    except DiskFull as e:
        raise fail(str(e), 1) from None
    typer.echo(f"{len(results)} trial(s) analyzed; graphs in {run_dir / 'graph'}")


@app.command()
def plot(
    folders: Annotated[
        str,
        typer.Option(
            "--folders", "-f", help="Run folders, comma-separated: paths, or names in -d."
        ),
    ],
    title: Annotated[str | None, typer.Option("--title", "-t", help="Graph title.")] = None,
    legends: Annotated[
        str | None, typer.Option("--legends", "-l", help="One legend per folder, comma-separated.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "--output", "-o", help="Output folder.")] = PLOT_DIR,
    data_folder: Annotated[
        Path, typer.Option("--data-folder", "-d", help="Where bare folder names are.")
    ] = DATA_DIR,
    showlegend: Annotated[
        bool, typer.Option("--legend/--no-legend", help="Show the legend.")
    ] = True,
) -> None:
    """Several runs' scores on one graph (mean ± std over sessions, one color per algorithm):
    `<Env>_multi_trial_graph_mean_returns_ma_vs_frames.{html,png}`, the original lab's name."""
    from slm_lab.experiment import compare

    lab_logger.setup()
    dirs = [run_folder(f, data_folder) for f in split(folders)]
    try:
        html = compare.plot(dirs, title, split(legends) if legends else None, out, showlegend)
    except LabError as e:
        raise fail(str(e)) from None
    except DiskFull as e:
        raise fail(str(e), 1) from None
    png = html.with_suffix(".png")
    typer.echo(f"wrote {html}" + (f" and {png}" if png.exists() else ""))


def run_folder(name: str, data_folder: Path) -> Path:
    """A path as given, else a bare folder name inside data_folder (the original lab's form)."""
    path = Path(name)
    inside = data_folder / name
    return inside if not path.exists() and inside.exists() else path


@app.command("plot-list")
def plot_list(
    root: Annotated[Path | None, typer.Argument(help="Folder holding the runs.")] = None,
    data_folder: Annotated[
        Path, typer.Option("--data-folder", "-d", help="Folder holding the runs.")
    ] = DATA_DIR,
) -> None:
    """The local runs, and whether they finished."""
    from slm_lab.experiment import compare

    lab_logger.setup()
    root = root or data_folder
    runs = compare.list_runs(root)
    if not runs:
        typer.echo(f"no runs in {root}")
        return
    typer.echo(format_runs(runs))


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
    from slm_lab.experiment.compare import card

    lab_logger.setup()
    try:
        paths = hf.push(run_dir, repo, card, with_resume)
    except LabError as e:
        raise fail(str(e)) from None
    except hf.HubError as e:
        raise fail(str(e), 1) from None
    typer.echo(f"pushed {len(paths)} files to {hf.repo_id(repo)}: data/{run_dir.name}")


@app.command()
def pull(
    pattern: Annotated[
        str,
        typer.Argument(
            help="A spec name (its runs), a run folder name, a glob; else any folder holding it."
        ),
    ],
    repo: Annotated[str | None, typer.Option("--repo", help=REPO_HELP)] = None,
    list_only: Annotated[
        bool, typer.Option("--list", "-l", help="Only show what would be pulled.")
    ] = False,
) -> None:
    """Download run folders from the dataset repo into data/ (folders already there are kept)."""
    lab_logger.setup()
    try:
        folders = hf.pull(pattern, repo, DATA_DIR, list_only)
    except LabError as e:
        raise fail(str(e)) from None
    except hf.HubError as e:
        raise fail(str(e), 1) from None
    except DiskFull as e:
        raise fail(f"{e}; nothing was pulled: free space and pull again", 1) from None
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
    except LabError as e:
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


def format_runs(runs: list[dict]) -> str:
    """An aligned table: run, trials, sessions done, frames, total_reward_ma, status."""
    rows = [{**r, "total_reward_ma": f"{r['total_reward_ma']:.2f}"} for r in runs]
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    lines = ["  ".join(k.ljust(widths[k]) for k in keys)]
    lines += ["  ".join(str(r[k]).ljust(widths[k]) for k in keys) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
