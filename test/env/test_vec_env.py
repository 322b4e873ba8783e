"""Autoreset and truncation on a tiny env: no transition crosses an episode boundary."""

import gymnasium as gym
import numpy as np
import pytest

from slm_lab.agent.memory.base import Layout
from slm_lab.agent.memory.onpolicy import OnPolicyBatchReplay
from slm_lab.env.vec_env import ReturnTracker, VecEnv
from slm_lab.experiment.loop import Clock
from test.conftest import env_spec

COUNTER = "SlmTest/Counter-v0"


class Counter(gym.Env):
    """obs = steps taken; reward 1 a step; terminates after `term_at` steps."""

    observation_space = gym.spaces.Box(0, 1000, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, term_at: int = 1000) -> None:
        self.term_at = term_at
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t], np.float32), 1.0, self.t >= self.term_at, False, {}


if COUNTER not in gym.registry:
    gym.register(COUNTER, entry_point=Counter)


def make(num_envs: int = 2, **env) -> VecEnv:
    return VecEnv(env_spec(name=COUNTER, num_envs=num_envs, max_frame=100) | env)


def tracked_step(env: VecEnv, tracker: ReturnTracker):
    """One step of action 0, its returns fed to the tracker as the training loop does."""
    step = env.step(np.zeros(env.num_envs, np.int64))
    tracker.add(step.score, step.ended)
    return step


def test_truncation_at_max_t_returns_reset_obs_and_real_final_obs():
    env, tracker = make(max_t=3), ReturnTracker(2)
    env.reset(seed=0)
    zeros = np.zeros(2, bool)
    for t in (1, 2):
        obs, _, term, trunc, real_next, _, ended = tracked_step(env, tracker)
        assert obs[:, 0].tolist() == [t, t] and (real_next is obs)
        assert not term.any() and not trunc.any() and ended is None
    obs, _reward, term, trunc, real_next, score, ended = tracked_step(env, tracker)
    assert trunc.all() and (term == zeros).all()  # max_t enforced as truncation
    assert obs[:, 0].tolist() == [0, 0]  # already reset
    assert real_next[:, 0].tolist() == [3, 3]  # the episode's real last observation
    assert ended.all() and score.tolist() == [1.0, 1.0]
    assert list(tracker.returns) == [3.0, 3.0] and tracker.episodes == 2


def test_termination_same_step_autoreset():
    env, tracker = make(term_at=2), ReturnTracker(2)
    env.reset(seed=0)
    tracked_step(env, tracker)
    obs, _, term, trunc, real_next, *_ = tracked_step(env, tracker)
    assert term.all() and not trunc.any()
    assert obs[:, 0].tolist() == [0, 0] and real_next[:, 0].tolist() == [2, 2]
    obs, *_ = tracked_step(env, tracker)
    assert obs[:, 0].tolist() == [1, 1]  # the new episode's first step, not a spurious one
    assert tracker.total_reward == 2.0


def test_total_reward_nan_before_first_episode():
    env, tracker = make(), ReturnTracker(2)
    env.reset(seed=0)
    tracked_step(env, tracker)
    assert np.isnan(tracker.total_reward)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vectorization_modes(mode: str):
    # async workers are spawned: "module:id" registers the test env in them too
    env = make(name=f"{__name__}:{COUNTER}", max_t=2, vectorization_mode=mode)
    env.reset(seed=0)
    env.step(np.zeros(2, np.int64))
    _, _, _, trunc, real_next, *_ = env.step(np.zeros(2, np.int64))
    assert trunc.all() and real_next[:, 0].tolist() == [2, 2]
    env.close()


def test_memory_keeps_final_obs_only_where_truncated():
    import torch

    env = make(max_t=3)
    clock = Clock(100, 2)
    layout = Layout(2, env.observation_space, env.action_space, 4, torch.device("cpu"), clock)
    memory = OnPolicyBatchReplay({}, layout)
    obs = env.reset(seed=0)
    full = False
    while not full:
        action = np.zeros(2, np.int64)
        next_obs, reward, term, trunc, real_next, *_ = env.step(action)
        memory.add(obs, action, reward, real_next, term, trunc)
        full = memory.size == layout.rollout  # an on-policy algorithm learns now
        obs = next_obs
    batch = memory.sample()
    assert batch["obs"][:, 0, 0].tolist() == [0, 1, 2, 0, 1]  # 4 steps + bootstrap row
    assert batch["truncated"][:, 0].tolist() == [False, False, True, False]
    assert batch["final_obs"][:, 0].tolist() == [3.0, 3.0]  # one per env, at t=2
    assert memory.t == 0


def test_mujoco_warnings_go_to_the_log_not_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = VecEnv(env_spec(name="Hopper-v5", num_envs=2, max_frame=10))
    env.reset(seed=0)
    env.close()
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()
