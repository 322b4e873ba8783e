"""The `slm-lab` command: the app, its commands (train.py, results.py, remote.py), and the argument
forms users of the original lab type. Heavy imports (torch, gymnasium, Ray) happen only inside
the commands that need them."""

import sys
import traceback
from pathlib import Path

from slm_lab.cli import remote, results, train
from slm_lab.cli.app import app
from slm_lab.lib.redact import redact
from slm_lab.lib.util import load_env_file

COMMANDS = (train, results, remote)  # each registers its commands on `app` when imported
VALUE_OPTIONS = ("-s", "--set", "--log-level", "--ray-address", "--keep", "--repo", "-n", "--name")
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


def entry() -> None:
    load_env_file(Path(".env"))  # HF_REPO, HF_TOKEN... for users who did not `source .env`
    try:
        app(args=normalize_argv(sys.argv[1:]), prog_name="slm-lab")
    except Exception:  # a bug: its traceback, secrets redacted, and exit code 1
        sys.stderr.write(redact(traceback.format_exc()))
        sys.exit(1)
