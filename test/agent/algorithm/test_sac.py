"""SAC and CrossQ: the tanh correction, the temperature's direction, exact discrete
expectations, polyak targets, CrossQ's joint batch, batch renormalisation."""

import copy
import math

import numpy as np
import pytest
import torch

from slm_lab.agent import Agent
from slm_lab.agent.algorithm.sac import tanh_log_det
from slm_lab.env.vec_env import VecEnv
from slm_lab.lib.errors import SpecError
from test.agent.algorithm.test_crossq import brn_layers
from test.conftest import make_agent as make
from test.conftest import tiny_sac

FD_STEP = 1e-3  # central differences: truncation error ~1e-6, round-off ~1e-6 at |u| = 9
BATCH = 8


def collect(agent: Agent, env: VecEnv, steps: int) -> None:
    obs = env.reset(seed=0)
    for _ in range(steps):
        action = agent.act(obs)
        next_obs, reward, term, trunc, real_next, *_ = env.step(agent.to_env(action))
        agent.memory.add(obs, action, reward, real_next, term, trunc)
        obs = next_obs


def test_tanh_correction_matches_a_numerical_jacobian():
    u = torch.tensor([[-8.0, -1.5, 0.0], [0.3, 2.0, 9.0]], dtype=torch.float64)
    slope = (torch.tanh(u + FD_STEP) - torch.tanh(u - FD_STEP)) / (2 * FD_STEP)
    torch.testing.assert_close(tanh_log_det(u), slope.log().sum(-1), atol=1e-5, rtol=1e-4)


def test_squashed_log_prob_is_the_density_of_the_squashed_action():
    agent, _ = make(tiny_sac())
    algo = agent.algorithm
    out = torch.tensor([[0.4, math.log(0.7)]]).expand(BATCH, 2)
    action, logp = algo.squashed(out)
    u = torch.atanh(action.double())
    normal = torch.distributions.Normal(0.4, 0.7)
    slope = (torch.tanh(u + FD_STEP) - torch.tanh(u - FD_STEP)) / (2 * FD_STEP)
    expected = (normal.log_prob(u) - slope.log()).sum(-1)
    torch.testing.assert_close(logp.double(), expected, atol=1e-3, rtol=1e-4)
    assert action.abs().max() < 1


@pytest.mark.parametrize(("entropy", "direction"), [(-5.0, 1), (5.0, -1)])
def test_temperature_rises_when_entropy_is_below_target(entropy: float, direction: int):
    agent, _ = make(tiny_sac())
    algo = agent.algorithm
    assert algo.target_entropy == -1.0  # auto: -(action dimensions)
    before = algo.log_alpha.item()
    algo.update_temperature(torch.full((BATCH,), entropy))
    assert np.sign(algo.log_alpha.item() - before) == direction


def test_fixed_alpha_is_not_tuned():
    raw = tiny_sac()
    raw["agent"]["algorithm"]["fixed_alpha"] = 0.2
    agent, _ = make(raw)
    algo = agent.algorithm
    algo.update_temperature(torch.full((BATCH,), -5.0))
    assert algo.alpha.item() == pytest.approx(0.2)


def test_discrete_soft_value_is_the_exact_expectation():
    agent, _ = make(tiny_sac(env="CartPole-v1"))
    algo = agent.algorithm
    assert algo.target_entropy == pytest.approx(0.6 * math.log(2))  # the original's ratio
    logits = torch.tensor([[0.0, math.log(3.0)]])  # pi = (0.25, 0.75)
    q1, q2 = torch.tensor([[1.0, 4.0]]), torch.tensor([[2.0, 3.0]])
    value = algo.soft_value(torch.min(q1, q2), logits.log_softmax(-1))
    alpha = algo.alpha.item()
    expected = 0.25 * (1.0 - alpha * math.log(0.25)) + 0.75 * (3.0 - alpha * math.log(0.75))
    assert value.item() == pytest.approx(expected)


def test_sac_trains_critics_actor_and_polyak_targets():
    raw = tiny_sac()
    raw["agent"]["net"].update(polyak_coef=0.5)
    agent, env = make(raw)
    algo = agent.algorithm
    target_before = [p.clone() for p in algo.target_nets.nets[0].parameters()]
    collect(agent, env, 50)
    algo.clock.frame = 200  # past training_start_step
    online = [p.clone() for p in algo.nets["q1"].parameters()]
    actor = [p.clone() for p in algo.nets["actor"].parameters()]
    algo.learn(agent.memory)
    assert all(
        not torch.equal(a, b) for a, b in zip(online, algo.nets["q1"].parameters(), strict=True)
    )
    assert any(
        not torch.equal(a, b) for a, b in zip(actor, algo.nets["actor"].parameters(), strict=True)
    )
    for before, p_online, p_target in zip(
        target_before,
        algo.nets["q1"].parameters(),
        algo.target_nets.nets[0].parameters(),
        strict=True,
    ):
        torch.testing.assert_close(p_target, 0.5 * before + 0.5 * p_online.detach())


def test_targets_move_with_the_delayed_actor_step():
    """As the original and TD3: with policy_delay 2, the actor and the target critics step on
    every second critic step only."""
    raw = tiny_sac()
    raw["agent"]["algorithm"]["policy_delay"] = 2
    agent, env = make(raw)
    algo = agent.algorithm
    collect(agent, env, 40)
    targets, actor = algo.target_nets.nets[0], algo.nets["actor"]
    for step, moves in ((1, False), (2, True)):
        before = [p.clone() for p in (*targets.parameters(), *actor.parameters())]
        algo.train(agent.memory.sample())
        after = [*targets.parameters(), *actor.parameters()]
        changed = [not torch.equal(a, b) for a, b in zip(before, after, strict=True)]
        assert any(changed) == moves, f"critic step {step}"


