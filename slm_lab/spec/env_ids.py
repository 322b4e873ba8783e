"""Env ids and the keyword arguments their constructors accept, checked without building an env:
against gymnasium's registry when it is installed, else against the id table (env_ids.json, which
scripts/gen_env_ids.py writes), so the minimal install refuses an unknown id too. MuJoCo
Playground's ids (`playground/<Env>`) are always checked against the table."""

import importlib
import inspect
import json
import re
from difflib import get_close_matches
from functools import cache
from pathlib import Path

from slm_lab.lib.errors import SpecError, unknown_name
from slm_lab.spec.schema import is_playground

ENV_IDS_FILE = Path(__file__).parent / "env_ids.json"
# keyword arguments gymnasium.make itself takes, whatever the env
MAKE_KWARGS = ("max_episode_steps", "autoreset", "disable_env_checker", "render_mode")
# gym's pre-ALE/ Atari ids: Pong-v0, PongNoFrameskip-v4, PongDeterministic-v4 ...
LEGACY_ATARI = re.compile(r"(?P<game>[A-Za-z]+?)(?:NoFrameskip|Deterministic)?-v(?P<version>[04])")
# PyBullet's ids (HalfCheetahBulletEnv-v0): registered by pybullet_envs, with the old gym
PYBULLET = re.compile(r"\w+Bullet(?:Env)?-v\d+")
# their sticky actions: v0 repeats the last action with probability 0.25, v4 never
LEGACY_STICKY = {"0": 0.25, "4": 0.0}


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


def legacy_atari(name: str) -> tuple[str, float] | None:
    """A gym-era Atari id (`VideoPinball-v0`) -> its ALE id (`ALE/VideoPinball-v5`) and its
    repeat_action_probability; None for any other id."""
    match = LEGACY_ATARI.fullmatch(name)
    if match is None:
        return None
    ale_id = f"ALE/{match['game']}-v5"
    return (ale_id, LEGACY_STICKY[match["version"]]) if ale_id in env_ids() else None


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
        check_pybullet(name)
        raise unknown_name("environment", name, "env.name", sorted(_close_ids(name, registry)))
    entry = registry[name].entry_point
    if not callable(entry):
        from gymnasium.envs.registration import load_env_creator

        entry = load_env_creator(entry)
    params = inspect.signature(entry).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return (*MAKE_KWARGS, *(p.name for p in params if p.name != "self"))


def check_pybullet(name: str) -> None:
    """PyBullet envs: one line naming the package they need and the MuJoCo env to use."""
    if not PYBULLET.fullmatch(name):
        return
    twin = f"{name.split('Bullet', 1)[0]}-v5"
    hint = f"; run its MuJoCo twin {twin} instead" if twin in env_ids() else ""
    raise SpecError(
        f"{name} is a PyBullet env: it needs the pybullet package, whose pybullet_envs "
        f"register with the old gym, not Gymnasium{hint}",
        "env.name",
    )


def check_listed(name: str) -> None:
    """Without gymnasium (the minimal install): refuse an env name that is neither a known id nor
    a custom `module:EnvId`."""
    if ":" in name:
        split_custom(name)
        return
    if name in env_ids():
        return
    check_pybullet(name)
    close = get_close_matches(name, sorted(env_ids()), n=8, cutoff=0.5)
    raise unknown_name("environment", name, "env.name", close)


def _close_ids(name: str, registry: dict) -> list[str]:
    """A short list for the error: ids of the same family, else the classic ones."""
    close = get_close_matches(name, list(registry), n=8, cutoff=0.5)
    return close or [i for i in registry if "/" not in i][:20]
