"""Learning thresholds on small seeded runs (slow)."""

from pathlib import Path

import pandas as pd
import pytest

from slm_lab.experiment.run import start
from slm_lab.spec import load_spec

SOLVED = 195.0  # CartPole-v1's classic "solved" bar for a 100-episode mean


def best_return(
    tmp_path: Path, family: str, name: str, frames: int, seed: int, shrink=None
) -> float:
    """The best 100-episode mean return of one seeded session of a shipped spec, shortened
    (and made smaller by `shrink`, a function editing the spec)."""
    loaded = load_spec(f"slm_lab/spec/benchmark/{family}/{name}.json", name)
    spec = loaded.spec
    spec["env"]["max_frame"] = frames
    if shrink is not None:
        shrink(spec)
    spec["meta"].update(max_session=1, random_seed=seed)
    start(spec, loaded.file, "train", False, "WARNING", tmp_path)
    (run,) = tmp_path.iterdir()
    df = pd.read_csv(run / "info" / f"{name}_t0_s0_session_df_train.csv")
    return float(df["total_reward"].max())


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ppo_cartpole_learns(tmp_path: Path, seed: int):
    assert best_return(tmp_path, "ppo", "ppo_cartpole", 100_000, seed) >= SOLVED


DQN_BAR = 150.0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dqn_cartpole_learns(tmp_path: Path, seed: int):
    assert best_return(tmp_path, "dqn", "dqn_cartpole", 60_000, seed) >= DQN_BAR


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a2c_cartpole_learns(tmp_path: Path, seed: int):
    assert best_return(tmp_path, "a2c", "a2c_gae_cartpole", 100_000, seed) >= SOLVED


PENDULUM_BAR = -400.0


def one_env_batch_64(spec: dict) -> None:
    """One env instead of four at the spec's gradient step a frame, on batches of 64: its
    learning rule at a fraction of the cost."""
    spec["env"]["num_envs"] = 1
    spec["agent"]["algorithm"]["training_iter"] = 1
    spec["agent"]["memory"]["batch_size"] = 64


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sac_pendulum_learns(tmp_path: Path, seed: int):
    assert (
        best_return(tmp_path, "sac", "sac_pendulum", 25_000, seed, one_env_batch_64) > PENDULUM_BAR
    )


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_discrete_crossq_cartpole_learns(tmp_path: Path, seed: int):
    assert best_return(tmp_path, "crossq", "crossq_cartpole", 30_000, seed) >= SOLVED


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_continuous_crossq_pendulum_learns(tmp_path: Path, seed: int):
    assert best_return(tmp_path, "crossq", "crossq_pendulum", 25_000, seed) > PENDULUM_BAR
