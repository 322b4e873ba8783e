"""Atari (`ALE/<Game>-v5`) on ale-py's native vector env, preprocessed as in the literature.

The emulator does the standard preprocessing in C++ threads: frameskip 4 with max-pooling of the
last two frames, 84x84 grayscale, a stack of the last 4 frames (uint8, channels first), sticky
actions, up to 30 no-ops and FIRE at reset. It runs with reward clipping and life-loss signals
off, so the lab sees full-game raw scores; the life-loss termination and the reward clipping are
applied afterwards, for learning only (vec_env.py).
"""

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from slm_lab.spec.env_ids import check_env_id
from slm_lab.spec.schema import ATARI_FIELDS

RENAMED = {"frame_stack": "stack_num", "fire_reset": "use_fire_reset"}
LAB_ONLY = ("life_loss_info",)  # applied by the lab (vec_env.py), not by the emulator
SCREEN = 84  # the Nature DQN preprocessing: 84x84 grayscale


def rom(name: str) -> str:
    """`ALE/Pong-v5` -> ale-py's ROM id `pong` (from the env's registration)."""
    check_env_id(name)  # registers ale-py's envs; refuses an unknown id
    return gym.spec(name).kwargs["game"]


def make(env_spec: dict, num_envs: int, num_threads: int = 0) -> gym.vector.VectorEnv:
    """The native vector env with the spec's settings (all filled in by the schema defaults)."""
    from ale_py.vector_env import AtariVectorEnv

    kwargs = {
        RENAMED.get(k, k): env_spec[k] for k in ATARI_FIELDS if k in env_spec and k not in LAB_ONLY
    }
    if env_spec["max_t"]:  # agent steps -> emulator frames
        kwargs["max_num_frames_per_episode"] = env_spec["max_t"] * env_spec["frameskip"]
    return AtariVectorEnv(
        game=rom(env_spec["name"]),
        num_envs=num_envs,
        num_threads=num_threads,
        autoreset_mode=AutoresetMode.SAME_STEP,
        img_height=SCREEN,
        img_width=SCREEN,
        grayscale=True,
        maxpool=True,
        episodic_life=False,
        life_loss_info=False,
        reward_clipping=False,
        **kwargs,
    )


class LifeLoss:
    """Marks the steps where an env lost a life without ending its game: with `life_loss_info`,
    they end the learning episode (no bootstrap past a death) while the game plays on."""

    def __init__(self, num_envs: int) -> None:
        self.lives = np.zeros(num_envs, np.int64)

    def reset(self, info: dict) -> None:
        self.lives = np.asarray(info["lives"], np.int64).copy()

    def step(self, info: dict, done: np.ndarray) -> np.ndarray:
        lives = np.asarray(info["lives"], np.int64)
        lost = (lives < self.lives) & ~done
        self.lives = lives.copy()
        return lost
