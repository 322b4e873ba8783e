"""Envs restored mid-episode continue exactly: same observations, rewards and ends."""

import io

import numpy as np
import pytest
import torch

from slm_lab.env.snapshot import restorable
from slm_lab.env.vec_env import Clock, VecEnv

NUM_ENVS = 3


def actions(rng: np.random.Generator, env: VecEnv) -> np.ndarray:
    space = env.batch_action_space
    if space.dtype == np.int64:
        return rng.integers(0, env.action_space.n, NUM_ENVS)
    return rng.uniform(-1, 1, space.shape).astype(np.float32)


def steps(env: VecEnv, rng: np.random.Generator, n: int) -> list:
    return [env.step(actions(rng, env))[:4] for _ in range(n)]


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("CartPole-v1", "sync"),
        ("CartPole-v1", "async"),
        ("Pendulum-v1", "sync"),
        ("Hopper-v5", "sync"),
    ],
)
def test_restored_envs_continue_exactly(name: str, mode: str):
    spec = {"name": name, "num_envs": NUM_ENVS, "max_frame": 10_000, "vectorization_mode": mode}
    env = VecEnv(spec, Clock(10_000, NUM_ENVS))
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    steps(env, rng, 40)
    buf = io.BytesIO()
    torch.save(env.snapshot(), buf)
    buf.seek(0)
    snap = torch.load(buf, weights_only=True)
    state = rng.bit_generator.state
    expected = steps(env, rng, 60)
    fresh = VecEnv(spec, Clock(10_000, NUM_ENVS))
    fresh.reset(seed=99)
    assert fresh.restore(snap)
    rng.bit_generator.state = state
    for want, got in zip(expected, steps(fresh, rng, 60), strict=True):
        for a, b in zip(want, got, strict=True):
            np.testing.assert_array_equal(a, b)
    assert fresh.tracker.episodes == env.tracker.episodes > 0 or name == "Pendulum-v1"
    env.close()
    fresh.close()


def test_families_that_cannot_be_restored_say_so():
    assert restorable("CartPole-v1") and restorable("HalfCheetah-v5")
    assert not restorable("LunarLander-v3") and not restorable("ALE/Pong-v5")
