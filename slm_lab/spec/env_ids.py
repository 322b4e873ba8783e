"""Env ids and the keyword arguments their constructors accept, checked without building an env:
against gymnasium's registry when it is installed, else against the id table (env_ids.json, which
scripts/gen_env_ids.py writes), so the minimal install refuses an unknown id too. MuJoCo
Playground's ids (`playground/<Env>`) are always checked against the table."""

import importlib
import inspect
import json
from difflib import get_close_matches
from functools import cache
from pathlib import Path

from slm_lab.lib.errors import SpecError, unknown_name
from slm_lab.spec.schema import is_playground

ENV_IDS_FILE = Path(__file__).parent / "env_ids.json"
# keyword arguments gymnasium.make itself takes, whatever the env
MAKE_KWARGS = ("max_episode_steps", "autoreset", "disable_env_checker", "render_mode")


@cache
def env_ids() -> frozenset[str]:
    """The Gymnasium, ALE and MuJoCo Playground env ids, as data (no gymnasium import)."""
    return frozenset(json.loads(ENV_IDS_FILE.read_text()))


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


def split_custom(name: str) -> tuple[str, str]:
    """`module:EnvId` -> (module, EnvId); both parts must be there."""
    module, _, env_id = name.partition(":")
    if not module or not env_id:
        raise SpecError(
            f"custom env {name!r} must be module:EnvId (e.g. my_pkg.envs:Maze-v0)", "env.name"
        )
    return module, env_id


def check_env_id(name: str) -> tuple[str, ...] | None:
    """Refuse an unknown id; return the kwargs it accepts (None: any, or gymnasium absent)."""
    if is_playground(name):  # MuJoCo Playground's ids are in the table, its package optional
        check_listed(name)
        return ()
    registry = _registry()
    if registry is None:
        check_listed(name)
        return None
    if ":" in name:  # "module:Env-v0" registers its env on import, as gymnasium.make does
        module, name = split_custom(name)
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


def check_listed(name: str) -> None:
    """Without gymnasium (the minimal install): refuse an env name that is neither a known id nor
    a custom `module:EnvId`."""
    if ":" in name:
        split_custom(name)
        return
    if name in env_ids():
        return
    close = get_close_matches(name, sorted(env_ids()), n=8, cutoff=0.5)
    raise unknown_name("environment", name, "env.name", close)


def _close_ids(name: str, registry: dict) -> list[str]:
    """A short list for the error: ids of the same family, else the classic ones."""
    close = get_close_matches(name, list(registry), n=8, cutoff=0.5)
    return close or [i for i in registry if "/" not in i][:20]
