"""Sum tree: totals, updates, and draws in proportion to priority."""

import numpy as np
import pytest

from slm_lab.agent.memory.sum_tree import SumTree


@pytest.mark.parametrize("capacity", [1, 5, 64, 65, 4097, 70_000])
def test_total_is_the_sum_of_leaves(capacity: int):
    tree = SumTree(capacity)
    values = np.arange(1, capacity + 1, dtype=float)
    tree.set(np.arange(capacity), values)
    assert tree.total == pytest.approx(values.sum())
    tree.set(np.array([0, 0]), np.array([10.0, 10.0]))  # a repeated index is harmless
    assert tree.total == pytest.approx(values.sum() - 1 + 10)
    assert tree.get(np.array([0])).tolist() == [10.0]


def test_find_walks_the_running_sum():
    tree = SumTree(4)
    tree.set(np.arange(4), np.array([1.0, 0.0, 2.0, 3.0]))
    u = np.array([0.0, 0.999, 1.0, 2.5, 3.0, 5.999])
    assert tree.find(u).tolist() == [0, 0, 2, 2, 3, 3]  # the zero leaf is never found


def test_sampling_frequencies_follow_priorities():
    rng = np.random.default_rng(0)
    tree = SumTree(6)
    priority = np.array([1.0, 2.0, 0.0, 4.0, 8.0, 1.0])
    tree.set(np.arange(6), priority)
    draws = np.concatenate([tree.sample(64, rng) for _ in range(2000)])
    freq = np.bincount(draws, minlength=6) / len(draws)
    expected = priority / priority.sum()
    assert freq[2] == 0
    # 128k draws: the standard error of each frequency is below 0.0015
    np.testing.assert_allclose(freq, expected, atol=0.006)


def test_updates_change_the_distribution():
    rng = np.random.default_rng(1)
    tree = SumTree(3)
    tree.set(np.arange(3), np.array([1.0, 1.0, 1.0]))
    tree.set(np.array([1]), np.array([0.0]))
    draws = np.concatenate([tree.sample(30, rng) for _ in range(100)])
    assert set(draws.tolist()) == {0, 2}


def test_find_matches_a_flat_running_sum_across_levels():
    """Three levels of 64-wide nodes agree with searching the flat cumulative sum."""
    rng = np.random.default_rng(2)
    tree = SumTree(70_000)
    priority = rng.random(70_000) * (rng.random(70_000) < 0.5)  # half of them zero
    tree.set(np.arange(70_000), priority)
    assert len(tree.levels) == 3
    u = rng.random(5000) * tree.total
    expected = np.searchsorted(np.cumsum(priority), u, side="right")
    np.testing.assert_array_equal(tree.find(u), expected)
    assert (priority[tree.find(u)] > 0).all()
