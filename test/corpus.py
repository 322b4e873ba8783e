"""The original lab's spec corpus (test/fixtures/original-specs): every entry of every file, the
`-s` values its `${...}` placeholders get, and what building it (env + agent, no training) gives."""

import traceback
from dataclasses import dataclass
from pathlib import Path

from slm_lab.lib.errors import LabError
from test.conftest import FIXTURES

SUFFIXES = (".json", ".yaml", ".yml")
ATARI_ID = "ALE/Pong-v5"
MUJOCO_ID = "HalfCheetah-v5"
PLAYGROUND_ID = "playground/CartpoleBalance"
MAX_FRAME = "1e6"
# the file name part that says which env family a `${env}` file was written for
FAMILY_IDS = {"playground": PLAYGROUND_ID, "mujoco": MUJOCO_ID, "atari": ATARI_ID}

# entries the off-policy branch makes run: async (distributed) SAC, CrossQ on arcs and on Atari
PENDING_OFFPOLICY_DIRS = ("async_sac", "crossq")
PENDING_REASON = "off-policy branch"
PYBULLET = "pybullet"

BUILD = "build"
REFUSED = "refused"
CRASH = "crash"


@dataclass(frozen=True)
class Entry:
    file: Path  # absolute
    name: str

    @property
    def rel(self) -> str:
        return self.file.relative_to(FIXTURES).as_posix()

    @property
    def id(self) -> str:
        return f"{self.rel}:{self.name}"

    @property
    def pending_offpolicy(self) -> bool:
        return self.file.parent.name in PENDING_OFFPOLICY_DIRS


def files() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*") if p.suffix in SUFFIXES)


def entries() -> list[Entry]:
    from slm_lab.spec.loader import parse, read_text, spec_names

    return [Entry(f, n) for f in files() for n in spec_names(parse(read_text(f), f))]


def sets_for(file: Path) -> dict[str, str]:
    """The `-s` values a file's placeholders need: its family's env id and a frame budget."""
    text = file.read_text(encoding="utf-8")
    env = next((i for key, i in FAMILY_IDS.items() if key in file.stem), ATARI_ID)
    given = {"env": env, "max_frame": MAX_FRAME}
    return {k: v for k, v in given.items() if f"${{{k}}}" in text}


def load(entry: Entry):
    from slm_lab.spec import load_spec

    return load_spec(entry.file, entry.name, sets_for(entry.file))


def build(entry: Entry) -> tuple[str, str]:
    """(outcome, detail): BUILD, REFUSED with the one line, or CRASH with the traceback's end."""
    from slm_lab.experiment.run import preflight

    try:
        preflight(load(entry).spec)
    except LabError as e:
        return REFUSED, str(e)
    except Exception:  # a crash is what this survey looks for
        return CRASH, traceback.format_exc(limit=-3)
    return BUILD, ""
