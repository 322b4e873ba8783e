"""GAE against hand-computed values, with terminated and truncated ends."""

import numpy as np
import pytest

from slm_lab.lib.math_util import gae

GAMMA, LAM = 0.9, 0.8


def col(*xs: float) -> np.ndarray:
    return np.array(xs, dtype=np.float64)[:, None]


def test_gae_terminated_stops_bootstrap():
    advs = gae(
        col(1, 1, 1), col(0.5, 0.6, 0.7), col(0.6, 0.7, 0.8), col(0, 0, 1), col(0, 0, 1), GAMMA, LAM
    )
    # delta2 = 1 - 0.7; delta1 = 1 + 0.9 * 0.7 - 0.6; delta0 = 1 + 0.9 * 0.6 - 0.5; decay 0.72
    assert advs[:, 0] == pytest.approx([1.93712, 1.246, 0.3])


def test_gae_truncated_bootstraps_from_final_value_and_cuts_trace():
    # truncated at t=1: next value is V(final obs) = 2.0, and the trace does not cross
    advs = gae(
        col(1, 1, 1), col(0.5, 0.6, 0.7), col(0.6, 2.0, 0.8), col(0, 0, 0), col(0, 1, 0), GAMMA, LAM
    )
    assert advs[:, 0] == pytest.approx([2.624, 2.2, 1.02])


def test_gae_envs_independent():
    rewards = np.array([[1.0, 0.0], [1.0, 0.0]])
    zeros = np.zeros((2, 2))
    advs = gae(rewards, zeros, zeros, zeros, zeros, 1.0, 1.0)
    assert advs.tolist() == [[2.0, 0.0], [1.0, 0.0]]
