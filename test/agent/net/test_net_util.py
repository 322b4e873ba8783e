"""Device choice, grad clipping, nets built from specs."""

import pytest
import torch

from slm_lab.agent.net import build_net, net_util
from slm_lab.agent.net.base import HeadNet
from slm_lab.lib.errors import SpecError
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
