"""SARSA and the DQN family: targets by hand, target-net updates, training cadence, policies."""

import numpy as np
import pytest
import torch

from slm_lab.agent import Agent
from slm_lab.agent.algorithm import policy
from slm_lab.agent.algorithm.base import bellman
from slm_lab.agent.algorithm.sarsa import NO_ACTION, transitions
from slm_lab.agent.net.ensemble import Ensemble
from slm_lab.env.vec_env import VecEnv
from slm_lab.lib.distribution import Categorical
from test.conftest import make_agent as make
from test.conftest import step_agent, tiny_dqn


def q_spec(algo: str = "DQN", memory: str = "Replay", num_envs: int = 1, **algo_kw) -> dict:
    net = {
        "type": "MLPNet",
        "hid_layers": [],  # Q(s) = W s + b: easy to set by hand
        "optim_spec": {"name": "SGD", "lr": 0.1},
        "update_type": algo_kw.pop("update_type", "replace"),
        "update_frequency": algo_kw.pop("update_frequency", 1),
        "polyak_coef": algo_kw.pop("polyak_coef", 0.5),
    }
    return {
        "agent": {
            "name": algo,
            "algorithm": {
                "name": algo,
                "action_policy": "epsilon_greedy",
                "explore_var_spec": {
                    "name": "linear_decay",
                    "start_val": 1.0,
                    "end_val": 0.1,
                    "start_step": 0,
                    "end_step": 100,
                },
                "gamma": 0.5,
                **algo_kw,
            },
            "memory": {"name": memory, "batch_size": 4, "max_size": 100},
            "net": net,
        },
        "env": {"name": "CartPole-v1", "num_envs": num_envs, "max_frame": 1000},
        "meta": {"max_session": 1, "log_frequency": 100},
    }


def set_linear(net: torch.nn.Module, weight: list[list[float]], bias: list[float]) -> None:
    head = net.heads[0]
    with torch.no_grad():
        head.weight.copy_(torch.tensor(weight))
        head.bias.copy_(torch.tensor(bias))


ONLINE = ([[1, 0, 0, 0], [0, 1, 0, 0]], [0.0, 0.0])  # Q(s) = (s0, s1)
TARGET = ([[0, 0, 1, 0], [0, 0, 0, 1]], [0.0, 0.0])  # Q'(s) = (s2, s3)

BATCH = {
    "obs": torch.tensor([[1.0, 2.0, 0.0, 0.0], [3.0, 1.0, 0.0, 0.0]]),
    "action": torch.tensor([1, 0]),
    "reward": torch.tensor([1.0, -1.0]),
    # next: online prefers action 0, target values 10 / 20 -> DQN and DoubleDQN differ
    "next_obs": torch.tensor([[5.0, 1.0, 10.0, 20.0], [5.0, 1.0, 10.0, 20.0]]),
    "terminated": torch.tensor([0.0, 1.0]),
}


@pytest.mark.parametrize(
    ("algo", "q_next"),
    [("VanillaDQN", 5.0), ("DQN", 20.0), ("DoubleDQN", 10.0)],
)
def test_targets_by_hand(algo: str, q_next: float):
    agent, _ = make(q_spec(algo))
    a = agent.algorithm
    set_linear(a.nets["net"], *ONLINE)
    if algo != "VanillaDQN":
        set_linear(a.target_net, *TARGET)
    loss, td = a.loss(BATCH)
    q_taken = torch.tensor([2.0, 3.0])  # Q(s, a): s1 for action 1, s0 for action 0
    target = torch.tensor([1.0 + 0.5 * q_next, -1.0])  # terminated: no bootstrap
    assert td is None  # only prioritized replay asks for TD errors
    torch.testing.assert_close(loss, ((target - q_taken) ** 2).mean())
    a.wants_td = True
    weighted, td = a.loss({**BATCH, "weight": torch.ones(2)})
    torch.testing.assert_close(td, target - q_taken)
    torch.testing.assert_close(weighted, loss)


def test_prioritized_loss_is_weighted():
    agent, _ = make(q_spec("DoubleDQN", memory="PrioritizedReplay"))
    a = agent.algorithm
    set_linear(a.nets["net"], *ONLINE)
    set_linear(a.target_net, *TARGET)
    loss, td = a.loss({**BATCH, "weight": torch.tensor([1.0, 0.0])})
    torch.testing.assert_close(loss, td[0] ** 2 / 2)


