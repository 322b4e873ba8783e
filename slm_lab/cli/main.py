"""The `slm-lab` command: the app, its commands (train.py, results.py, remote.py), and the argument
forms users of the original lab type. Heavy imports (torch, gymnasium, Ray) happen only inside
the commands that need them."""

import re
import sys
import traceback
from pathlib import Path

import typer

from slm_lab.cli import remote, results, train
from slm_lab.cli.app import EXIT_SPEC, app
from slm_lab.lib.redact import redact
from slm_lab.lib.util import load_env_file

COMMANDS = (train, results, remote)  # each registers its commands on `app` when imported
VALUE_OPTIONS = (
    "-s",
    "--set",
    "--log-level",
    "--ray-address",
    "--keep",
    "--repo",
    "-n",
    "--name",
    "--cuda-offset",
    "--episodes",
)
NUMBER = re.compile(r"-\d+(\.\d*)?([eE]-?\d+)?")  # a value such as --keep -1
HELP_FLAGS = ("--help", "-h", "--version", "--install-completion", "--show-completion")


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


def flag_names(command) -> dict[str, bool]:
    """A command's flags -> whether each takes a value."""
    options = [p for p in command.params if p.param_type_name == "option"]
    return {o: not p.is_flag for p in options for o in (*p.opts, *p.secondary_opts)}


def unknown_flag(argv: list[str], group) -> str | None:
    """The one line for the first flag the command does not take (where it belongs, if
    anywhere, and the flags the command allows); None when every flag is the command's."""
    if not argv or argv[0] not in group.commands:
        return None
    name = argv[0]
    known = {**flag_names(group.commands[name]), "--help": False}
    i = 1
    while i < len(argv) and argv[i] != "--":
        token = argv[i]
        flag = token.split("=", 1)[0]
        attached = token[:2] in known and not token.startswith("--")  # -sKEY=VALUE
        if token.startswith("-") and not (NUMBER.fullmatch(token) or flag in known or attached):
            return unknown_line(flag, name, group, known)
        i += 1 + (known.get(flag, False) and "=" not in token)
    return None


def unknown_line(flag: str, name: str, group, known: dict[str, bool]) -> str:
    commands = group.commands
    owners = sorted(n for n, c in commands.items() if not c.hidden and flag in flag_names(c))
    where = f" (an option of `slm-lab {'`, `slm-lab '.join(owners)}`)" if owners else ""
    allowed = ", ".join(known)
    return f"error: {flag}: not an option of `slm-lab {name}`{where}; allowed: {allowed}"


def entry() -> None:
    load_env_file(Path(".env"))  # HF_REPO, HF_TOKEN... for users who did not `source .env`
    try:
        argv = normalize_argv(sys.argv[1:])
        line = unknown_flag(argv, typer.main.get_command(app))
        if line is not None:
            typer.echo(line, err=True)
            sys.exit(EXIT_SPEC)
        app(args=argv, prog_name="slm-lab")
    except Exception:  # a bug: its traceback, secrets redacted, and exit code 1
        sys.stderr.write(redact(traceback.format_exc()))
        sys.exit(1)


def retro() -> None:
    """`slm-retro DIR`, the original lab's retro analysis: the same as `slm-lab analyze DIR`."""
    sys.argv = [sys.argv[0], "analyze", *sys.argv[1:]]
    entry()
