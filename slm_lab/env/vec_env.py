"""Vectorized Gymnasium envs with a frame clock and episode-return tracking.

Autoreset is SAME_STEP: `step` returns the reset observation for finished envs, and the real last
observation of their episode separately, so no transition ever crosses an episode boundary.
"""

from collections import deque
from dataclasses import dataclass, field
from time import perf_counter

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from slm_lab.env.registry import check_env_id
from slm_lab.spec import schema

SAME_STEP = AutoresetMode.SAME_STEP
RETURN_WINDOW = 100  # episodes averaged into total_reward
# env keys the lab reads itself; everything else goes to gymnasium.make
LAB_KEYS = (*schema.ENV_FIELDS, *schema.ENV_LAB_KEYS)


@dataclass
class Clock:
    """Frames = vector steps x num_envs; opt_step counts optimizer steps."""

    max_frame: int
    num_envs: int
    frame: int = 0
    opt_step: int = 0
    start: float = field(default_factory=perf_counter)

    def tick(self) -> None:
        self.frame += self.num_envs

    @property
    def wall_t(self) -> float:
        return perf_counter() - self.start

    @property
    def done(self) -> bool:
        return self.frame >= self.max_frame


class ReturnTracker:
    """Running per-env returns; the last RETURN_WINDOW finished episodes."""

    def __init__(self, num_envs: int) -> None:
        self.running = np.zeros(num_envs, dtype=np.float64)
        self.returns: deque[float] = deque(maxlen=RETURN_WINDOW)
        self.episodes = 0

    def add(self, reward: np.ndarray, done: np.ndarray) -> bool:
        """Accumulate one vector step; True when some episode ended."""
        self.running += reward
        ended = bool(done.any())
        if ended:
            self.returns.extend(self.running[done].tolist())
            self.episodes += int(done.sum())
            self.running[done] = 0.0
        return ended

    @property
    def total_reward(self) -> float:
        """Mean return of the last RETURN_WINDOW finished episodes (NaN before the first)."""
        return float(np.mean(self.returns)) if self.returns else float("nan")


def gym_kwargs(env_spec: dict) -> dict:
    """Keys for gymnasium.make: those the env accepts (unknown ones were warned about and dropped)."""
    accepted = check_env_id(env_spec["name"])
    kwargs = {
        k: v
        for k, v in env_spec.items()
        if k not in LAB_KEYS and (accepted is None or k in accepted)
    }
    if env_spec.get("max_t"):
        kwargs["max_episode_steps"] = env_spec["max_t"]
    return kwargs


def obs_window(spec: dict) -> int | None:
    """The observation window a RecurrentNet reads (its seq_len); None for other nets."""
    net = spec.get("agent", {}).get("net", {})
    return net.get("seq_len") if net.get("type") == "RecurrentNet" else None


def vectorization_mode(env_spec: dict) -> str:
    """Sync unless the spec says otherwise: classic control steps far faster than a process hop."""
    return env_spec.get("vectorization_mode") or "sync"


class VecEnv:
    """A gymnasium vector env that keeps the frame clock and the returns of finished episodes."""

    def __init__(
        self,
        env_spec: dict,
        clock: Clock,
        num_envs: int | None = None,
        render: bool = False,
        window: int | None = None,
    ) -> None:
        """`window` makes each observation the env's last `window` ones, oldest first,
        zero-padded at episode start."""
        self.name = env_spec["name"]
        self.window = window
        self.num_envs = num_envs or env_spec["num_envs"]
        self.clock = clock
        kwargs = gym_kwargs(env_spec)
        fns = [self._maker(kwargs, render and i == 0) for i in range(self.num_envs)]
        if vectorization_mode(env_spec) == "async":
            # spawn, not fork: forking a process that holds torch threads can deadlock
            self.env = gym.vector.AsyncVectorEnv(fns, autoreset_mode=SAME_STEP, context="spawn")
        else:
            self.env = gym.vector.SyncVectorEnv(fns, autoreset_mode=SAME_STEP)
        self.observation_space = self.env.single_observation_space
        self.action_space = self.env.single_action_space
        self.tracker = ReturnTracker(self.num_envs)
        self.frame_stack = 1  # frames stacked along axis 0 of an observation (none yet)

    def _maker(self, kwargs: dict, render: bool):
        name = self.name

        if render:
            kwargs = {**kwargs, "render_mode": "human"}

        window = self.window

        def make() -> gym.Env:
            env = gym.make(name, **kwargs)
            if window is not None:
                # reset refills the stack with zeros, so no window spans two episodes
                env = gym.wrappers.FrameStackObservation(
                    env, stack_size=window, padding_type="zero"
                )
            return env

        return make

    @property
    def batch_action_space(self) -> gym.Space:
        return self.env.action_space

    def reset(self, seed: int | None = None) -> np.ndarray:
        obs, _ = self.env.reset(seed=seed)
        self.env.action_space.seed(seed)
        return obs

    def step(self, action: np.ndarray):
        """obs to act on next, reward, terminated, truncated, and each step's real next obs."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        done = terminated | truncated
        self.clock.tick()
        ended = self.tracker.add(reward, done)
        next_obs = obs
        if ended:
            next_obs = obs.copy()
            idx = np.flatnonzero(info["_final_obs"])
            next_obs[idx] = np.stack(info["final_obs"][idx])
        return obs, reward, terminated, truncated, next_obs

    def close(self) -> None:
        self.env.close()
