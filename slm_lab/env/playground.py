"""MuJoCo Playground (`playground/<Env>`): DeepMind's MJX envs on JAX, as a vector env.

The registry's env under Brax's episode wrapper (the env's episode length and action repeat),
vmapped over num_envs, with reset and step jitted. Autoreset is same-step, as for gymnasium's
vector envs: where an episode ends, a step returns the new episode's first observation to act on,
and in `info["final_obs"]` every env's real next observation (the last one of the ended
episodes), so a truncated episode's last observation reaches the learner. A new episode starts
from a fresh random state (Brax's training wrapper would replay a cached one). Observations are
the `state` entry of dict observations.

Observations go where `env.device` says: host numpy arrays (null), or torch tensors on a device
handed over from JAX through DLPack, which shares memory where JAX and torch are on the same
device (the GPU, or the CPU). Rewards and episode ends are always numpy.

JAX is imported here only, and configured before its first computation: its platform follows
torch's (CUDA when torch sees a GPU, else the CPU; JAX's CUDA plugin crashes on machines without
a GPU driver), and it does not preallocate the GPU's memory, which torch shares. A user's
JAX_PLATFORMS or XLA_PYTHON_CLIENT_PREALLOCATE wins over either. The first step compiles (about
30 s on a CPU); JAX_COMPILATION_CACHE_DIR keeps compiled steps for later runs.
"""

import os
from functools import cache, partial
from typing import Any, NamedTuple

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

from slm_lab.lib.errors import SpecError, UsageError, unknown_name
from slm_lab.spec.schema import PLAYGROUND_INSTALL, PLAYGROUND_PREFIX

# the Brax PPO params' action repeat, which mujoco_playground's own params file misspells
# (PendulumSwingUp) and so never applies; the other envs' is in their config
ACTION_REPEAT = {"PendulumSwingup": 4}
MENAGERIE_URL = "https://github.com/google-deepmind/mujoco_menagerie"
OBS_KEY = "state"  # of dict observations: what the policy sees (not the privileged state)


def env_name(name: str) -> str:
    """`playground/CartpoleBalance` -> the registry's `CartpoleBalance`."""
    return name.removeprefix(PLAYGROUND_PREFIX)


@cache
def load_jax() -> Any:
    """jax, configured for the lab before its first computation (see the module's doc)."""
    import jax
    import torch

    if "JAX_PLATFORMS" not in os.environ:
        jax.config.update("jax_platforms", "cuda,cpu" if torch.cuda.is_available() else "cpu")
    if "XLA_PYTHON_CLIENT_PREALLOCATE" not in os.environ:
        jax.config.update("jax_pjrt_client_create_options", {"preallocate": False})
    return jax


def load_registry(name: str) -> Any:
    """mujoco_playground's registry; a missing install is one line naming the command."""
    try:
        load_jax()
        from mujoco_playground import registry
    except ImportError as e:
        raise UsageError(
            f"{name} needs MuJoCo Playground, which this install lacks ({e.name} is missing): "
            f"run `{PLAYGROUND_INSTALL}`",
            "env.name",
        ) from None
    return registry


def check_menagerie(name: str, registry: Any) -> None:
    """Locomotion and manipulation envs load robot models from the MuJoCo Menagerie, which
    mujoco_playground would clone from GitHub on first use: refuse at once where it is absent."""
    from mujoco_playground._src import mjx_env

    needs = (*registry.locomotion.ALL_ENVS, *registry.manipulation.ALL_ENVS)
    path = mjx_env.MENAGERIE_PATH
    if env_name(name) in needs and not path.exists():
        raise UsageError(
            f"{name} needs the MuJoCo Menagerie (its robot models), which is not installed: "
            f"clone {MENAGERIE_URL} at commit {mjx_env.MENAGERIE_COMMIT_SHA[:12]} into {path}",
            "env.name",
        )


def handover(x: Any, device: Any) -> Any:
    """A JAX array as a torch tensor on `device`, or as numpy on the host (device None),
    through DLPack: no copy where JAX's array is already there."""
    import torch

    tensor = torch.from_dlpack(x)
    return tensor.cpu().numpy() if device is None else tensor.to(device)


def resolve_device(setting: str | None) -> Any:
    """`env.device` -> a torch device, or None for numpy arrays. auto: CUDA when torch sees a
    GPU, else numpy."""
    import torch

    if setting == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else None
    return None if setting is None else torch.device(setting)


class Kernel(NamedTuple):
    """The jitted functions of one env at one batch size, and what its spaces need."""

    reset: Any  # key -> (state, key, obs)
    step: Any  # (state, key, action) -> (state, key, obs, next_obs, reward, done, truncation)
    obs_shape: tuple[int, ...]
    action_size: int
    env: Any  # the registry's env (rendering)


