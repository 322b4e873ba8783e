"""Write slm_lab/spec/env_ids.json: the Gymnasium and ALE env ids of this install, and MuJoCo
Playground's as `playground/<Env>`, so a spec's env name is checked without gymnasium (run-remote
on the minimal install).

    uv run --group playground python scripts/gen_env_ids.py

Without the playground group the table keeps the Playground ids it has. test/spec/test_names.py
fails when the file no longer matches the installed Gymnasium registry;
test/env/test_playground.py (slow) when it no longer matches MuJoCo Playground's.
"""

import importlib.util
import json
from pathlib import Path

import ale_py
import gymnasium as gym

OUT = Path(__file__).parent.parent / "slm_lab" / "spec" / "env_ids.json"
PLAYGROUND = "playground/"


def gym_ids() -> list[str]:
    gym.register_envs(ale_py)
    return sorted(gym.registry)


def listed_playground_ids() -> list[str]:
    """The Playground ids the table holds now."""
    return [i for i in json.loads(OUT.read_text()) if i.startswith(PLAYGROUND)]


def playground_ids() -> list[str]:
    """MuJoCo Playground's registry (slow: imports JAX), else the table's."""
    if importlib.util.find_spec("mujoco_playground") is None:
        print("mujoco_playground is not installed: the table keeps its playground/ ids")
        return listed_playground_ids()
    from mujoco_playground import registry

    return [PLAYGROUND + name for name in registry.ALL_ENVS]


def env_ids() -> list[str]:
    """The table as it should be for this install's Gymnasium (Playground's as listed)."""
    return sorted({*gym_ids(), *listed_playground_ids()})


def main() -> None:
    ids = sorted({*gym_ids(), *playground_ids()})
    OUT.write_text(json.dumps(ids, indent=0) + "\n")
    print(f"{OUT}: {len(ids)} env ids")


if __name__ == "__main__":
    main()