def test_random_actions_before_training_start():
    agent, env = make(tiny_sac())
    obs = env.reset(seed=0)
    actions = np.concatenate([agent.act(obs) for _ in range(200)])
    assert actions.min() < -0.9 and actions.max() > 0.9  # uniform over [-1, 1]
    assert np.abs(agent.to_env(actions)).max() <= 2.0


def test_sac_refuses_other_distributions():
    raw = tiny_sac()
    raw["agent"]["algorithm"]["action_pdtype"] = "Beta"
    with pytest.raises(SpecError, match="tanh-squashed") as err:
        make(raw)
    assert err.value.path == "agent.algorithm.action_pdtype"


def crossq_spec() -> dict:
    raw = tiny_sac()
    raw["agent"]["name"] = "CrossQ"
    raw["agent"]["algorithm"]["name"] = "CrossQ"
    raw["agent"]["critic_net"] = {"type": "MLPNet", "hid_layers": [16]}
    return raw


def test_crossq_evaluates_current_and_next_in_one_batch():
    agent, env = make(crossq_spec())
    algo = agent.algorithm
    assert not hasattr(algo, "target_nets")  # no target nets
    collect(agent, env, 40)
    batch = agent.memory.sample()
    brn = algo.nets["q1"][0]  # batch renorm on the critic's input [s, a]
    mean_before = brn.running_mean.clone()
    algo.critic_loss(batch)
    # the running statistics moved towards the mean of both halves together
    joint = torch.cat([batch["obs"], batch["next_obs"]]).mean(0)
    expected = mean_before[:3].lerp(joint, brn.momentum)
    torch.testing.assert_close(brn.running_mean[:3], expected)
    assert brn.count == 1


def test_crossq_actor_loss_uses_running_statistics():
    agent, _ = make(crossq_spec())
    algo = agent.algorithm
    brn = algo.nets["q1"][0]
    before = brn.running_mean.clone()
    algo.actor_loss(torch.ones(BATCH, 3))
    assert brn.count == 0 and torch.equal(brn.running_mean, before)  # evaluation mode
    assert algo.nets["q1"].training  # back in training mode after


def test_discrete_crossq_actor_reads_the_critic_steps_joint_pass():
    """As the original: a discrete CrossQ actor is judged by the mean Q(s, .) of the critic
    step's joint pass (batch statistics, before the step), with no pass of its own."""
    raw = crossq_spec()
    raw["env"]["name"] = "CartPole-v1"
    agent, env = make(raw)
    algo = agent.algorithm
    collect(agent, env, 40)
    batch = agent.memory.sample()
    states = {name: copy.deepcopy(algo.nets[name].state_dict()) for name in ("q1", "q2")}
    algo.critic_loss(batch)
    judged, counts = algo.judged, [b.count for b in brn_layers(algo.nets["q1"])]
    loss, entropy = algo.actor_loss(batch["obs"])
    assert [b.count for b in brn_layers(algo.nets["q1"])] == counts  # the actor made no critic pass
    for name, state in states.items():  # the critics as they were before the step
        algo.nets[name].load_state_dict(state)
    x = torch.cat([algo.inputs(batch["obs"]), algo.inputs(batch["next_obs"])])
    with torch.no_grad():
        q = algo.critics(x)[:, : len(batch["obs"])].mean(0)  # train mode: batch statistics
    torch.testing.assert_close(judged, q)
    logp = algo.policy(batch["obs"]).log_softmax(-1)
    expected = (logp.exp() * (algo.alpha * logp - q)).sum(-1).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert entropy.shape == (len(batch["obs"]),)


def test_discrete_sac_actor_reads_the_critic_steps_pass():
    """As the original: a discrete SAC actor is judged by the critics' mean Q(s, .) from the
    critic step's pass on the same batch, taken before that step, with no pass of its own."""
    agent, env = make(tiny_sac(env="CartPole-v1"))
    algo = agent.algorithm
    collect(agent, env, 40)
    batch = agent.memory.sample()
    with torch.no_grad():
        before = algo.critics(algo.inputs(batch["obs"])).mean(0)
    calls = []
    critics = algo.critics
    algo.critics = lambda x: calls.append(len(x)) or critics(x)
    algo.updates = algo.delay - 1  # this step also steps the actor
    algo.train(batch)
    assert calls == [len(batch["obs"])]  # one critic pass: the critic step's
    torch.testing.assert_close(algo.judged, before)


def test_discrete_target_and_actor_use_the_mean_of_the_critics():
    """SD-SAC, as the original lab: discrete SAC's TD target and policy loss average the two
    critics instead of taking their minimum."""
    agent, _ = make(tiny_sac(env="CartPole-v1"))
    algo = agent.algorithm
    obs = torch.zeros((1, 4))
    q = torch.tensor([[[1.0, 4.0]], [[2.0, 3.0]]])  # two critics, one state, two actions
    algo.critics = algo.targets = lambda x: q  # the critics' outputs fixed by hand
    one = {"obs": obs, "next_obs": obs, "action": torch.zeros(1)}
    algo.critic_loss({**one, "reward": torch.zeros(1), "terminated": torch.zeros(1)})
    logp = algo.policy(obs).log_softmax(-1)
    p, alpha = logp.exp(), algo.alpha
    loss, _ = algo.actor_loss(obs)
    expected = (p * (alpha * logp - torch.tensor([[1.5, 3.5]]))).sum()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
