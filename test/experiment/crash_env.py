"""An env that raises mid-episode for one seed: a session crash on demand (imported by workers)."""

import gymnasium as gym
import numpy as np

CRASH_ID = "SlmTest/Crash-v0"
CRASH_SEED = 8
CRASH_STEP = 50


class CrashEnv(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self) -> None:
        self.steps = 0
        self.seed = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.seed = seed if seed is not None else self.seed
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.steps += 1
        if self.seed == CRASH_SEED and self.steps == CRASH_STEP:
            raise RuntimeError("planted crash")
        return np.zeros(2, np.float32), 1.0, self.steps % 10 == 0, False, {}


if CRASH_ID not in gym.registry:
    gym.register(CRASH_ID, entry_point=CrashEnv)
