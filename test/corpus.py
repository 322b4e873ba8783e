"""The original lab's spec corpus (test/fixtures/original-specs): every entry of every file, the
`-s` values its `${...}` placeholders get, and what building it (env + agent, no training) gives.

    uv run python -m test.corpus        # builds every entry, prints each outcome and the counts
"""

import sys
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from slm_lab.lib.errors import LabError
from test.conftest import FIXTURES

SUFFIXES = (".json", ".yaml", ".yml")
ATARI_ID = "ALE/Pong-v5"
MUJOCO_ID = "HalfCheetah-v5"
PLAYGROUND_ID = "playground/CartpoleBalance"
MAX_FRAME = "1e6"
# the file name part that says which env family a `${env}` file was written for (else Atari)
FAMILY_IDS = {"playground": PLAYGROUND_ID, "mujoco": MUJOCO_ID}

ATARI_WORDS = ("atari", "pong", "qbert", "breakout", "videopinball")  # in Atari files' names
PYBULLET_FILE = "benchmark/async_sac/async_sac_halfcheetah_pybullet.json"

# a short run: a few vector steps of at most 2 envs, with rollouts, training rounds and replays cut
# so that every learner still trains a few times with the entry's own nets, losses and memories
SHORT_ENVS, SHORT_STEPS, SHORT_ROLLOUT, SHORT_REPLAY = 2, 24, 8, 10_000
SHORT_ROUNDS = 3  # off-policy rounds: training starts this many vector steps before the end
ONE_PASS = ("training_iter", "training_batch_iter", "training_epoch")  # cut to 1 in a short run

BUILD, REFUSED, CRASH = "build", "refused", "crash"


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
    def family(self) -> str:
        """Its tree and algorithm folder: benchmark/ppo, benchmark_arc/sac ..."""
        return self.file.parent.relative_to(FIXTURES).as_posix()

    @property
    def pybullet(self) -> bool:
        return self.rel == PYBULLET_FILE

    @property
    def atari(self) -> bool:
        return any(word in self.file.stem for word in ATARI_WORDS)

    @property
    def playground(self) -> bool:
        return "playground" in self.file.stem


def files() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*") if p.suffix in SUFFIXES)


def entries() -> list[Entry]:
    from slm_lab.spec.loader import parse, read_text, spec_names

    return [Entry(f, n) for f in files() for n in spec_names(parse(read_text(f), f))]


def sample(all_entries: list[Entry]) -> list[Entry]:
    """The first runnable entry of each family, a quick one (not Atari) where there is one."""
    firsts: dict[str, Entry] = {}
    runnable = [e for e in all_entries if not e.pybullet]
    for entry in sorted(runnable, key=lambda e: e.atari):  # stable: file order kept
        firsts.setdefault(entry.family, entry)
    return sorted(firsts.values(), key=lambda e: e.id)


def sets_for(file: Path) -> dict[str, str]:
    """The `-s` values a file's placeholders need: its family's env id and a frame budget."""
    text = file.read_text(encoding="utf-8")
    env = next((i for key, i in FAMILY_IDS.items() if key in file.stem), ATARI_ID)
    given = {"env": env, "max_frame": MAX_FRAME}
    return {k: v for k, v in given.items() if f"${{{k}}}" in text}


def load(entry: Entry):
    """The validated spec (its search block checked as search mode does)."""
    from slm_lab.spec import load_spec
    from slm_lab.spec.space import samplers

    loaded = load_spec(entry.file, entry.name, sets_for(entry.file))
    if loaded.spec.get("search"):
        samplers(loaded.spec)
    return loaded


def shorten(spec: dict) -> dict:
    """A copy of a validated spec that trains in seconds (one session, no rigorous eval)."""
    env, algo, memory = spec["env"], spec["agent"]["algorithm"], spec["agent"]["memory"]
    env["num_envs"] = min(env["num_envs"], SHORT_ENVS)
    env["max_frame"] = SHORT_STEPS * env["num_envs"]
    spec["meta"].update(max_session=1, random_seed=3, rigorous_eval=False)
    for key in (k for k in ("time_horizon", "training_frequency") if k in algo):
        algo[key] = min(algo[key], SHORT_ROLLOUT)
    algo.update({k: 1 for k in ONE_PASS if k in algo})
    if "minibatch_size" in algo:
        algo["minibatch_size"] = min(algo["minibatch_size"], algo["time_horizon"] * env["num_envs"])
    if "training_start_step" in algo:
        every = max(env["num_envs"], algo["training_frequency"])  # frames between rounds
        last = env["max_frame"] - SHORT_ROUNDS * every
        algo["training_start_step"] = min(algo["training_start_step"], last)
    if "max_size" in memory:
        memory["max_size"] = min(memory["max_size"], SHORT_REPLAY)
        memory["batch_size"] = min(memory["batch_size"], memory["max_size"])
    return spec


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


def main() -> None:
    counts: Counter = Counter()
    for entry in entries():
        outcome, detail = build(entry)
        counts[outcome] += 1
        line = detail.strip().splitlines()[-1] if detail else ""
        print(f"{outcome:18} {entry.id} {line}", flush=True)
    print(f"entries: {sum(counts.values())}", *(f"{k}: {v}" for k, v in counts.items()), sep="\n")
    sys.exit(1 if counts[CRASH] else 0)


if __name__ == "__main__":
    main()
