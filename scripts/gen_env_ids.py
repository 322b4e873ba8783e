"""Write slm_lab/spec/env_ids.json: the Gymnasium and ALE env ids of this install, so a spec's
env name is checked without gymnasium (run-remote on the minimal install).

    uv run python scripts/gen_env_ids.py

test/spec/test_names.py fails when the file no longer matches the installed registry.
"""

import json
from pathlib import Path

import ale_py
import gymnasium as gym

OUT = Path(__file__).parent.parent / "slm_lab" / "spec" / "env_ids.json"


def env_ids() -> list[str]:
    gym.register_envs(ale_py)
    return sorted(gym.registry)


def main() -> None:
    OUT.write_text(json.dumps(env_ids(), indent=0) + "\n")
    print(f"{OUT}: {len(env_ids())} env ids")


if __name__ == "__main__":
    main()
