"""Random-policy returns per env, the zero point of `strength`.

Regenerate (or add envs) with: uv run python -m slm_lab.env.baseline CartPole-v1 Acrobot-v1
"""

import json
import sys
from functools import cache

from loguru import logger

from slm_lab import ROOT
from slm_lab.lib.util import write_json

BASELINE_FILE = ROOT / "env" / "random_baseline.json"
EPISODES = 100
SEED = 0


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


def measure(env_name: str, episodes: int = EPISODES, seed: int = SEED) -> dict:
    """Returns of `episodes` episodes of uniform random actions, seeded."""
    import gymnasium as gym
    import numpy as np

    env = gym.make(env_name)
    env.action_space.seed(seed)
    returns = []
    env.reset(seed=seed)
    for _ in range(episodes):
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
        env.reset()
    env.close()
    return {
        "mean": float(np.mean(returns)),
        "std": float(np.std(returns)),
        "episodes": episodes,
        "seed": seed,
    }


def main(env_names: list[str]) -> None:
    table = dict(baselines())
    for name in env_names:
        table[name] = measure(name)
        logger.info(f"{name}: {table[name]}")
    write_json(BASELINE_FILE, dict(sorted(table.items())))


if __name__ == "__main__":
    main(sys.argv[1:])
