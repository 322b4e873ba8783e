"""PPO: targets through truncation, the clipped loss by hand, a real update."""

import math

import numpy as np
import pytest
import torch

from slm_lab.agent import Agent
from slm_lab.env.vec_env import VecEnv
from slm_lab.experiment.loop import Clock
from slm_lab.experiment.session import make_env
from slm_lab.spec.validate import validate
from test.conftest import step_agent, tiny_ppo
from test.env.test_vec_env import COUNTER


def make_agent(env_name: str = "CartPole-v1", max_t=None, **algo) -> tuple[Agent, VecEnv]:
    raw = tiny_ppo()
    raw["env"].update(name=env_name, max_t=max_t)
    raw["agent"]["algorithm"].update(algo)
    spec, _ = validate(raw)
    clock = Clock(spec["env"]["max_frame"], spec["env"]["num_envs"])
    env = make_env(spec)
    return Agent(spec, env, clock), env


def test_targets_bootstrap_through_truncation_not_termination():
    agent, env = make_agent(COUNTER, max_t=3, time_horizon=4, minibatch_size=8, gamma=0.9, lam=0.8)
    algo = agent.algorithm
    algo.forward = lambda x: (torch.zeros(len(x), 2), x[:, 0])  # V(s) = step count
    algo.value = lambda x: x[:, 0]
    algo.policy = lambda x: torch.zeros(len(x), 2)
    obs = env.reset(seed=0)
    for _ in range(4):
        action = np.zeros(2, np.int64)
        next_obs, reward, term, trunc, real_next, *_ = env.step(action)
        agent.memory.add(obs, action, reward, real_next, term, trunc)
        obs = next_obs
    assert agent.memory.size == algo.rollout  # the rollout is complete
    data = algo.prepare(agent.memory.sample())
    # values 0,1,2,0 | next values 1,2,V(final)=3,1 | trace cut after t=2
    adv = data["adv"].view(4, 2)[:, 0].tolist()
    assert adv == pytest.approx([1.9 + 0.72 * 3.024, 1.8 + 0.72 * 1.7, 1.7, 1.9])
    assert data["ret"].view(4, 2)[:, 0].tolist() == pytest.approx(
        [a + v for a, v in zip(adv, [0, 1, 2, 0], strict=True)]
    )
    assert data["old_logp"].tolist() == pytest.approx([math.log(0.5)] * 8)


LN15, LN2 = math.log(1.5), math.log(2)  # symlog(0.5), symlog(1)
# symlog: V [ln 1.5, 0], R [ln 2, ln 2], old V [0, ln 1.5]; clipped V [0.2, ln 1.5 - 0.2]
SYMLOG_MSE = ((LN15 - LN2) ** 2 + LN2**2) / 2
SYMLOG_CLIPPED = (max((LN15 - LN2) ** 2, (0.2 - LN2) ** 2) + LN2**2) / 2


@pytest.mark.parametrize(
    ("clip_vloss", "use_symlog", "expected"),
    [
        (False, False, -0.1 - 0.01 * math.log(2) + 0.5 * 0.625),
        # the clipped value loss is halved, as in CleanRL and the original lab
        (True, False, -0.1 - 0.01 * math.log(2) + 0.5 * 0.5 * 0.82),
        (False, True, -0.1 - 0.01 * math.log(2) + 0.5 * SYMLOG_MSE),
        (True, True, -0.1 - 0.01 * math.log(2) + 0.5 * 0.5 * SYMLOG_CLIPPED),
    ],
)
def test_loss_by_hand(clip_vloss: bool, use_symlog: bool, expected: float):
    agent, _ = make_agent(
        normalize_advantages=False, clip_vloss=clip_vloss, val_loss_coef=0.5, symlog=use_symlog
    )
    algo = agent.algorithm
    algo.forward = lambda x: (torch.zeros(2, 2), torch.tensor([0.5, 0.0]))
    mb = {
        "obs": torch.zeros(2, 4),
        "action": torch.tensor([0, 1]),
        "old_logp": torch.log(torch.tensor([0.25, 0.5])),  # ratios 2 and 1
        "adv": torch.tensor([1.0, -1.0]),
        "ret": torch.tensor([1.0, 1.0]),
        "old_v": torch.tensor([0.0, 0.5]),
    }
    loss, entropy = algo.loss(mb, clip_eps=0.2, ent_coef=0.01)
    # surrogate: min(2 * 1, 1.2 * 1) = 1.2 and -1 -> policy loss -0.1; entropy ln 2
    assert entropy.item() == pytest.approx(math.log(2))
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_train_changes_weights_and_counts_steps():
    agent, env = make_agent(time_horizon=32, minibatch_size=16, training_epoch=3)
    before = [p.detach().clone() for p in agent.algorithm.nets["actor"].parameters()]
    obs = env.reset(seed=0)
    for _ in range(32):
        obs = step_agent(agent, env, obs, agent.act(obs))
    assert agent.algorithm.opt_step == 3 * (32 * 2 // 16)
    after = list(agent.algorithm.nets["actor"].parameters())
    assert not all(torch.equal(a, b) for a, b in zip(after, before, strict=True))
    assert set(agent.algorithm.stats) == {"loss", "entropy", "clip_eps", "lr"}
    assert np.isfinite(agent.algorithm.stats["loss"])


@pytest.mark.filterwarnings(r"ignore:Detected call of `lr_scheduler.step\(\)` before")
def test_shared_net_and_lr_schedule():
    raw = tiny_ppo()
    raw["agent"]["net"].update(
        shared=True, lr_scheduler_spec={"name": "LinearToZero", "frame": 1000}
    )
    spec, _ = validate(raw)
    clock = Clock(1000, 2)
    env = make_env(spec)
    agent = Agent(spec, env, clock)
    assert list(agent.nets) == ["net"] and len(agent.algorithm.optims) == 1
    clock.frame = 500
    agent.algorithm.step_schedulers()
    assert agent.algorithm.lr == pytest.approx(0.0005)


def test_greedy_action_is_argmax():
    agent, _ = make_agent()
    agent.algorithm.policy = lambda x: torch.tensor([[0.0, 3.0], [2.0, -1.0]])
    assert agent.act(np.zeros((2, 4), np.float32), explore=False).tolist() == [1, 0]
    samples = np.stack([agent.act(np.zeros((2, 4), np.float32)) for _ in range(2000)])
    # softmax([0, 3]) puts 0.953 on action 1
    assert samples[:, 0].mean() == pytest.approx(math.exp(3) / (1 + math.exp(3)), abs=0.02)


@pytest.mark.parametrize("pdtype", ["Gumbel", "LogNormal"])
def test_trains_with_the_originals_continuous_distributions(pdtype: str):
    agent, env = make_agent("Pendulum-v1", action_pdtype=pdtype, time_horizon=16, minibatch_size=16)
    obs = env.reset(seed=0)
    for _ in range(16):
        action = agent.act(obs)
        assert np.abs(agent.to_env(action)).max() <= 2.0  # Pendulum's bounds
        obs = step_agent(agent, env, obs, action)
    # 2 epochs x 2 minibatches of 16 from 16 steps x 2 envs
    assert agent.algorithm.opt_step == 2 * 2 and np.isfinite(agent.algorithm.stats["loss"])
    if pdtype == "LogNormal":
        assert (action > 0).all()
