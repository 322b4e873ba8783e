"""Random-policy returns per env, the zero point of `strength`, stored as package data.

Each env is measured as the lab runs it (ale-py's native vector env with the v5 settings for
Atari: full games, sticky actions, raw scores), uniform random actions, seeded; every env of the
vector contributes its first episodes, so short episodes are not favoured.

Regenerate (or add envs): uv run python -m slm_lab.env.baseline [ENV_ID ...]   (no ids: all
the envs the shipped specs are benchmarked on; `--original [--budget S]`: every env the original
lab lists, the latest version of each registered family, each given at most S seconds)
"""

import json
import math
import sys
import time
from functools import cache

from loguru import logger

from slm_lab import ROOT
from slm_lab.lib.util import write_json

BASELINE_FILE = ROOT / "env" / "random_baseline.json"
EPISODES = 100
SEED = 0
NUM_ENVS = 4
CLASSIC = (
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "Pendulum-v1",
    "LunarLander-v3",
    "LunarLanderContinuous-v3",
    "BipedalWalker-v3",
)
MUJOCO = tuple(
    f"{name}-v5"
    for name in (
        "HalfCheetah",
        "Hopper",
        "Walker2d",
        "Ant",
        "Humanoid",
        "InvertedPendulum",
        "InvertedDoublePendulum",
        "Reacher",
        "Swimmer",
        "Pusher",
    )
)
ATARI = tuple(
    f"ALE/{game}-v5"
    for game in (
        "Pong",
        "Breakout",
        "Qbert",
        "SpaceInvaders",
        "Seaquest",
        "MsPacman",
        "BeamRider",
        "Enduro",
    )
)
SHIPPED = (*CLASSIC, *MUJOCO, *ATARI)
# what the original's generator leaves out of the registry: gym compatibility shims, functional
# (phys2d/, tabular/) envs
ENV_PACKAGES = ("gymnasium", "ale_py", "<function _raise_")  # the packages' own registrations
NOT_ENVS = ("GymV21Environment", "GymV26Environment", "phys2d/", "tabular/")
BUDGET_S = 60.0  # --original: the most wall time an env gets (fewer episodes, or none, after)


@cache
def baselines() -> dict[str, dict]:
    return json.loads(BASELINE_FILE.read_text())


def random_return(env_name: str) -> float:
    """Mean return of uniform random actions; 0 (with a warning) for an env not measured yet."""
    entry = baselines().get(env_name)
    if entry is None:
        logger.warning(
            f"no random baseline for {env_name}: strength is measured from 0 "
            f"(add one: uv run python -m slm_lab.env.baseline {env_name})"
        )
        return 0.0
    return entry["mean"]


def env_settings(env_name: str) -> dict:
    """The env section the lab would run this env with (defaults of its family filled in)."""
    from slm_lab.spec.validate import Validator, check_env

    return check_env({"name": env_name, "max_frame": 1}, Validator())


def original_envs() -> list[str]:
    """The envs the original lab lists: the latest version of each registered env family
    (ALE/ ids only for Atari), as its generator picks them."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    ids = sorted(
        spec.id
        for spec in gym.registry.values()
        if not spec.id.startswith(NOT_ENVS)
        and str(spec.entry_point).startswith(ENV_PACKAGES)  # not envs a program registered
        and ("ale_py" not in str(spec.entry_point) or spec.id.startswith("ALE/"))
    )
    latest = {i.split("-v")[0]: i for i in ids}  # sorted: the last version wins
    return list(latest.values())


def make_vec(env_name: str, num_envs: int):
    """The env as the lab runs it (raw rewards, real ends); plain gymnasium for the envs the
    lab does not train on (toy text's tuple observations)."""
    import gymnasium as gym

    from slm_lab.env.vec_env import VecEnv
    from slm_lab.lib.errors import LabError

    try:
        return VecEnv(env_settings(env_name), num_envs=num_envs).env
    except LabError:
        return gym.make_vec(env_name, num_envs, vectorization_mode="sync")


def measure(
    env_name: str,
    episodes: int = EPISODES,
    seed: int = SEED,
    num_envs: int = NUM_ENVS,
    budget_s: float = math.inf,
) -> dict | None:
    """Raw returns of `episodes` episodes of uniform random actions, `episodes / num_envs` from
    each env of the vector; after `budget_s`, the episodes ended so far (None if none)."""
    import numpy as np

    env = make_vec(env_name, num_envs)
    per_env = math.ceil(episodes / num_envs)
    returns: list[list[float]] = [[] for _ in range(num_envs)]
    running = np.zeros(num_envs)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    deadline = time.monotonic() + budget_s
    while min(map(len, returns)) < per_env and time.monotonic() < deadline:
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        running += reward
        for i in np.flatnonzero(terminated | truncated):
            if len(returns[i]) < per_env:
                returns[i].append(float(running[i]))
            running[i] = 0.0
    env.close()
    flat = [r for env_returns in returns for r in env_returns]
    if not flat:
        return None
    return {
        "mean": float(np.mean(flat)),
        "std": float(np.std(flat)),
        "episodes": len(flat),
        "seed": seed,
        "num_envs": num_envs,
    }


def main(args: list[str]) -> None:
    """`[ENV_ID ...] [--budget S]`, or `--original [--budget S]`: the original's list, envs
    measured already left as they are; `-h`/`--help`: this module's usage, nothing measured."""
    if {"-h", "--help"} & set(args):
        print(__doc__)
        return
    table = dict(baselines())
    given = "--budget" in args
    limit = float(args[args.index("--budget") + 1]) if given else math.inf
    ids = [a for a in args if "/" in a or "-v" in a]
    if "--original" in args:
        names, limit = [n for n in original_envs() if n not in table], min(limit, BUDGET_S)
    else:
        names = ids or list(SHIPPED)
    missing = []
    for name in names:
        found = measure(name, budget_s=limit)
        if found is None:
            missing.append(name)
            continue
        table[name] = found
        logger.info(f"{name}: {found}")
        write_json(BASELINE_FILE, dict(sorted(table.items())))  # keep what is done if stopped
    if missing:
        logger.warning(f"no episode ended within {limit:.0f} s: {', '.join(missing)}")


if __name__ == "__main__":
    main(sys.argv[1:])
