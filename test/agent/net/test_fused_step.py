"""FusedStep: fused Adam's kernels called directly give torch.optim's numbers exactly."""

import copy

import pytest
import torch
from torch import nn

from slm_lab.agent.net.fused_step import FusedStep, stepper
from test.conftest import make_agent, tiny_dqn


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))


def twins(cls, **kwargs):
    """Two equal nets, each with its optimizer: torch's step, and FusedStep's."""
    a, b = net(), net()
    opt_a = cls(a.parameters(), fused=True, **kwargs)
    opt_b = cls(b.parameters(), fused=True, **kwargs)
    return a, opt_a, b, opt_b, FusedStep(opt_b)


def backward(model: nn.Module, seed: int, skip_last: bool = False) -> None:
    torch.manual_seed(seed)
    model.zero_grad(set_to_none=True)
    model(torch.randn(5, 3)).pow(2).sum().backward()
    if skip_last:
        model[2].bias.grad = None


def assert_same(a, opt_a, b, opt_b) -> None:
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    sa, sb = opt_a.state_dict(), opt_b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    for i, state in sa["state"].items():
        for k, v in state.items():
            assert torch.equal(v, sb["state"][i][k]), k


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [(torch.optim.Adam, {"lr": 1e-2}), (torch.optim.AdamW, {"lr": 1e-2, "weight_decay": 0.1})],
)
def test_equal_to_torch_step_with_lr_changes_and_missing_grads(cls, kwargs):
    a, opt_a, b, opt_b, step = twins(cls, **kwargs)
    for i in range(8):
        if i == 4:  # an LR scheduler's change
            for opt in (opt_a, opt_b):
                opt.param_groups[0]["lr"] = 3e-3
        backward(a, i, skip_last=i == 6)
        backward(b, i, skip_last=i == 6)
        opt_a.step()
        step()
        assert_same(a, opt_a, b, opt_b)
    assert step.plan is not None


def step_both(a, opt_a, b, step, seeds, *flag) -> None:
    """The same gradients into both nets, then torch's step and FusedStep (with `flag`)."""
    for i in seeds:
        backward(a, i)
        backward(b, i)
        opt_a.step()
        step(*flag)


def test_a_loaded_state_is_used_not_the_old_plan():
    a, opt_a, b, opt_b, step = twins(torch.optim.Adam, lr=1e-2)
    step_both(a, opt_a, b, step, range(3))
    saved = copy.deepcopy(opt_a.state_dict())
    for i in range(3, 5):  # b moves on, then both go back to the saved state
        backward(b, i)
        step()
    b.load_state_dict(a.state_dict())
    opt_b.load_state_dict(saved)
    for i in range(5, 8):
        backward(a, i)
        backward(b, i)
        opt_a.step()
        step()
        assert_same(a, opt_a, b, opt_b)


def test_optimizers_it_does_not_fit_keep_their_own_step():
    params = list(net().parameters())
    for optim in (
        torch.optim.Adam(params, fused=True, amsgrad=True),
        torch.optim.Adam(params, foreach=True),
        torch.optim.SGD(params, lr=0.1),
    ):
        assert stepper(optim) == optim.step


def test_the_algorithms_step_fused_adam_directly():
    agent, _ = make_agent(tiny_dqn())
    algo = agent.algorithm
    (optim,) = algo.optims
    assert isinstance(algo.step_of(optim), FusedStep)


def test_a_found_inf_flag_leaves_everything_as_it_was():
    """Sync-free steps (accelerators): the flag, read by the kernel, skips the whole step."""
    a, opt_a, b, opt_b, step = twins(torch.optim.Adam, lr=1e-2)
    step_both(a, opt_a, b, step, range(3), torch.zeros(()))  # finite losses: ordinary steps
    assert_same(a, opt_a, b, opt_b)
    backward(b, 9)
    step(torch.ones(()))
    assert_same(a, opt_a, b, opt_b)  # parameters, moments and step counts unchanged
