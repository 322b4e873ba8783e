"""The stored random-policy baselines are what our script measures."""

import math

import pytest

from slm_lab.env import baseline

SHIPPED_ENVS = ("CartPole-v1", "Acrobot-v1", "LunarLander-v3")


def test_shipped_envs_have_baselines():
    assert set(SHIPPED_ENVS) <= set(baseline.baselines())


def test_regenerated_baseline_matches():
    stored = baseline.baselines()["CartPole-v1"]
    again = baseline.measure("CartPole-v1", stored["episodes"], stored["seed"])
    assert again["mean"] == pytest.approx(stored["mean"], rel=1e-9)
    other_seed = baseline.measure("CartPole-v1", stored["episodes"], seed=stored["seed"] + 1)
    stderr = stored["std"] / math.sqrt(stored["episodes"])
    assert abs(other_seed["mean"] - stored["mean"]) < 4 * stderr


def test_unknown_env_strength_from_zero():
    assert baseline.random_return("NoSuchEnv-v0") == 0.0
