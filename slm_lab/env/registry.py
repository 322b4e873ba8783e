"""Gymnasium ids and the keyword arguments their constructors accept, checked without building."""

import importlib
import inspect
from functools import cache

from slm_lab.spec import names
from slm_lab.spec.errors import SpecError, unknown_name

# keyword arguments gymnasium.make itself takes, whatever the env
MAKE_KWARGS = ("max_episode_steps", "autoreset", "disable_env_checker", "render_mode")


@cache
def _registry() -> dict | None:
    try:
        import gymnasium as gym
    except ImportError:
        return None
    try:
        import ale_py

        gym.register_envs(ale_py)
    except ImportError:
        pass
    return gym.registry


def check_env_id(name: str) -> tuple[str, ...] | None:
    """Refuse an unknown id; return the kwargs it accepts (None: any, or gymnasium absent)."""
    registry = _registry()
    if registry is None:  # the minimal install: the ids as data
        names.check_env_id(name)
        return None
    if ":" in name:  # "module:Env-v0" registers its env on import, as gymnasium.make does
        module, name = names.split_custom(name)
        try:
            importlib.import_module(module)
        except (ImportError, ValueError, TypeError) as e:  # a relative or malformed name
            raise SpecError(f"cannot import {module!r} for its env: {e}", "env.name") from e
    if name not in registry:
        raise unknown_name("environment", name, "env.name", sorted(_close_ids(name, registry)))
    entry = registry[name].entry_point
    if not callable(entry):
        from gymnasium.envs.registration import load_env_creator

        entry = load_env_creator(entry)
    params = inspect.signature(entry).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return (*MAKE_KWARGS, *(p.name for p in params if p.name != "self"))


def _close_ids(name: str, registry: dict) -> list[str]:
    """A short list for the error: ids of the same family, else the classic ones."""
    from difflib import get_close_matches

    close = get_close_matches(name, list(registry), n=8, cutoff=0.5)
    return close or [i for i in registry if "/" not in i][:20]
