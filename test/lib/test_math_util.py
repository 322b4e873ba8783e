"""GAE, n-step and Monte-Carlo returns against hand-computed values, with terminated and truncated
ends; running statistics against numpy."""

import math

import numpy as np
import pytest
import torch

from slm_lab.lib.math_util import (
    PercentileScale,
    RunningStats,
    discounted_returns,
    gae,
    nstep_returns,
    symlog,
)

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


REWARDS = col(1, 2, 3, 4)
NEXT_V = col(10, 20, 30, 40)
NONE = col(0, 0, 0, 0)


def test_nstep_bootstraps_after_n_steps_and_at_the_batch_end():
    ret = nstep_returns(REWARDS, NEXT_V, NONE, NONE, GAMMA, 2)
    # 1 + .9*2 + .81*20; 2 + .9*3 + .81*30; 3 + .9*4 + .81*40; the batch ends: 4 + .9*40
    assert ret[:, 0] == pytest.approx([19.0, 29.0, 39.0, 40.0])


def test_nstep_terminated_stops_the_sum_without_bootstrap():
    ret = nstep_returns(REWARDS, NEXT_V, col(0, 1, 0, 0), col(0, 1, 0, 0), GAMMA, 2)
    assert ret[:, 0] == pytest.approx([1 + 0.9 * 2, 2.0, 39.0, 40.0])


def test_nstep_truncated_bootstraps_from_the_final_observation():
    next_v = col(10, 25, 30, 40)  # V of the truncated episode's real last observation at t=1
    ret = nstep_returns(REWARDS, next_v, NONE, col(0, 1, 0, 0), GAMMA, 2)
    assert ret[:, 0] == pytest.approx([1 + 0.9 * 2 + 0.81 * 25, 2 + 0.9 * 25, 39.0, 40.0])


def test_nstep_longer_than_the_batch():
    ret = nstep_returns(REWARDS, NEXT_V, NONE, NONE, GAMMA, 10)
    assert ret[0, 0] == pytest.approx(1 + 0.9 * 2 + 0.81 * 3 + 0.729 * 4 + 0.6561 * 40)


def test_nstep_one_step_is_td_target():
    ret = nstep_returns(REWARDS, NEXT_V, col(0, 0, 1, 0), col(0, 0, 1, 0), GAMMA, 1)
    assert ret[:, 0] == pytest.approx([1 + 9.0, 2 + 18.0, 3.0, 4 + 36.0])


def test_discounted_returns_restart_after_each_episode_end():
    ret = discounted_returns(col(1, 1, 1, 1), col(0, 1, 0, 0), GAMMA)
    assert ret[:, 0] == pytest.approx([1.9, 1.0, 1.9, 1.0])


def test_running_stats_match_numpy_over_all_batches():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, n) for n in (5, 50, 1)]
    stats = RunningStats()
    for batch in batches:
        stats.update(batch)
    all_x = np.concatenate(batches)
    assert stats.mean == pytest.approx(all_x.mean(), rel=1e-4)
    assert stats.var == pytest.approx(all_x.var(), rel=1e-3)


def test_symlog_by_hand():
    x = torch.tensor([0.0, math.e - 1, -(math.e**2 - 1), 0.5, -1e6])
    expected = [0.0, 1.0, -2.0, math.log(1.5), -math.log(1e6 + 1)]
    assert symlog(x).tolist() == pytest.approx(expected, rel=1e-6)


def test_percentile_scale_tracks_the_5_95_range_by_moving_average():
    """The original's PercentileNormalizer: low/high move 1% towards each batch's 5th/95th
    percentiles (from 0); advantages are divided by max(1, high - low)."""
    x = torch.arange(101.0) * 100  # percentiles 500 and 9500
    scale = PercentileScale()
    torch.testing.assert_close(scale(x), x / 90.0)  # low 5, high 95
    torch.testing.assert_close(scale(x), x / 179.1)  # low 9.95, high 189.05
    assert scale.state_dict() == pytest.approx({"low": 9.95, "high": 189.05})
    small = torch.arange(101.0) / 100  # a range under 1 is not scaled up
    torch.testing.assert_close(PercentileScale()(small), small)
