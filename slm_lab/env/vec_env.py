"""Vectorized Gymnasium envs with a frame clock and episode-return tracking.

Autoreset is SAME_STEP: `step` returns the reset observation for finished envs, and the real last
observation of their episode separately, so no transition ever crosses an episode boundary.
"""

import signal
from collections import deque
from dataclasses import dataclass, field
from functools import cache
from time import perf_counter

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from loguru import logger

from slm_lab.env import atari, render
from slm_lab.env.atari import LifeLoss
from slm_lab.env.normalize import ObsNorm, RewardNorm
from slm_lab.env.registry import check_env_id
from slm_lab.env.snapshot import Restorable, restorable
from slm_lab.lib.state import Stateful, capture, restore
from slm_lab.spec import schema

SAME_STEP = AutoresetMode.SAME_STEP
RETURN_WINDOW = 100  # episodes averaged into total_reward
DEFAULT_GAMMA = 0.99  # discount of the reward normaliser's returns when the agent has none
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


class ReturnTracker(Stateful):
    """Running per-env returns; the last `window` finished episodes (None: all of them)."""

    state_attrs = ("running", "returns", "episodes")

    def __init__(self, num_envs: int, window: int | None = RETURN_WINDOW) -> None:
        self.running = np.zeros(num_envs, dtype=np.float64)
        self.returns: deque[float] = deque(maxlen=window)
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


def vectorization_mode(env_spec: dict) -> str:
    """The spec's choice (validation fills in the family default when it names none)."""
    return env_spec.get("vectorization_mode") or schema.default_vectorization(env_spec["name"])


class VecEnv:
    """A gymnasium vector env that keeps the frame clock and the returns of finished episodes.

    `step` returns what the learner sees (normalised observations; rewards normalised or
    clipped; `terminated` also on an Atari life loss with `life_loss_info`), while the tracker
    scores raw rewards over whole games.
    """

    def __init__(
        self,
        env_spec: dict,
        clock: Clock,
        num_envs: int | None = None,
        render_mode: str | None = None,
        window: int | None = None,
        gamma: float = DEFAULT_GAMMA,
        obs_norm: ObsNorm | None = None,
    ) -> None:
        """`window` makes each observation the env's last `window` ones, oldest first,
        zero-padded at episode start. `obs_norm` shares a training env's observation statistics
        with an evaluation env, which then only reads them. `render_mode`: "human" shows env 0
        on screen (every env of an Atari vector, in a grid); "rgb_array" lets `frame` draw env 0."""
        self.name = env_spec["name"]
        self.window = window
        self.num_envs = num_envs or env_spec["num_envs"]
        self.clock = clock
        self.mode = vectorization_mode(env_spec)
        self.env = self._build(env_spec, render_mode)
        self.observation_space = self.env.single_observation_space
        self.action_space = self.env.single_action_space
        self.tracker = ReturnTracker(self.num_envs)
        native = self.mode == "native"
        # frames stacked along axis 0 of an observation (the replay stores each frame once)
        self.frame_stack = env_spec["frame_stack"] if native else 1
        self.life_loss = LifeLoss(self.num_envs) if native and env_spec["life_loss_info"] else None
        self.clip_reward = env_spec.get("clip_reward")
        self.learns_stats = obs_norm is None
        self.obs_norm = obs_norm or self._obs_norm(env_spec)
        self.reward_norm = (
            RewardNorm(self.num_envs, gamma, self.clip_reward or schema.NORMALIZE_CLIP)
            if env_spec.get("normalize_reward") and self.learns_stats
            else None
        )
        self.raw_obs = None  # the last raw observations, which Atari frames are drawn from
        native_screen = native and render_mode == "human"
        self.screen = render.Screen(self.name) if native_screen else None
        self.restorable = not native and restorable(self.name)

    def _build(self, env_spec: dict, render_mode: str | None) -> gym.vector.VectorEnv:
        if self.mode == "native":
            return atari.make(env_spec, self.num_envs)
        if is_mujoco(self.name):
            route_mujoco_warnings()
        kwargs = gym_kwargs(env_spec)
        fns = [self._maker(kwargs, render_mode if i == 0 else None) for i in range(self.num_envs)]
        if self.mode == "async":
            # spawn, not fork: forking a process that holds torch threads can deadlock
            return gym.vector.AsyncVectorEnv(fns, autoreset_mode=SAME_STEP, context="spawn")
        return gym.vector.SyncVectorEnv(fns, autoreset_mode=SAME_STEP)

    def _obs_norm(self, env_spec: dict) -> ObsNorm | None:
        if not env_spec.get("normalize_obs"):
            return None
        clip = env_spec.get("clip_obs") or schema.NORMALIZE_CLIP
        return ObsNorm(self.observation_space.shape, clip)

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

    def step(self, action: np.ndarray):
        """obs to act on next, reward, terminated, truncated, and each step's real next obs."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        done = terminated | truncated
        self.clock.tick()
        self.raw_obs = obs
        if self.screen is not None:
            self.screen.show(render.grid([render.atari_frame(o) for o in obs]))
        ended = self.tracker.add(reward, done)
        final = self.final_obs(obs, info, done) if ended else None
        if self.life_loss is not None:
            terminated = terminated | self.life_loss.step(info, done)
        reward = self.learning_reward(reward, done)
        obs = self.observe(obs)
        if final is None:  # no episode ended: the next observations are the ones to act on
            return obs, reward, terminated, truncated, obs
        next_obs = final if self.obs_norm is None else self.obs_norm(final)
        return obs, reward, terminated, truncated, next_obs

    def final_obs(self, obs: np.ndarray, info: dict, done: np.ndarray) -> np.ndarray:
        """The real next observations, raw: the finished episodes' last ones where done."""
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
        """Everything a resume needs: normalisers, returns so far, the action space's RNG, and
        each env's mid-episode state where the family allows (see `snapshot.Restorable`)."""
        envs = list(self.env.get_attr("lab_state")) if self.restorable else None
        return {
            "norms": capture(self.state_dict()),
            "tracker": self.tracker.state_dict(),
            "action_rng": capture(self.env.action_space.np_random),
            "envs": envs,
        }

    def restore(self, state: dict) -> bool:
        """Put a snapshot back (after a reset); True when the envs' episodes were restored too,
        False when they must start anew (then the unfinished episodes' returns are dropped)."""
        self.load_state_dict(restore(None, state["norms"], "env"))
        self.tracker.load_state_dict(state["tracker"])
        restore(self.env.action_space.np_random, state["action_rng"])
        if state["envs"] is None or not self.restorable:
            self.tracker.running[:] = 0.0
            return False
        if len(state["envs"]) != self.num_envs:
            raise ValueError(f"{len(state['envs'])} envs in the checkpoint, {self.num_envs} here")
        self.env.set_attr("lab_state", state["envs"])
        return True

    def frame(self) -> np.ndarray:
        """Env 0 as an RGB image (built with render_mode "rgb_array", or any Atari env)."""
        if self.mode == "native":
            return render.atari_frame(self.raw_obs[0])
        return self.env.envs[0].render()

    def close(self) -> None:
        if self.screen is not None:
            self.screen.close()
        self.env.close()
