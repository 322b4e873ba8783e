"""The Typer app every `slm-lab` command registers on, and what the commands share."""

from pathlib import Path
from typing import Annotated

import typer

from slm_lab import __version__

DATA_DIR = Path("data")
EXIT_SPEC = 2  # a LabError: bad spec, argument, resource or checkpoint
SETS_HELP = "Substitute ${key} in the file: key=value."
REPO_HELP = "Dataset repo owner/name (default: HF_REPO)."

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


def split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


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
