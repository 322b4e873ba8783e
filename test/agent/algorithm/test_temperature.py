"""SAC's options as the original lab defines them: the alpha clamp, alpha_lr, a fixed alpha
annealed to 0, the discrete target entropy's annealing, SD-SAC's entropy penalty, symlog critic
targets, spectral normalisation, and their one-line errors."""

import math

import pytest
import torch

from slm_lab.agent.net.spectral_norm import SpectralNorm, spectral_norm_penultimate
from slm_lab.lib.errors import SpecError
from slm_lab.spec.validate import validate
from test.conftest import make_agent as make
from test.conftest import tiny_sac

BATCH = 8


def sac(env: str = "Pendulum-v1", **algo) -> dict:
    raw = tiny_sac(env=env)
    raw["agent"]["algorithm"].update(algo)
    return raw


def test_log_alpha_is_clamped_to_the_original_bounds_by_default():
    algo = make(sac())[0].algorithm
    assert algo.temperature.bounds == (-5.0, 2.0)
    with torch.no_grad():
        algo.log_alpha.fill_(1.9999)
    algo.update_temperature(torch.full((BATCH,), -100.0))  # far below target: alpha rises
    assert algo.log_alpha.item() == 2.0
    algo = make(sac())[0].algorithm
    with torch.no_grad():
        algo.log_alpha.fill_(-4.9999)
    algo.update_temperature(torch.full((BATCH,), 100.0))
    assert algo.log_alpha.item() == -5.0


def test_alpha_lr_defaults_to_the_actor_lr_in_the_actor_optimizer():
    algo = make(sac())[0].algorithm
    (group_actor, group_alpha) = algo.actor_optim.param_groups
    assert group_alpha["params"] == [algo.log_alpha]
    assert group_alpha["lr"] == group_actor["lr"]
    algo = make(sac(alpha_lr=0.123))[0].algorithm
    assert algo.actor_optim.param_groups[1]["lr"] == 0.123


def test_fixed_alpha_anneals_linearly_to_zero():
    algo = make(sac(fixed_alpha=0.2, alpha_anneal_frames=1000))[0].algorithm
    assert len(algo.actor_optim.param_groups) == 1  # nothing to tune
    for frame, expected in [(0, 0.2), (250, 0.15), (1000, 0.0), (5000, 0.0)]:
        algo.clock.frame = frame
        algo.temperature.anneal()
        assert algo.alpha.item() == pytest.approx(expected, abs=1e-7)


def test_discrete_target_entropy_anneals_between_ratios():
    anneal = {"start_ratio": 0.8, "end_ratio": 0.2, "frames": 100}
    algo = make(sac(env="CartPole-v1", entropy_anneal=anneal))[0].algorithm
    log2 = math.log(2)
    assert algo.target_entropy == pytest.approx(0.8 * log2)
    algo.clock.frame = 50
    algo.temperature.anneal()
    assert algo.target_entropy == pytest.approx(0.5 * log2)
    algo.clock.frame = 500
    algo.temperature.anneal()
    assert algo.target_entropy == pytest.approx(0.2 * log2)


def test_entropy_penalty_by_hand():
    algo = make(sac(env="CartPole-v1", entropy_penalty_coef=2.0))[0].algorithm
    t = algo.temperature
    assert t.entropy_penalty(torch.tensor([0.5, 0.7])) == 0.0  # first batch: the ema starts at H
    assert t.entropy_ema.item() == pytest.approx(0.6)
    h = torch.tensor([0.2, 0.4], requires_grad=True)
    penalty = t.entropy_penalty(h)
    assert penalty.item() == pytest.approx(2.0 * 0.5 * (0.6 - 0.3) ** 2)
    assert t.entropy_ema.item() == pytest.approx(0.99 * 0.6 + 0.01 * 0.3)
    penalty.backward()  # d/dh_i = -coef (ema - H) / n
    torch.testing.assert_close(h.grad, torch.full((2,), -2.0 * 0.3 / 2))


