"""Observation and reward normalisation: statistics, clipping, raw scores, state round trip."""

import numpy as np
import pytest

from slm_lab.env.normalize import ObsNorm, RewardNorm
from slm_lab.env.vec_env import ReturnTracker, VecEnv
from slm_lab.lib.math_util import RunningStats
from slm_lab.spec.validate import validate

SEED = 3


def mujoco_env(num_envs: int = 2, obs_norm: ObsNorm | None = None, **env) -> VecEnv:
    spec = {
        "agent": {
            "algorithm": {"name": "PPO"},
            "memory": {"name": "OnPolicyBatchReplay"},
            "net": {"type": "MLPNet"},
        },
        "env": {
            "name": "HalfCheetah-v5",
            "num_envs": num_envs,
            "max_frame": 10**6,
            "normalize_obs": True,
            "normalize_reward": True,
            **env,
        },
        "meta": {},
    }
    full, _ = validate(spec)
    return VecEnv(full["env"], gamma=0.99, obs_norm=obs_norm)


def run(env: VecEnv, steps: int, seed: int = SEED, tracker=None) -> list[tuple]:
    """The reset observations, then `steps` steps (their returns fed to `tracker`)."""
    rng = np.random.default_rng(seed)
    out = [(env.reset(seed=seed),)]
    for _ in range(steps):
        step = env.step(rng.uniform(-1, 1, (env.num_envs, 6)).astype(np.float32))
        if tracker is not None:
            tracker.add(step.score, step.ended)
        out.append(step)
    return out


def test_running_mean_var_matches_numpy_over_batches():
    data = np.random.default_rng(0).normal(3.0, 2.0, (500, 4))
    stats = RunningStats((4,))
    for batch in np.split(data, 10):
        stats.update(batch)
    np.testing.assert_allclose(stats.mean, data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(stats.var, data.var(0), rtol=1e-4)


def test_obs_norm_centres_scales_and_clips():
    norm = ObsNorm((2,), clip=5.0)
    norm.update(np.array([[0.0, 10.0], [2.0, 30.0]]))
    out = norm(np.array([[1.0, 20.0], [1.0, 1e6]]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0], [0.0, 0.0], atol=1e-3)  # STATS_EPS weighs the prior
    assert out[1, 1] == 5.0


def test_reward_norm_divides_by_return_std_and_restarts_returns():
    norm = RewardNorm(num_envs=2, gamma=0.5, clip=10.0)
    out = norm(np.array([1.0, 2.0]), np.array([False, True]))
    np.testing.assert_array_equal(norm.ret, [1.0, 0.0])  # env 1's episode ended
    assert out[1] / out[0] == pytest.approx(2.0)  # one scale for both: signs and ratios kept
    assert norm.stats.count == pytest.approx(2.0, abs=1e-3)


def test_mujoco_env_learns_on_normalised_values_and_scores_raw_rewards():
    env, tracker = mujoco_env(max_t=50), ReturnTracker(2)
    steps = run(env, 120, tracker=tracker)
    obs = np.concatenate([s[0] for s in steps])
    rewards = np.concatenate([s[1] for s in steps[1:]])
    assert obs.dtype == np.float32 and np.abs(obs).max() <= 10.0
    assert abs(obs.mean()) < 0.5 and 0.3 < obs.std() < 2.0
    assert env.clip_reward == 10.0 and np.abs(rewards).max() <= 10.0
    assert tracker.episodes == 4  # two envs, 50-step episodes, 120 steps
    # the scores are the raw returns: HalfCheetah random policies score well below zero per
    # 50 steps while the normalised rewards sum to something else entirely
    assert all(r < 0 for r in tracker.returns)
    assert not np.isclose(sum(tracker.returns), rewards.sum())
    env.close()


def test_normaliser_state_round_trip_continues_identically():
    a = mujoco_env()
    run(a, 40)
    state = a.state_dict()
    assert set(state) == {"obs_norm", "reward_norm"}
    after_a = run(a, 20, seed=SEED + 1)
    b = mujoco_env()
    b.load_state_dict(state)
    after_b = run(b, 20, seed=SEED + 1)
    for step_a, step_b in zip(after_a, after_b, strict=True):
        for x, y in zip(step_a, step_b, strict=True):
            np.testing.assert_array_equal(x, y)
    a.close()
    b.close()


def test_mismatched_normaliser_state_is_refused():
    a = mujoco_env()
    with pytest.raises(ValueError, match="saved env state has"):
        a.load_state_dict({"obs_norm": a.obs_norm.state_dict()})
    with pytest.raises(ValueError, match=r"shape \(3,\) do not fit observations of shape \(17,\)"):
        a.obs_norm.load_state_dict({"mean": np.zeros(3), "var": np.ones(3), "count": 1.0})
    a.close()


def test_eval_env_reads_the_training_statistics_without_changing_them():
    train = mujoco_env()
    run(train, 30)
    before = train.obs_norm.state_dict()
    evaluation = mujoco_env(obs_norm=train.obs_norm)
    run(evaluation, 30)
    after = train.obs_norm.state_dict()
    np.testing.assert_array_equal(before["mean"], after["mean"])
    assert before["count"] == after["count"]
    assert evaluation.state_dict() == {}  # nothing of its own to checkpoint
    train.close()
    evaluation.close()


def test_action_rescaling_spans_the_env_bounds():
    from slm_lab.lib.distribution import action_pd

    env = mujoco_env(num_envs=1)
    pd = action_pd("default", env.action_space)
    unit = np.array([[-1.0] * 6, [1.0] * 6, [3.0] * 6], np.float32)
    out = pd.to_env(unit)
    np.testing.assert_array_equal(out[0], env.action_space.low)
    np.testing.assert_array_equal(out[1], env.action_space.high)
    np.testing.assert_array_equal(out[2], env.action_space.high)  # clipped into the box
    env.close()
