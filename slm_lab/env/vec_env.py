"""Vectorized Gymnasium envs, and the tracker of their episodes' returns.

Autoreset is SAME_STEP: `step` returns the reset observation for finished envs, and the real last
observation of their episode separately, so no transition ever crosses an episode boundary. It
also returns the raw rewards and the ends of whole episodes, which the session's ReturnTracker
scores (the learner may see normalised rewards and Atari life losses instead).
"""

import signal
from collections import deque
from functools import cache
from typing import NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from loguru import logger

from slm_lab.env import atari, render
from slm_lab.env.atari import LifeLoss
from slm_lab.env.normalize import ObsNorm, RewardNorm, TorchObsNorm
from slm_lab.env.playground import PlaygroundVecEnv
from slm_lab.env.snapshot import Restorable, restorable
from slm_lab.lib.state import Stateful, capture, restore
from slm_lab.spec import schema
from slm_lab.spec.env_ids import check_env_id

SAME_STEP = AutoresetMode.SAME_STEP
RETURN_WINDOW = 100  # episodes averaged into total_reward
# env keys the lab reads itself; everything else goes to gymnasium.make
LAB_KEYS = (*schema.ENV_FIELDS, *schema.ENV_LAB_KEYS)


class ReturnTracker(Stateful):
    """Running per-env returns; the last `window` finished episodes (None: all of them)."""

    state_attrs = ("running", "returns", "episodes", "steps")

    def __init__(self, num_envs: int, window: int | None = RETURN_WINDOW) -> None:
        self.running = np.zeros(num_envs, dtype=np.float64)
        self.steps = np.zeros(num_envs, dtype=np.int64)  # each env's step in its episode
        self.returns: deque[float] = deque(maxlen=window)
        self.episodes = 0

    def add(self, reward: np.ndarray, ended: np.ndarray | None) -> None:
        """Accumulate one vector step (`ended`: the envs whose episode ended, None if none)."""
        self.running += reward
        self.steps += 1
        if ended is not None:
            self.returns.extend(self.running[ended].tolist())
            self.episodes += int(ended.sum())
            self.running[ended] = 0.0
            self.steps[ended] = 0

    def load_state_dict(self, state: dict) -> None:
        """Checkpoints from before the `t` column count env steps from 0."""
        super().load_state_dict({"steps": self.steps, **state})

    def restart(self) -> None:
        """The envs start new episodes: the unfinished ones' returns are dropped."""
        self.running[:] = 0.0
        self.steps[:] = 0

    @property
    def t(self) -> int:
        """Env 0's step within its episode (the original lab's `t` column)."""
        return int(self.steps[0])

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
    if env_spec["max_t"]:
        kwargs["max_episode_steps"] = env_spec["max_t"]
    return kwargs


def is_mujoco(name: str) -> bool:
    entry = gym.registry.get(name.split(":", 1)[-1])  # "module:Env-v0" ids name their module
    return entry is not None and "mujoco" in str(entry.entry_point)


@cache
def route_mujoco_warnings() -> None:
    """MuJoCo prints its warnings and appends them to MUJOCO_LOG.TXT in the working directory;
    send them to the log instead (its deprecation notices about gymnasium's models at DEBUG)."""
    import mujoco

    def warn(message: str) -> None:
        level = "DEBUG" if "deprecated" in message else "WARNING"
        logger.log(level, f"MuJoCo: {message.strip()}")

    mujoco.set_mju_user_warning(warn)


class Step(NamedTuple):
    """One vector step, as the learner and the return tracker see it."""

    obs: np.ndarray  # to act on next (the reset observations where an episode ended)
    reward: np.ndarray  # what the learner sees (normalised or clipped)
    terminated: np.ndarray  # for learning (an Atari life loss too, with life_loss_info)
    truncated: np.ndarray
    next_obs: np.ndarray  # each env's real next observation (the last of an ended episode)
    score: np.ndarray  # the raw rewards, which returns are scored on
    ended: np.ndarray | None  # the envs whose episode (whole game) ended; None if none did