@pytest.mark.parametrize("weights", [True, False])
def test_prioritized_replay_gets_td_errors_with_or_without_weights(weights: bool):
    """`importance_sampling: false` (the original lab's PER) still feeds back priorities."""
    raw = q_spec("DoubleDQN", memory="PrioritizedReplay", training_start_step=8)
    raw["agent"]["memory"]["importance_sampling"] = weights
    agent, env = make(raw)
    assert agent.algorithm.wants_td
    drive(agent, env, 40)
    mem = agent.memory
    assert agent.algorithm.opt_step > 0
    assert mem.tree.get(mem.idx).max() < mem.max_priority  # the batch's TD errors came back


def test_uniform_replay_asks_no_td_errors():
    agent, _ = make(q_spec("DQN"))
    assert not agent.algorithm.wants_td


def drive(agent: Agent, env: VecEnv, frames: int) -> None:
    obs = env.reset(seed=0)
    while agent.algorithm.clock.frame < frames:
        obs = step_agent(agent, env, obs, agent.act(obs))


def test_training_cadence_in_frames():
    raw = q_spec(
        num_envs=4,
        training_start_step=20,
        training_frequency=8,
        training_iter=2,
        training_batch_iter=3,
    )
    agent, env = make(raw)
    drive(agent, env, 40)
    # as the original: on the steps storing transitions 24 and 32 (frames 28 and 36; the step
    # to frame 24 stores 20-23): 2 rounds x 2 batches x 3 steps
    assert agent.algorithm.opt_step == 12


def test_target_replaced_every_update_frequency_frames():
    agent, env = make(q_spec(training_start_step=0, update_frequency=10))
    a = agent.algorithm
    drive(agent, env, 9)
    online, target = a.nets["net"].heads[0].weight, a.target_net.heads[0].weight
    assert not torch.equal(online, target)
    drive(agent, env, 10)
    assert torch.equal(online, target)
    assert not target.requires_grad


def test_polyak_moves_the_target_by_tau():
    agent, env = make(q_spec(training_start_step=0, update_type="polyak", polyak_coef=0.25))
    a = agent.algorithm
    before = a.target_net.heads[0].weight.clone()
    drive(agent, env, 1)
    after = a.target_net.heads[0].weight
    torch.testing.assert_close(after, 0.75 * before + 0.25 * a.nets["net"].heads[0].weight)
    assert after.is_leaf and after.grad_fn is None  # no autograd history grows in the target


def test_exploration_follows_the_schedule_and_is_off_in_eval():
    agent, env = make(q_spec(training_start_step=10**6))
    a = agent.algorithm
    obs = env.reset(seed=0)
    a.clock.frame = 50
    a.act(obs)
    assert a.explore_var == pytest.approx(0.55)
    assert a.report()["explore_var"] == pytest.approx(0.55)
    set_linear(a.nets["net"], [[0, 0, 0, 0], [0, 0, 0, 0]], [0.0, 1.0])
    assert all(a.act(obs, explore=False).tolist() == [1] for _ in range(20))


def test_policies():
    pd = Categorical(type("Space", (), {"n": 3})())
    q = torch.tensor([[0.0, 5.0, 1.0]] * 4000)
    calls = []

    def outputs() -> torch.Tensor:
        calls.append(1)
        return q

    np.random.seed(0)
    torch.manual_seed(0)
    assert (policy.epsilon_greedy(pd, outputs, 4000, 0.0) == 1).all()
    explored = policy.epsilon_greedy(pd, outputs, 4000, 0.3)
    # greedy 70% + a third of the random 30%
    assert (explored == 1).mean() == pytest.approx(0.8, abs=0.03)
    calls.clear()
    uniform = policy.epsilon_greedy(pd, outputs, 4000, 1.0)
    assert calls == []  # all exploring: the net is not asked
    assert np.bincount(uniform, minlength=3) / 4000 == pytest.approx([1 / 3] * 3, abs=0.03)
    assert (policy.boltzmann(pd, outputs, 4000, 1e-3) == 1).all()
    hot = policy.boltzmann(pd, outputs, 4000, 1e3)
    assert np.bincount(hot, minlength=3) / 4000 == pytest.approx([1 / 3] * 3, abs=0.03)
    assert set(policy.random(pd, outputs, 100, 0.0).tolist()) == {0, 1, 2}