def observe(obs: Any) -> Any:
    return obs[OBS_KEY] if isinstance(obs, dict) else obs


def obs_shape(size: Any, name: str) -> tuple[int, ...]:
    """The policy's observation shape from the env's observation_size (an int, a shape, or a
    dict of them)."""
    if isinstance(size, dict):
        if OBS_KEY not in size:
            raise SpecError(
                f"{name} observes {sorted(size)}, with no {OBS_KEY!r} entry", "env.name"
            )
        size = size[OBS_KEY]
    return tuple(size) if isinstance(size, tuple | list) else (int(size),)


def load_env(name: str) -> tuple[Any, Any]:
    """The registry's env and its config; MJX's JAX implementation on the CPU, MJWarp's
    kernels on a GPU."""
    registry = load_registry(name)
    base = env_name(name)
    if base not in registry.ALL_ENVS:
        raise unknown_name("MuJoCo Playground env", base, "env.name", registry.ALL_ENVS)
    check_menagerie(name, registry)
    config = registry.get_default_config(base)
    if "impl" in config:
        config.impl = "warp" if load_jax().default_backend() == "gpu" else "jax"
    return registry.load(base, config=config), config


def episode_settings(name: str, config: Any, max_t: int | None) -> tuple[int, int]:
    """(episode length in the env's own steps, action repeat); max_t counts agent steps."""
    repeat = ACTION_REPEAT.get(env_name(name), config.action_repeat)
    length = max_t * repeat if max_t else config.episode_length
    return length, repeat


@cache
def kernel(name: str, num_envs: int, max_t: int | None) -> Kernel:
    """Built once per env, batch size and episode length in a process (compiled on first use)."""
    jax = load_jax()
    jnp = jax.numpy
    from brax.envs.wrappers import training

    base, config = load_env(name)
    length, repeat = episode_settings(name, config, max_t)
    env = training.EpisodeWrapper(training.VmapWrapper(base), length, repeat)

    def start(key):
        key, sub = jax.random.split(key)
        return env.reset(jax.random.split(sub, num_envs)), key

    def reset(key):
        state, key = start(key)
        return state, key, observe(state.obs)

    def where(done, new, old):
        if old.ndim == 0 or old.shape[0] != num_envs:
            return old
        mask = done.reshape(-1, *(1,) * (old.ndim - 1))
        return jnp.where(mask, new, old).astype(old.dtype)

    def restart(done, carry):
        """The envs whose episode ended start a new one, from a fresh random state."""
        state, key = carry
        fresh, key = start(key)
        return jax.tree.map(partial(where, done), fresh, state), key

    def step(state, key, action):
        state = env.step(state, action)
        done = state.done > 0
        ended = (observe(state.obs), state.reward, done, state.info["truncation"] > 0)
        state, key = jax.lax.cond(done.any(), partial(restart, done), lambda c: c, (state, key))
        return state, key, observe(state.obs), *ended

    return Kernel(
        jax.jit(reset),
        jax.jit(step),
        obs_shape(base.observation_size, name),
        base.action_size,
        base,
    )


class PlaygroundVecEnv:
    """`num_envs` copies of a MuJoCo Playground env, stepped together by JAX, with the
    interface of a gymnasium vector env that VecEnv reads."""

    def __init__(self, env_spec: dict, num_envs: int) -> None:
        self.name = env_spec["name"]
        self.num_envs = num_envs
        self.device = resolve_device(env_spec["device"])
        self.kernel = kernel(self.name, num_envs, env_spec["max_t"])
        self.single_observation_space = spaces.Box(
            -np.inf, np.inf, self.kernel.obs_shape, np.float32
        )
        self.single_action_space = spaces.Box(-1.0, 1.0, (self.kernel.action_size,), np.float32)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.jax = load_jax()
        self.key = self.jax.random.PRNGKey(0)
        self.state = None

    def reset(self, seed: int | None = None) -> tuple[Any, dict]:
        if seed is not None:
            self.key = self.jax.random.PRNGKey(seed)
        self.state, self.key, obs = self.kernel.reset(self.key)
        return handover(obs, self.device), {}

    def step(self, action: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict]:
        action = self.jax.numpy.asarray(action, dtype=np.float32)
        out = self.kernel.step(self.state, self.key, action)
        self.state, self.key, obs, next_obs, reward, done, truncation = out
        truncated = np.asarray(truncation)
        terminated = np.asarray(done) & ~truncated
        info = {"final_obs": handover(next_obs, self.device)}
        return handover(obs, self.device), np.asarray(reward), terminated, truncated, info

    def render(self) -> np.ndarray:
        """Env 0 as an RGB image (MuJoCo's renderer)."""
        first = self.jax.tree.map(lambda x: x[0], self.state)
        return np.asarray(self.kernel.env.render([first])[0])

    def close(self) -> None:
        self.state = None
