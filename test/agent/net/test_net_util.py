"""Device choice, grad clipping, nets built from specs, losses and LR schedulers by name."""

import math
from types import SimpleNamespace

import pytest
import torch

from slm_lab.agent.net import build_net, net_util
from slm_lab.agent.net.base import HeadNet
from slm_lab.lib.errors import SpecError
from slm_lab.spec import names
from slm_lab.spec.validate import validate
from test.conftest import tiny_ppo


@pytest.mark.parametrize(
    ("cuda", "gpu", "params", "expect"),
    [
        (True, "auto", 10_000, "cpu"),  # tiny nets are faster on the CPU
        (True, "auto", 1_000_000, "cuda"),
        (True, True, 10, "cuda"),
        (True, False, 10**7, "cpu"),
        (False, "auto", 10**7, "cpu"),
        (False, True, 10, "cpu"),
    ],
)
def test_device_choice(monkeypatch, cuda: bool, gpu, params: int, expect: str):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert net_util.device(gpu, params).type == expect


def test_clip_grad_norm_matches_torch():
    torch.manual_seed(0)
    a = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(3))]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    for params in (a, b):
        (params[0].sum() * 3 + params[1].pow(2).sum()).backward()
    net_util.clip_grad_norm(a, 0.5)
    torch.nn.utils.clip_grad_norm_(b, 0.5)
    for pa, pb in zip(a, b, strict=True):
        assert torch.allclose(pa.grad, pb.grad, atol=1e-6)
    assert torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in a])) == pytest.approx(
        0.5, rel=1e-4
    )


def net_spec(**net) -> dict:
    raw = tiny_ppo()
    raw["agent"]["net"].update(net)
    return validate(raw)[0]["agent"]["net"]


def test_mlp_heads_init_and_layers():
    spec = net_spec(
        hid_layers=[16, 8], hid_layers_activation="relu", init_fn="orthogonal_", layer_norm=True
    )
    net = build_net(spec, (4,), [2, 1], [0.01, 1.0])
    logits, value = net(torch.zeros(3, 4))
    assert logits.shape == (3, 2) and value.shape == (3, 1)
    assert net.heads[0].weight.abs().max() < 0.05  # policy head: orthogonal, gain 0.01
    assert [type(m).__name__ for m in net.body] == [
        "Linear",
        "LayerNorm",
        "ReLU",
        "Linear",
        "LayerNorm",
        "ReLU",
    ]
    assert torch.equal(net.body[0].bias, torch.zeros(16))  # init_fn zeroes biases


def test_torcharc_net_from_arc():
    arc = {
        "modules": {"body": {"Sequential": [{"LazyLinear": {"out_features": 12}}, {"Tanh": None}]}},
        "graph": {"input": "x", "modules": {"body": ["x"]}, "output": "body"},
    }
    spec = net_spec(type="TorchArcNet", arc=arc)
    net = build_net(spec, (4,), [3], [None])
    assert net(torch.zeros(2, 4)).shape == (2, 3)
    assert net.heads[0].in_features == 12


def test_torcharc_bad_arc_is_a_spec_error():
    from slm_lab.spec import SpecError

    arc = {
        "modules": {"body": {"Linearr": {"out_features": 4}}},
        "graph": {"input": "x", "modules": {"body": ["x"]}, "output": "body"},
    }
    with pytest.raises(SpecError, match=r"agent\.net\.arc: torcharc could not build this arc"):
        build_net(net_spec(type="TorchArcNet", arc=arc), (4,), [2], [None])


def test_dueling_q_is_value_plus_centred_advantage():
    spec = {
        "type": "DuelingMLPNet",
        "hid_layers": [8],
        "hid_layers_activation": "relu",
        "init_fn": None,
        "layer_norm": False,
        "batch_norm": False,
        "out_layer_activation": None,
    }
    net = build_net(spec, (3,), [4], [None])
    x = torch.randn(5, 3)
    q = net(x)
    value, adv = HeadNet.forward(net, x)  # the two heads before they are combined
    assert q.shape == (5, 4)
    torch.testing.assert_close(q, value + adv - adv.mean(-1, keepdim=True))
    torch.testing.assert_close(q.mean(-1, keepdim=True), value)


def test_dueling_refuses_actor_critic_heads():
    """Validation keeps dueling nets to Q-learners (one Q head): an actor-critic is refused."""
    raw = tiny_ppo()
    raw["agent"]["net"] = {"type": "DuelingMLPNet", "hid_layers": [8]}
    with pytest.raises(SpecError, match="DuelingMLPNet outputs Q-values"):
        validate(raw)


