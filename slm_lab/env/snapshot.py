"""The mid-episode state of gymnasium envs, for exact resume.

`Restorable` wraps each env of a vector; its `lab_state` property reads the plain state of every
layer under it (arrays, numbers, RNGs: CartPole's state, TimeLimit's step count, the env's
np_random), and for MuJoCo envs the full integration state of the simulator. Setting `lab_state`
writes it back. Vector envs reach it through `get_attr` / `set_attr`, in this process (sync) or in
the workers (async). Envs whose state lives in objects this cannot read (Box2D worlds, the ALE) are
not restorable: their episodes restart on resume.
"""

from collections import deque

import gymnasium as gym
import numpy as np

from slm_lab.lib.state import PLAIN, capture, restore

RESTORABLE = ("gymnasium.envs.classic_control", "gymnasium.envs.mujoco", "gymnasium.envs.toy_text")
RENDER_ATTRS = ("render_mode", "screen", "clock", "isopen", "window", "viewer")
PHYSICS = "mujoco_state"
LAYER = "layer"


def restorable(name: str) -> bool:
    """True for the env families whose whole state `Restorable` reads."""
    entry = gym.registry.get(name.split(":", 1)[-1])
    return entry is not None and str(entry.entry_point).startswith(RESTORABLE)


def is_plain(value: object) -> bool:
    if isinstance(value, (*PLAIN, np.ndarray, np.generic, np.random.Generator)):
        return True
    return isinstance(value, list | tuple | deque) and all(is_plain(v) for v in value)


def plain_vars(layer: gym.Env) -> dict:
    return {k: capture(v) for k, v in vars(layer).items() if k not in RENDER_ATTRS and is_plain(v)}


def layers(env: gym.Env) -> list[gym.Env]:
    out = [env]
    while isinstance(out[-1], gym.Wrapper):
        out.append(out[-1].env)
    return out


def physics_state(env: gym.Env) -> np.ndarray | None:
    """MuJoCo's integration state (positions, velocities, actuators, controls, warm start)."""
    data, model = getattr(env, "data", None), getattr(env, "model", None)
    if data is None or type(data).__name__ != "MjData":
        return None
    import mujoco

    kind = mujoco.mjtState.mjSTATE_INTEGRATION
    state = np.empty(mujoco.mj_stateSize(model, kind))
    mujoco.mj_getState(model, data, state, kind)
    return state


def set_physics_state(env: gym.Env, state: np.ndarray) -> None:
    import mujoco

    mujoco.mj_setState(env.model, env.data, state, mujoco.mjtState.mjSTATE_INTEGRATION)
    mujoco.mj_forward(env.model, env.data)


class Restorable(gym.Wrapper):
    """Exposes the state of the env under it as the `lab_state` attribute."""

    @property
    def lab_state(self) -> dict:
        state = {f"{LAYER}{i}": plain_vars(layer) for i, layer in enumerate(layers(self.env))}
        physics = physics_state(self.env.unwrapped)
        if physics is not None:
            state[PHYSICS] = capture(physics)
        return state

    @lab_state.setter
    def lab_state(self, state: dict) -> None:
        for i, layer in enumerate(layers(self.env)):
            for name, saved in state[f"{LAYER}{i}"].items():
                path = f"{type(layer).__name__}.{name}"
                setattr(layer, name, restore(getattr(layer, name, None), saved, path))
        if PHYSICS in state:
            set_physics_state(self.env.unwrapped, restore(None, state[PHYSICS]))