class VecEnv:
    """A gymnasium vector env from a validated env spec.

    `step` returns what the learner sees (normalised observations; rewards normalised or
    clipped; `terminated` also on an Atari life loss with `life_loss_info`), and the raw rewards
    and episode ends a ReturnTracker scores whole games with.
    """

    def __init__(
        self,
        env_spec: dict,
        num_envs: int | None = None,
        render_mode: str | None = None,
        window: int | None = None,
        gamma: float | None = None,
        obs_norm: ObsNorm | None = None,
    ) -> None:
        """`window` makes each observation the env's last `window` ones, oldest first,
        zero-padded at episode start. `gamma`: the discount of the reward normaliser's returns
        (needed with `normalize_reward`). `obs_norm` shares a training env's observation
        statistics with an evaluation env, which then only reads them. `render_mode`: "human"
        shows env 0 on screen (every env of an Atari vector, in a grid); "rgb_array" lets `frame`
        draw env 0."""
        self.name = env_spec["name"]
        self.window = window
        self.num_envs = num_envs or env_spec["num_envs"]
        self.mode = env_spec["vectorization_mode"]
        self.env = self._build(env_spec, render_mode)
        self.observation_space = self.env.single_observation_space
        self.action_space = self.env.single_action_space
        native = self.mode == "native"
        # frames stacked along axis 0 of an observation (the replay stores each frame once)
        self.frame_stack = env_spec["frame_stack"] if native else 1
        self.life_loss = LifeLoss(self.num_envs) if native and env_spec["life_loss_info"] else None
        self.clip_reward = env_spec["clip_reward"]
        self.reward_scale = env_spec["reward_scale"] if self.mode == "jax" else None
        self.learns_stats = obs_norm is None
        self.obs_norm = obs_norm or self._obs_norm(env_spec)
        self.reward_norm = (
            RewardNorm(self.num_envs, gamma, self.clip_reward)
            if env_spec["normalize_reward"] and self.learns_stats
            else None
        )
        self.raw_obs = None  # the last raw observations, which Atari frames are drawn from
        native_screen = native and render_mode == "human"
        self.screen = render.Screen(self.name) if native_screen else None
        self.restorable = self.mode in ("sync", "async") and restorable(self.name)

    def _build(self, env_spec: dict, render_mode: str | None) -> gym.vector.VectorEnv:
        if self.mode == "native":
            return atari.make(env_spec, self.num_envs)
        if self.mode == "jax":  # drawn (rgb_array) by `frame`, never on screen (run.start)
            return PlaygroundVecEnv(env_spec, self.num_envs)
        if is_mujoco(self.name):
            route_mujoco_warnings()
        kwargs = gym_kwargs(env_spec)
        fns = [self._maker(kwargs, render_mode if i == 0 else None) for i in range(self.num_envs)]
        if self.mode == "async":
            # spawn, not fork: forking a process that holds torch threads can deadlock
            return gym.vector.AsyncVectorEnv(fns, autoreset_mode=SAME_STEP, context="spawn")
        return gym.vector.SyncVectorEnv(fns, autoreset_mode=SAME_STEP)

    def _obs_norm(self, env_spec: dict) -> ObsNorm | TorchObsNorm | None:
        if not env_spec["normalize_obs"]:
            return None
        device = self.env.device if self.mode == "jax" else None
        if device is not None:  # where the observations are: no copy to the host
            return TorchObsNorm(self.observation_space.shape, env_spec["clip_obs"], device)
        return ObsNorm(self.observation_space.shape, env_spec["clip_obs"])

    def _maker(self, kwargs: dict, render_mode: str | None):
        name = self.name

        if render_mode:
            kwargs = {**kwargs, "render_mode": render_mode}

        window = self.window
        wrap = restorable(name)
        worker = self.mode == "async"

        def make() -> gym.Env:
            if worker:  # Ctrl-C reaches the whole process group: the session decides, not workers
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            env = gym.make(name, **kwargs)
            if window is not None:
                # reset refills the stack with zeros, so no window spans two episodes
                env = gym.wrappers.FrameStackObservation(
                    env, stack_size=window, padding_type="zero"
                )
            return Restorable(env) if wrap else env

        return make

    @property
    def batch_action_space(self) -> gym.Space:
        return self.env.action_space

    def reset(self, seed: int | None = None) -> np.ndarray:
        obs, info = self.env.reset(seed=seed)
        self.env.action_space.seed(seed)
        self.raw_obs = obs
        if self.life_loss is not None:
            self.life_loss.reset(info)
        return self.observe(obs)

    def step(self, action: np.ndarray) -> Step:
        obs, score, terminated, truncated, info = self.env.step(action)
        done = terminated | truncated
        self.raw_obs = obs
        if self.screen is not None:
            self.screen.show(render.grid([render.atari_frame(o) for o in obs]))
        ended = done if done.any() else None
        final = None if ended is None else self.final_obs(obs, info, done)
        if self.life_loss is not None:
            terminated = terminated | self.life_loss.step(info, done)
        reward = self.learning_reward(score, done)
        obs = self.observe(obs)
        if final is None:  # no episode ended: the next observations are the ones to act on
            return Step(obs, reward, terminated, truncated, obs, score, None)
        next_obs = final if self.obs_norm is None else self.obs_norm(final)
        return Step(obs, reward, terminated, truncated, next_obs, score, ended)

    def final_obs(self, obs: np.ndarray, info: dict, done: np.ndarray) -> np.ndarray:
        """The real next observations, raw: the finished episodes' last ones where done."""
        if self.mode == "jax":
            return info["final_obs"]  # every env's already
        next_obs = obs.copy()
        idx = np.flatnonzero(done)
        final = info["final_obs"]  # ale-py: a dense array; gymnasium: an object array
        next_obs[idx] = final[idx] if self.mode == "native" else np.stack(final[idx])
        return next_obs

    def observe(self, obs: np.ndarray) -> np.ndarray:
        """Raw observations -> the learner's (normalised, the statistics updated in training)."""
        if self.obs_norm is None:
            return obs
        if self.learns_stats:
            self.obs_norm.update(obs)
        return self.obs_norm(obs)

    def learning_reward(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        if self.reward_scale is not None:
            reward = (reward * self.reward_scale).astype(np.float32)
        if self.reward_norm is not None:
            return self.reward_norm(reward, done)
        if self.clip_reward is not None:
            return np.clip(reward, -self.clip_reward, self.clip_reward).astype(np.float32)
        return reward

    def normalisers(self) -> dict:
        """The normalisers whose statistics this env learns (an eval env only reads them)."""
        owned = {
            "obs_norm": self.obs_norm if self.learns_stats else None,
            "reward_norm": self.reward_norm,
        }
        return {key: norm for key, norm in owned.items() if norm is not None}

    def state_dict(self) -> dict:
        """The normalisers' statistics (part of a session's checkpoint)."""
        return {key: norm.state_dict() for key, norm in self.normalisers().items()}

    def load_state_dict(self, state: dict) -> None:
        norms = self.normalisers()
        if set(state) != set(norms):
            raise ValueError(f"saved env state has {sorted(state)}, this env has {sorted(norms)}")
        for key, norm in norms.items():
            norm.load_state_dict(state[key])

    def snapshot(self) -> dict:
        """Everything a resume needs of the env: normalisers, the action space's RNG, and each
        env's mid-episode state where the family allows (see `snapshot.Restorable`)."""
        envs = list(self.env.get_attr("lab_state")) if self.restorable else None
        return {
            "norms": capture(self.state_dict()),
            "action_rng": capture(self.env.action_space.np_random),
            "envs": envs,
        }

    def restore(self, state: dict) -> bool:
        """Put a snapshot back (after a reset); True when the envs' episodes were restored too,
        False when they must start anew."""
        self.load_state_dict(restore(None, state["norms"], "env"))
        restore(self.env.action_space.np_random, state["action_rng"])
        if state["envs"] is None or not self.restorable:
            return False
        if len(state["envs"]) != self.num_envs:
            raise ValueError(f"{len(state['envs'])} envs in the checkpoint, {self.num_envs} here")
        self.env.set_attr("lab_state", state["envs"])
        return True

    def frame(self) -> np.ndarray:
        """Env 0 as an RGB image (built with render_mode "rgb_array", or any Atari env)."""
        if self.mode == "native":
            return render.atari_frame(self.raw_obs[0])
        if self.mode == "jax":
            return self.env.render()
        return self.env.envs[0].render()

    def close(self) -> None:
        if self.screen is not None:
            self.screen.close()
        self.env.close()
