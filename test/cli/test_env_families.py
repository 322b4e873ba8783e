"""The shipped Atari and MuJoCo specs train end to end through the real CLI, shrunk to a few
thousand frames: PPO on Pong, DQN on Breakout, SAC on HalfCheetah."""

import json
from pathlib import Path

import pandas as pd
import pytest

from slm_lab import ROOT
from test.conftest import run_cli, run_dirs, write_spec

BENCHMARK = ROOT / "spec" / "benchmark"
PONG_SCORES = (-21.0, 21.0)


def shipped(family: str, file: str, name: str) -> dict:
    return json.loads((BENCHMARK / family / file).read_text())[name]


def small(raw: dict, num_envs: int, max_frame: int, log_frequency: int) -> dict:
    raw["env"].update(num_envs=num_envs, max_frame=max_frame)
    raw["meta"].update(max_session=1, log_frequency=log_frequency, eval_frequency=log_frequency)
    return raw


def ppo_pong() -> dict:
    raw = small(shipped("ppo", "ppo_atari.json", "ppo_atari"), 8, 8192, 1024)
    raw["agent"]["algorithm"].update(time_horizon=128, minibatch_size=256)
    raw.pop("search")
    return raw


def dqn_breakout() -> dict:
    raw = small(shipped("dqn", "dqn_atari.json", "dqn_atari"), 4, 3000, 500)
    raw["agent"]["algorithm"]["training_start_step"] = 1000
    raw["agent"]["memory"]["max_size"] = 5000
    return raw


def sac_halfcheetah() -> dict:
    raw = small(shipped("sac", "sac_mujoco.json", "sac_mujoco"), 4, 3000, 500)
    raw["agent"]["algorithm"].update(
        training_start_step=1000, training_frequency=4, training_iter=1
    )
    raw["agent"]["memory"].update(max_size=10000, batch_size=64)
    raw["agent"]["net"]["hid_layers"] = [64, 64]  # one torch thread: fast on a loaded machine
    return raw


CASES = {
    "ppo_atari": (ppo_pong, "env=ALE/Pong-v5", "ppo_atari_pong"),
    "dqn_atari": (dqn_breakout, "env=ALE/Breakout-v5", "dqn_atari_breakout"),
    "sac_mujoco": (sac_halfcheetah, "env=HalfCheetah-v5", "sac_mujoco_halfcheetah"),
}


SLOW = ("ppo_atari", "dqn_atari", "sac_mujoco")  # Nature CNNs and 256x256 SAC nets: 15-40 s each


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in CASES]
)
def test_env_family_trains_through_the_cli(tmp_path: Path, name: str):
    build, env_var, run_name = CASES[name]
    raw = build()
    path = write_spec(tmp_path, {name: raw})
    result = run_cli("run", str(path), name, "dev", "-s", env_var, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = run_dirs(tmp_path)
    saved = json.loads((run / f"{run_name}_spec.json").read_text())
    metrics = json.loads((run / f"{run_name}_t0_trial_metrics_scalar.json").read_text())
    assert metrics["frame"] == raw["env"]["max_frame"]
    df = pd.read_csv(run / "info" / f"{run_name}_t0_s0_session_df_train.csv")
    assert df["frame"].iloc[-1] == raw["env"]["max_frame"]
    assert df["opt_step"].iloc[-1] > 0 and df["loss"].notna().any()
    if name == "ppo_atari":
        env = saved["env"]
        assert (env["frameskip"], env["repeat_action_probability"], env["frame_stack"]) == (
            4,
            0.25,
            4,
        )
        # full games with raw scores: 8 envs x 1024 random steps finish some Pong games
        finished = df["total_reward"].dropna()
        assert len(finished) and finished.between(*PONG_SCORES).all()
        assert (finished < -1).all()  # not clipped per-point rewards: a random player loses big
        check_atari_enjoy_video(tmp_path)


def check_atari_enjoy_video(cwd: Path) -> None:
    """Atari has no renderer on the native vector env: the video shows what the agent sees."""
    import imageio.v3 as iio

    result = run_cli(
        "run", "spec.json", "ppo_atari", "enjoy@latest", "--video", "--episodes", "1", cwd=cwd
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (out,) = [d for d in run_dirs(cwd) if "_enjoy_" in d.name]
    metrics = json.loads((out / "ppo_atari_pong_enjoy_metrics.json").read_text())
    frames = iio.imread(out / metrics["video"])
    assert frames.shape == (metrics["video_frames"], 336, 336, 3)
    assert PONG_SCORES[0] <= metrics["returns"][0] <= PONG_SCORES[1]
