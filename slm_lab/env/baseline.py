"""Random-policy returns per env, the zero point of `strength`, stored as package data.

Each env is measured as the lab runs it (ale-py's native vector env with the v5 settings for
Atari: full games, sticky actions, raw scores), uniform random actions, seeded; every env of the
vector contributes its first episodes, so short episodes are not favoured.

Regenerate (or add envs): uv run python -m slm_lab.env.baseline [ENV_ID ...]   (no ids: all
the envs the shipped specs are benchmarked on)
"""

import json
import math
import sys
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


def measure(
    env_name: str, episodes: int = EPISODES, seed: int = SEED, num_envs: int = NUM_ENVS
) -> dict:
    """Raw returns of `episodes` episodes of uniform random actions, `episodes / num_envs` from
    each env of the vector."""
    import numpy as np

    from slm_lab.env.vec_env import VecEnv

    settings = env_settings(env_name)
    env = VecEnv(settings, num_envs=num_envs).env  # raw rewards, real ends
    per_env = math.ceil(episodes / num_envs)
    returns: list[list[float]] = [[] for _ in range(num_envs)]
    running = np.zeros(num_envs)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    while min(map(len, returns)) < per_env:
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        running += reward
        for i in np.flatnonzero(terminated | truncated):
            if len(returns[i]) < per_env:
                returns[i].append(float(running[i]))
            running[i] = 0.0
    env.close()
    flat = [r for env_returns in returns for r in env_returns]
    return {
        "mean": float(np.mean(flat)),
        "std": float(np.std(flat)),
        "episodes": len(flat),
        "seed": seed,
        "num_envs": num_envs,
    }


def main(env_names: list[str]) -> None:
    table = dict(baselines())
    for name in env_names or SHIPPED:
        table[name] = measure(name)
        logger.info(f"{name}: {table[name]}")
        write_json(BASELINE_FILE, dict(sorted(table.items())))  # keep what is done if stopped


if __name__ == "__main__":
    main(sys.argv[1:])
