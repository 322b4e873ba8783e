"""Random: uniform actions score the random-policy baseline."""

import json
from pathlib import Path

import pytest

from slm_lab.env.baseline import random_return
from slm_lab.experiment.run import start
from slm_lab.spec.validate import validate
from test.conftest import tiny_ppo


def test_random_agent_scores_the_baseline(tmp_path: Path):
    raw = tiny_ppo(max_frame=8000, log_frequency=1000)
    raw["agent"]["algorithm"] = {"name": "Random"}
    raw["env"]["num_envs"] = 4
    spec, _ = validate(raw)
    spec["name"] = "random_cartpole"
    _, metrics = start(spec, Path("inline"), "train", False, "WARNING", tmp_path)
    (run,) = tmp_path.iterdir()
    session = json.loads(
        (run / "info" / "random_cartpole_t0_s0_session_metrics_scalar.json").read_text()
    )
    assert session["total_reward_ma"] == pytest.approx(random_return("CartPole-v1"), abs=4.0)
    assert abs(metrics["strength"]) < 4.0
    assert (
        metrics["training_efficiency"] != metrics["training_efficiency"]
    )  # NaN: no optimizer steps
    models = [p.name for p in (run / "model").iterdir()]
    assert models == ["random_cartpole_t0_s0_resume.pt"]  # no weights: only the env and RNG state