LR = 0.1
# every LR scheduler with arguments, and its rate after 3 steps, by hand
SCHEDULERS = {
    "LinearToZero": ({"frame": 100}, LR * (1 - 30 / 100)),  # 10 frames a step
    "LinearToMin": ({"frame": 100, "min_factor": 0.8}, LR * 0.8),
    "ConstantLR": ({"factor": 0.5, "total_iters": 2}, LR),
    "CosineAnnealingLR": ({"T_max": 6}, LR * (1 + math.cos(math.pi * 3 / 6)) / 2),
    "CosineAnnealingWarmRestarts": ({"T_0": 2}, LR * (1 + math.cos(math.pi * 1 / 2)) / 2),
    "CyclicLR": ({"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 2}, 0.01 + 0.09 * 0.5),
    "ExponentialLR": ({"gamma": 0.9}, LR * 0.9**3),
    "LinearLR": ({"start_factor": 0.5, "total_iters": 4}, LR * (0.5 + 0.5 * 3 / 4)),
    "MultiStepLR": ({"milestones": [1, 2], "gamma": 0.5}, LR * 0.25),
    "OneCycleLR": ({"max_lr": 0.01, "total_steps": 2}, 0.01 / 25 / 1e4),  # held at its end
    "PolynomialLR": ({"total_iters": 4, "power": 2.0}, LR * (1 - 3 / 4) ** 2),
    "StepLR": ({"step_size": 2, "gamma": 0.5}, LR * 0.5),
    "SequentialLR": (
        {
            "schedulers": [
                {"name": "ConstantLR", "factor": 0.5},
                {"name": "ExponentialLR", "gamma": 0.5},
            ],
            "milestones": [2],
        },
        LR * 0.5,  # ExponentialLR's first step after the milestone
    ),
    "ChainedScheduler": (
        {
            "schedulers": [
                {"name": "StepLR", "step_size": 1, "gamma": 0.5},
                {"name": "ExponentialLR", "gamma": 0.5},
            ]
        },
        LR * 0.25**3,
    ),
}


@pytest.mark.filterwarnings(r"ignore:Detected call of `lr_scheduler.step\(\)` before")
@pytest.mark.filterwarnings("ignore:The epoch parameter in `scheduler.step")
@pytest.mark.parametrize("name", names.LR_SCHEDULERS)
def test_every_lr_scheduler_by_name_with_its_arguments(name: str):
    kwargs, expected = SCHEDULERS[name]
    spec = net_spec(lr_scheduler_spec={"name": name, **kwargs})["lr_scheduler_spec"]
    optim = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR, momentum=0.9)
    clock = SimpleNamespace(frame=0)
    scheduler = net_util.make_lr_scheduler(spec, optim, clock, "agent.net.lr_scheduler_spec")
    for _ in range(3):
        clock.frame += 10
        optim.step()
        scheduler.step()
    assert optim.param_groups[0]["lr"] == pytest.approx(expected)


def test_torch_refusing_a_scheduler_argument_is_a_spec_error():
    spec = net_spec(
        lr_scheduler_spec={
            "name": "SequentialLR",
            "schedulers": [{"name": "StepLR", "step_size": 1}],
            "milestones": [1, 2],
        }
    )
    optim = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR)
    with pytest.raises(SpecError, match="SequentialLR refused its arguments") as err:
        net_util.make_lr_scheduler(
            spec["lr_scheduler_spec"], optim, None, "agent.net.lr_scheduler_spec"
        )
    assert err.value.path == "agent.net.lr_scheduler_spec"


@pytest.mark.parametrize(
    ("loss_spec", "expected"),
    [
        (
            {"name": "SmoothL1Loss", "beta": 2.0},
            [0.25 / 4, 3 - 1],
        ),  # 0.5 x^2 / beta, |x| - beta / 2
        (
            {"name": "HuberLoss", "delta": 2.0},
            [0.125, 2 * (3 - 1)],
        ),  # 0.5 x^2, delta (|x| - delta / 2)
        ({"name": "L1Loss"}, [0.5, 3.0]),
        ({"name": "PoissonNLLLoss", "log_input": True}, [math.exp(0.5) - 0.0, math.exp(3.0) - 0.0]),
    ],
)
def test_losses_by_name_with_their_arguments(loss_spec: dict, expected: list[float]):
    loss = net_util.make_loss(net_spec(loss_spec=loss_spec)["loss_spec"], "agent.net.loss_spec")
    assert loss(torch.tensor([0.5, 3.0]), torch.zeros(2)).tolist() == pytest.approx(expected)


@pytest.mark.parametrize(
    "loss_spec",
    [
        {"name": "MSELoss"},
        {"name": "L1Loss"},
        {"name": "SmoothL1Loss", "beta": 0.5},
        {"name": "SmoothL1Loss", "beta": 0.0},
        {"name": "HuberLoss", "delta": 2.0},
        {"name": "BCEWithLogitsLoss"},
    ],
)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_direct_losses_equal_torch_nn_in_values_and_gradients(loss_spec: dict, reduction: str):
    spec = net_spec(loss_spec=loss_spec)["loss_spec"]
    fast = net_util.make_loss(spec, "agent.net.loss_spec", reduction)
    args = {k: v for k, v in loss_spec.items() if k != "name"}
    slow = getattr(torch.nn, loss_spec["name"])(reduction=reduction, **args)
    torch.manual_seed(0)
    x, target = torch.randn(8, 3, requires_grad=True), torch.rand(8, 3)
    grads = []
    for fn in (fast, slow):
        out = fn(x, target)
        (grad,) = torch.autograd.grad(out.sum(), x)
        grads.append((out.detach(), grad))
    assert torch.equal(grads[0][0], grads[1][0]) and torch.equal(grads[0][1], grads[1][1])


def test_backward_equals_tensor_backward():
    torch.manual_seed(0)
    nets = [torch.nn.Linear(3, 2) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    x = torch.randn(5, 3)
    nets[0](x).pow(2).mean().backward()
    net_util.backward(nets[1](x).pow(2).mean())
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        assert torch.equal(a.grad, b.grad)
    with pytest.raises(RuntimeError, match="does not require grad"):
        net_util.backward(x.sum())
