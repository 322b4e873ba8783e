"""OnPolicyCrossEntropy: only episodes at or above the return quantile are handed over."""

import numpy as np
import pytest

from slm_lab.agent.memory.onpolicy import OnPolicyCrossEntropy
from slm_lab.lib.errors import SpecError
from slm_lab.spec.validate import validate
from test.agent.memory.test_replay import layout
from test.conftest import tiny_ppo

# one env, four episodes of two steps; their returns are 1, 4, 2 and 3
REWARDS = [(0.0, 1.0), (2.0, 2.0), (1.0, 1.0), (3.0, 0.0)]


def filled(cross_entropy: float) -> OnPolicyCrossEntropy:
    mem = OnPolicyCrossEntropy({"cross_entropy": cross_entropy}, layout())
    for episode, rewards in enumerate(REWARDS):
        for t, reward in enumerate(rewards):
            obs = np.array([[10.0 * episode + t]], np.float32)
            end = np.array([t == 1])
            mem.add(obs, np.array([0]), np.array([reward]), obs + 1, end, np.array([False]))
    assert mem.size == len(REWARDS)
    return mem


def kept(mem: OnPolicyCrossEntropy) -> list[int]:
    """The episodes handed over, by their index (the tens of the stored observations)."""
    obs = mem.sample()["obs"][:, 0].numpy()
    return sorted({int(o // 10) for o in obs})


@pytest.mark.parametrize(
    ("cross_entropy", "episodes"),
    [
        (1.0, [0, 1, 2, 3]),  # no filter, as the original
        (0.0, [0, 1, 2, 3]),  # bound: the lowest return
        (0.5, [1, 3]),  # median of 1, 2, 3, 4 is 2.5: returns 4 and 3
        (0.6, [1, 3]),  # 2.8 by linear interpolation
        (0.7, [1]),  # 3.1
    ],
)
def test_keeps_episodes_at_or_above_the_quantile(cross_entropy: float, episodes: list[int]):
    mem = filled(cross_entropy)
    assert kept(mem) == episodes
    assert mem.size == 0  # handed over, dropped or not


def test_validated_with_its_default_and_range():
    raw = tiny_ppo()
    raw["agent"]["algorithm"] = {"name": "Reinforce", "training_frequency": 4}
    raw["agent"]["memory"] = {"name": "OnPolicyCrossEntropy"}
    assert validate(raw)[0]["agent"]["memory"]["cross_entropy"] == 1.0
    raw["agent"]["memory"]["cross_entropy"] = 1.5
    with pytest.raises(SpecError, match=r"must be <= 1\.0") as err:
        validate(raw)
    assert err.value.path == "agent.memory.cross_entropy"
