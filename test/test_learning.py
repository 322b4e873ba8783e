"""Learning thresholds on small seeded runs (slow)."""

from pathlib import Path

import pandas as pd
import pytest

from slm_lab.experiment import control
from slm_lab.spec import load_spec

SOLVED = 195.0  # CartPole-v1's classic "solved" bar for a 100-episode mean


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ppo_cartpole_learns(tmp_path: Path, seed: int):
    loaded = load_spec("slm_lab/spec/benchmark/ppo/ppo_cartpole.json", "ppo_cartpole")
    spec = loaded.spec
    spec["env"]["max_frame"] = 100_000
    spec["meta"].update(max_session=1, random_seed=seed)
    control.start(spec, loaded.file, "train", False, "WARNING", tmp_path)
    (run,) = tmp_path.iterdir()
    df = pd.read_csv(run / "info" / "ppo_cartpole_t0_s0_session_df_train.csv")
    assert df["total_reward"].max() >= SOLVED


DQN_BAR = 150.0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dqn_cartpole_learns(tmp_path: Path, seed: int):
    loaded = load_spec("slm_lab/spec/benchmark/dqn/dqn_cartpole.json", "dqn_cartpole")
    spec = loaded.spec
    spec["env"]["max_frame"] = 60_000
    spec["meta"].update(max_session=1, random_seed=seed)
    control.start(spec, loaded.file, "train", False, "WARNING", tmp_path)
    (run,) = tmp_path.iterdir()
    df = pd.read_csv(run / "info" / "dqn_cartpole_t0_s0_session_df_train.csv")
    assert df["total_reward"].max() >= DQN_BAR
