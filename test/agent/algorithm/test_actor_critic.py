"""REINFORCE, A2C (GAE and n-step), continuous PPO, SIL: targets by hand and real updates."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from slm_lab.agent import Agent
from slm_lab.agent.algorithm.sil import EpisodeReplay
from slm_lab.agent.net.base import WithLogStd
from slm_lab.env.vec_env import VecEnv
from test.conftest import make_agent as make
from test.conftest import tiny_a2c, tiny_ppo
from test.env.test_vec_env import COUNTER

GAMMA = 0.9


def a2c_spec(env_name: str = "CartPole-v1", max_t=None, **algo) -> dict:
    raw = tiny_a2c()
    raw["env"].update(name=env_name, max_t=max_t)
    raw["agent"]["algorithm"].update(algo)
    return raw


def fill(agent: Agent, env: VecEnv, steps: int) -> dict:
    """Step with action 0 until the memory hands over a batch."""
    obs = env.reset(seed=0)
    for _ in range(steps):
        action = np.zeros(env.num_envs, np.int64)
        next_obs, reward, term, trunc, real_next, *_ = env.step(action)
        agent.memory.add(obs, action, reward, real_next, term, trunc)
        obs = next_obs
    assert agent.memory.size == agent.algorithm.rollout  # the rollout is complete
    return agent.memory.sample()


def test_a2c_nstep_targets_through_truncation(monkeypatch):
    # COUNTER: obs[0] = step count, reward 1 per step; max_t 3 truncates at the third step
    raw = a2c_spec(
        COUNTER, max_t=3, lam=None, num_step_returns=2, training_frequency=4, gamma=GAMMA
    )
    agent, env = make(raw)
    algo = agent.algorithm
    algo.value = lambda x: x[:, 0].float()
    algo.policy = lambda x: torch.zeros(len(x), 2)
    data = algo.prepare(fill(agent, env, 4))
    ret = data["ret"].view(4, 2)[:, 0].tolist()
    # V: 0,1,2,0 | next V: 1,2,V(final)=3,1 | 2-step returns, the episode ends at t=2
    assert ret == pytest.approx([1 + 0.9 * 1 + 0.81 * 2, 1 + 0.9 * 1 + 0.81 * 3, 1 + 0.9 * 3, 1.9])
    adv = data["adv"].view(4, 2)[:, 0].tolist()
    assert adv == pytest.approx([r - v for r, v in zip(ret, [0, 1, 2, 0], strict=True)])


def test_a2c_needs_lam_or_nstep():
    with pytest.raises(ValueError, match="lam"):
        make(a2c_spec(lam=None, num_step_returns=None))


def test_a2c_update_raises_the_logprob_of_advantaged_actions():
    agent, _ = make(a2c_spec(entropy_coef_spec=None, val_loss_coef=0.0))
    algo = agent.algorithm
    obs = torch.zeros(4, 4)
    action = torch.tensor([1, 1, 1, 1])
    before = algo.pd.log_prob(algo.policy(obs), action).mean().item()
    algo.prepare = lambda batch: {
        "obs": obs,
        "action": action,
        "adv": torch.ones(4),
        "ret": torch.zeros(4),
    }
    algo.train({})
    after = algo.pd.log_prob(algo.policy(obs), action).mean().item()
    assert after > before


def test_normalize_v_targets_scales_critic_targets():
    agent, env = make(a2c_spec(normalize_v_targets=True, training_frequency=64))
    algo = agent.algorithm
    data = algo.prepare(fill(agent, env, 64))
    # returns of CartPole are far from zero mean, unit std; the critic's targets are not
    assert abs(algo.v_stats.mean) > 1.0
    assert abs(data["ret"].mean().item()) < abs(algo.v_stats.mean)


def test_reinforce_centred_returns_from_episodes():
    raw = tiny_a2c()
    raw["env"].update(name=COUNTER, max_t=3, num_envs=1)
    raw["agent"]["name"] = "Reinforce"
    raw["agent"]["algorithm"] = {
        "name": "Reinforce",
        "gamma": GAMMA,
        "training_frequency": 2,
        "center_return": True,
    }
    raw["agent"]["memory"] = {"name": "OnPolicyReplay"}
    agent, env = make(raw)
    batch = fill(agent, env, 6)  # two episodes of three steps
    steps = {"reward": batch["reward"][:, None], "dones": batch["truncated"].float()[:, None]}
    ret = agent.algorithm.returns(steps)
    raw_ret = [1 + 0.9 + 0.81, 1.9, 1.0] * 2
    mean = sum(raw_ret) / 6
    assert ret.tolist() == pytest.approx([r - mean for r in raw_ret])


def test_ppo_continuous_with_state_independent_log_std():
    raw = tiny_ppo()
    raw["env"]["name"] = "Pendulum-v1"
    raw["agent"]["net"]["log_std_init"] = -0.5
    agent, env = make(raw)
    actor = agent.algorithm.nets["actor"]
    assert isinstance(actor, WithLogStd)
    assert actor.log_std.tolist() == [-0.5]
    obs = env.reset(seed=0)
    action = agent.act(obs)
    assert action.shape == (2, 1) and action.dtype == np.float32
    env_action = agent.to_env(np.array([[3.0], [-0.5]], np.float32))
    np.testing.assert_allclose(env_action, [[2.0], [-1.0]])  # clipped to [-1, 1], times 2
    before = actor.log_std.detach().clone()
    obs = env.reset(seed=0)
    for _ in range(agent.algorithm.rollout):
        action = agent.act(obs)
        next_obs, reward, term, trunc, real_next, *_ = env.step(agent.to_env(action))
        agent.store(obs, action, reward, real_next, term, trunc)
        agent.learn()
        obs = next_obs
    assert not torch.equal(before, actor.log_std.detach())


def test_sil_replay_keeps_unfinished_episodes_pending():
    space = gym.spaces.Box(-1.0, 1.0, (4,))
    replay = EpisodeReplay({"batch_size": 2, "max_size": 4}, space, gym.spaces.Discrete(2), GAMMA)
    steps = {
        "obs": torch.arange(6.0).view(3, 2, 1).expand(3, 2, 4),
        "action": torch.zeros(3, 2, dtype=torch.int64),
        "reward": torch.ones(3, 2),
        "dones": torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]),
    }
    replay.add_rollout(steps)
    assert replay.count == 2  # env 0's first episode; env 1's three steps wait
    assert replay.ret[:2].tolist() == pytest.approx([1.9, 1.0])
    steps["dones"] = torch.tensor([[0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    replay.add_rollout(steps)
    assert replay.count == 4  # ring of 4: env 1's four-step episode overwrote the oldest
    # written at slots 2, 3, 0, 1
    assert replay.ret.tolist() == pytest.approx([1.9, 1.0, 1 + 0.9 + 0.81 + 0.729, 1 + 0.9 + 0.81])
    assert replay.sample(torch.device("cpu"))["obs"].shape == (2, 4)


def test_a2c_gae_on_whole_episodes():
    raw = a2c_spec(COUNTER, max_t=3, gamma=GAMMA, lam=0.8, training_frequency=2)
    raw["env"]["num_envs"] = 1
    raw["agent"]["memory"] = {"name": "OnPolicyReplay"}
    agent, env = make(raw)
    algo = agent.algorithm
    algo.value = lambda x: x[:, 0].float()
    algo.policy = lambda x: torch.zeros(len(x), 2)
    data = algo.prepare(fill(agent, env, 6))  # two truncated episodes of three steps
    # V: 0, 1, 2 | next V: 1, 2, V(final) = 3 | decay 0.72
    one = [1.9 + 0.72 * (1.8 + 0.72 * 1.7), 1.8 + 0.72 * 1.7, 1.7]
    assert data["adv"].tolist() == pytest.approx(one * 2)