def test_sarsa_transitions_from_a_rollout():
    """(time, env) rollout -> flat env-major transitions; a' missing at the end and at truncation."""
    batch = {
        "obs": torch.arange(6.0).view(3, 2, 1),  # obs[t, n] = 2t + n
        "action": torch.tensor([[0, 1], [1, 0]]),
        "reward": torch.tensor([[1.0, 2.0], [3.0, 4.0]]),
        "terminated": torch.tensor([[0.0, 1.0], [0.0, 0.0]]),
        "truncated": torch.tensor([[True, False], [False, False]]),
        "final_obs": torch.tensor([[9.0]]),
    }
    flat = transitions(batch)
    assert flat["obs"][:, 0].tolist() == [0, 2, 1, 3]
    assert flat["next_obs"][:, 0].tolist() == [9, 4, 3, 5]  # truncated env 0 at t=0 -> final
    assert flat["next_action"].tolist() == [NO_ACTION, NO_ACTION, NO_ACTION, NO_ACTION]
    batch["truncated"][0, 0] = False
    assert transitions(batch)["next_action"].tolist() == [1, NO_ACTION, NO_ACTION, NO_ACTION]


def test_sarsa_target_by_hand():
    agent, _ = make(q_spec("SARSA", memory="OnPolicyBatchReplay", training_frequency=2))
    a = agent.algorithm
    set_linear(a.nets["net"], *ONLINE)
    data = {
        "obs": torch.tensor([[1.0, 2.0, 0, 0], [3.0, 1.0, 0, 0]]),
        "action": torch.tensor([1, 0]),
        "next_action": torch.tensor([0, 1]),
        "reward": torch.tensor([1.0, -1.0]),
        "next_obs": torch.tensor([[3.0, 1.0, 0, 0], [4.0, 7.0, 0, 0]]),
        "terminated": torch.tensor([0.0, 0.0]),
    }
    # targets: 1 + 0.5 Q(s', 0) = 2.5; -1 + 0.5 Q(s', 1) = 2.5; Q(s, a) = 2, 3
    torch.testing.assert_close(a.loss(data), torch.tensor((0.5**2 + 0.5**2) / 2))


@pytest.mark.parametrize("algo", ["VanillaDQN", "DQN", "DoubleDQN"])
def test_one_ensemble_pass_equals_separate_forwards(algo: str):
    raw = q_spec(algo)
    raw["agent"]["net"]["hid_layers"] = [8]
    agent, env = make(raw)
    obs = env.reset(seed=0)
    for _ in range(10):
        obs = step_agent(agent, env, obs, np.zeros(1, dtype=np.int64))
    dqn = agent.algorithm
    with torch.no_grad():  # a target that differs from the online net
        for p in dqn.nets["net"].parameters():
            p.add_(0.1)
    dqn.ensemble = Ensemble.of(dqn.members())  # as on a GPU
    assert dqn.ensemble is not None
    batch = agent.memory.sample()
    grads = []
    for ensemble in (dqn.ensemble, None):
        dqn.ensemble = ensemble
        q, q_next = dqn.q_values(batch)
        dqn.nets["net"].zero_grad()
        q.sum().backward()
        grads.append([p.grad.clone() for p in dqn.nets["net"].parameters()])
        if ensemble is not None:
            first = (q.detach(), q_next)
    torch.testing.assert_close(first[0], q.detach(), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(first[1], q_next, atol=1e-6, rtol=1e-6)
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


def test_the_gradient_norm_resumes_with_the_checkpoint():
    """A row logged right after a resume, before any step, shows the last step's norm."""
    agent, _ = make(tiny_dqn())
    algo = agent.algorithm
    algo.grad_norm = torch.tensor(3.5)
    state = algo.state_dict()
    fresh, _ = make(tiny_dqn())
    fresh.algorithm.load_state_dict(state)
    assert fresh.algorithm.grad_norm.item() == 3.5
    del state["grad_norm"]  # a checkpoint from before it was kept
    older, _ = make(tiny_dqn())
    older.algorithm.load_state_dict(state)
    assert older.algorithm.grad_norm is None


def test_bellman_target_stops_at_termination():
    reward = torch.tensor([1.0, -2.0, 0.5])
    terminated = torch.tensor([0.0, 1.0, 0.0])
    next_v = torch.tensor([10.0, 10.0, -4.0])
    target = bellman(reward, terminated, next_v, 0.9)
    assert torch.equal(target, reward + 0.9 * (1.0 - terminated) * next_v)
    assert target.tolist() == pytest.approx([10.0, -2.0, -3.1])
