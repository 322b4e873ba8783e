"""Envs restored mid-episode continue exactly: same observations, rewards and ends."""

import io

import numpy as np
import pytest
import torch

from slm_lab.env.snapshot import restorable
from slm_lab.env.vec_env import ReturnTracker, VecEnv
from test.conftest import env_spec

NUM_ENVS = 3


def actions(rng: np.random.Generator, env: VecEnv) -> np.ndarray:
    space = env.batch_action_space
    if space.dtype == np.int64:
        return rng.integers(0, env.action_space.n, NUM_ENVS)
    return rng.uniform(-1, 1, space.shape).astype(np.float32)


def steps(env: VecEnv, rng: np.random.Generator, n: int, tracker: ReturnTracker) -> list:
    out = []
    for _ in range(n):
        step = env.step(actions(rng, env))
        tracker.add(step.score, step.ended)
        out.append(step[:4])
    return out


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("CartPole-v1", "sync"),
        pytest.param("CartPole-v1", "async", marks=pytest.mark.slow),  # subprocess envs: 10 s
        ("Pendulum-v1", "sync"),
        ("Hopper-v5", "sync"),
    ],
)
def test_restored_envs_continue_exactly(name: str, mode: str):
    spec = env_spec(name=name, num_envs=NUM_ENVS, max_frame=10_000, vectorization_mode=mode)
    env, tracker = VecEnv(spec), ReturnTracker(NUM_ENVS)
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    steps(env, rng, 40, tracker)
    buf = io.BytesIO()
    torch.save({**env.snapshot(), "tracker": tracker.state_dict()}, buf)  # as a session does
    buf.seek(0)
    snap = torch.load(buf, weights_only=True)
    state = rng.bit_generator.state
    expected = steps(env, rng, 60, tracker)
    fresh, fresh_tracker = VecEnv(spec), ReturnTracker(NUM_ENVS)
    fresh.reset(seed=99)
    assert fresh.restore(snap)
    fresh_tracker.load_state_dict(snap["tracker"])
    rng.bit_generator.state = state
    for want, got in zip(expected, steps(fresh, rng, 60, fresh_tracker), strict=True):
        for a, b in zip(want, got, strict=True):
            np.testing.assert_array_equal(a, b)
    assert fresh_tracker.episodes == tracker.episodes > 0 or name == "Pendulum-v1"
    env.close()
    fresh.close()


def test_families_that_cannot_be_restored_say_so():
    assert restorable("CartPole-v1") and restorable("HalfCheetah-v5")
    assert not restorable("LunarLander-v3") and not restorable("ALE/Pong-v5")
