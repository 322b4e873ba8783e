"""Envs that raise mid-episode for one seed: a session crash, or a full disk, on demand (imported
by workers)."""

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


FULL_ID = "SlmTest/FullDisk-v0"
FULL_SEED = 8  # session 1 of a spec with random_seed 7
FULL_STEP = 600
FULL_PATH = "planted/table.csv"


class FullDiskEnv(CrashEnv):
    """For one seed, the disk is full at a step: raises the lab's DiskFull as a write would."""

    def step(self, action):
        self.steps += 1
        if self.seed == FULL_SEED and self.steps == FULL_STEP:
            from slm_lab.lib.errors import DiskFull

            raise DiskFull(FULL_PATH, 0, 1)
        return np.zeros(2, np.float32), 1.0, self.steps % 10 == 0, False, {}


if FULL_ID not in gym.registry:
    gym.register(FULL_ID, entry_point=FullDiskEnv)