def test_symlog_critic_loss_by_hand():
    algo = make(sac(symlog=True))[0].algorithm
    q1, q2, target = torch.tensor([9.0]), torch.tensor([-3.0]), torch.tensor([99.0])
    loss = algo.weighted({}, torch.cat([q1, q2]).unsqueeze(-1), target)
    expected = (math.log(100) - math.log(10)) ** 2 + (math.log(100) + math.log(4)) ** 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_spectral_norm_bounds_the_penultimate_layer():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 8), torch.nn.Linear(8, 1))
    with torch.no_grad():
        net[1].weight.mul_(10.0)
    spectral_norm_penultimate(net)
    for _ in range(50):  # power iterations, one per training forward
        net(torch.zeros(1, 4))
    assert torch.linalg.matrix_norm(net[1].weight, ord=2).item() == pytest.approx(1.0, abs=1e-4)
    assert not hasattr(net[0], "parametrizations") and not hasattr(net[2], "parametrizations")


def test_spectral_norm_of_a_stack_is_per_member():
    torch.manual_seed(0)
    w = torch.randn(2, 5, 3) * torch.tensor([1.0, 7.0]).view(2, 1, 1)
    sn = SpectralNorm(w)
    for _ in range(50):
        out = sn(w)
    torch.testing.assert_close(torch.linalg.matrix_norm(out, ord=2), torch.ones(2))


def test_sac_critics_with_spectral_norm():
    algo = make(sac(spectral_norm=True))[0].algorithm
    assert algo.critic_loss  # built
    names = [n for n, _ in algo.nets["q1"].named_parameters()]
    assert sum("parametrizations" in n for n in names) == 1


@pytest.mark.parametrize(
    ("algo", "path"),
    [
        ({"log_alpha_min": 1.0, "log_alpha_max": 0.0}, "agent.algorithm.log_alpha_min"),
        ({"alpha_anneal_frames": 100}, "agent.algorithm.alpha_anneal_frames"),
        ({"entropy_anneal": {"start": 0.5}}, "agent.algorithm.entropy_anneal.start"),
        ({"entropy_anneal": {"frames": 1.5}}, "agent.algorithm.entropy_anneal.frames"),
        ({"entropy_anneal": {"frames": 9}, "target_entropy": -1}, "agent.algorithm.target_entropy"),
        ({"entropy_penalty_coef": -1.0}, "agent.algorithm.entropy_penalty_coef"),
    ],
)
def test_bad_options_are_one_line_errors(algo: dict, path: str):
    with pytest.raises(SpecError) as err:
        validate(sac(**algo))
    assert err.value.path == path


@pytest.mark.parametrize("key", ["entropy_penalty_coef", "entropy_anneal"])
def test_discrete_only_options_refused_on_continuous_actions(key: str):
    value = 0.1 if key == "entropy_penalty_coef" else {"frames": 10}
    with pytest.raises(SpecError, match="discrete") as err:
        make(sac(**{key: value}))
    assert err.value.path == f"agent.algorithm.{key}"


def test_checkpoint_from_before_the_temperature_moved_into_the_actor_optimizer():
    from slm_lab.lib.state import STATE, capture

    agent, _ = make(sac())
    algo = agent.algorithm
    with torch.no_grad():
        algo.log_alpha.fill_(-1.5)
    new = capture(algo.state_dict())
    old = {k: v for k, v in new.items() if k != "temperature"}
    old["log_alpha"] = algo.log_alpha.detach().clone()
    old["alpha_optim"] = {STATE: {"state": {}, "param_groups": []}}
    old["entropy"] = 0.3
    actor = dict(new["optims"][0][STATE])
    actor["param_groups"] = actor["param_groups"][:1]
    old["optims"] = [{STATE: actor}, *new["optims"][1:]]
    fresh = make(sac())[0].algorithm
    fresh.load_state_dict(old)
    assert fresh.log_alpha.item() == -1.5
    assert fresh.actor_optim.param_groups[1]["params"] == [fresh.log_alpha]
    fresh.update_temperature(torch.full((BATCH,), 0.0))  # steps as before


def test_temperature_gradient_is_alpha_times_the_entropy_gap():
    """The original's alpha loss, alpha (H - target): d/d log alpha = alpha (H - target)."""
    algo = make(sac())[0].algorithm
    with torch.no_grad():
        algo.log_alpha.fill_(math.log(0.5))
    entropy = torch.full((BATCH,), 0.3)
    algo.temperature.loss(entropy).backward()
    assert algo.log_alpha.grad.item() == pytest.approx(0.5 * (0.3 - algo.target_entropy))
