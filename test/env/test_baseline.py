"""Random-policy baselines: measured by our own script, stored for every env we ship a spec for."""

import json
import re

import pytest

from slm_lab import ROOT
from slm_lab.env import baseline

SPEC_DIR = ROOT / "spec"


def concrete_env_names() -> set[str]:
    """Env ids written in the shipped specs (those that take ${env} are covered by SHIPPED)."""
    names = set()
    for file in SPEC_DIR.rglob("*.json"):
        names |= set(re.findall(r'"name": "([^"$]+-v\d+)"', file.read_text()))
    return names


def test_every_shipped_env_has_a_baseline():
    table = baseline.baselines()
    missing = (concrete_env_names() | set(baseline.SHIPPED)) - set(table)
    assert not missing
    for name in concrete_env_names() | set(baseline.SHIPPED):
        assert table[name]["episodes"] >= 100 and table[name]["std"] >= 0


def test_the_original_lists_envs_have_baselines():
    """Every env of the original's list but long Atari games not measured yet (slm_lab.env.baseline
    --original measures them), each entry saying how many episodes it averages."""
    table = baseline.baselines()
    missing = set(baseline.original_envs()) - set(table)
    assert all(name.startswith("ALE/") for name in missing), missing
    for name in set(baseline.original_envs()) & set(table):
        assert table[name]["episodes"] >= 1 and table[name]["std"] >= 0


@pytest.mark.slow
def test_a_stored_baseline_regenerates_exactly():
    entry = baseline.baselines()["Acrobot-v1"]
    assert baseline.measure("Acrobot-v1") == entry


def test_atari_baselines_are_full_game_raw_scores():
    table = baseline.baselines()
    assert -21 <= table["ALE/Pong-v5"]["mean"] < -19  # a random player loses almost every point
    assert table["ALE/SpaceInvaders-v5"]["mean"] > 50  # aliens are worth 5-30 points: not clipped


def test_measure_is_seeded_and_counts_each_env_equally():
    a = baseline.measure("CartPole-v1", episodes=8, seed=1, num_envs=2)
    b = baseline.measure("CartPole-v1", episodes=8, seed=1, num_envs=2)
    assert a == b and a["episodes"] == 8 and a["num_envs"] == 2
    assert 8 < a["mean"] < 60  # random CartPole episodes last about 22 steps


def test_unknown_env_scores_from_zero():
    assert baseline.random_return("NoSuchEnv-v0") == 0.0


@pytest.mark.parametrize("name", ["ALE/Pong-v5", "HalfCheetah-v5"])
def test_stored_entry_records_how_it_was_measured(name: str):
    entry = json.loads(baseline.BASELINE_FILE.read_text())[name]
    assert entry["seed"] == baseline.SEED and entry["num_envs"] == baseline.NUM_ENVS


def test_the_original_list_ignores_envs_a_program_registers():
    import test.experiment.crash_env  # noqa: F401  registers SlmTest/ envs

    assert not [name for name in baseline.original_envs() if name.startswith("SlmTest/")]


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_prints_usage_and_measures_nothing(flag, capsys, monkeypatch):
    def measured(*_, **__):
        raise AssertionError("--help measured an env")

    monkeypatch.setattr(baseline, "measure", measured)
    baseline.main([flag])
    assert "uv run python -m slm_lab.env.baseline [ENV_ID ...]" in capsys.readouterr().out
