"""WeightNormLinear by hand, its lazy variant, and both named in an arc."""

import math

import pytest
import torch

from slm_lab.agent.net import build_net
from slm_lab.agent.net.weight_norm import LazyWeightNormLinear, WeightNormLinear
from slm_lab.spec.validate import validate
from test.conftest import tiny_ppo


def test_weight_is_length_times_direction_by_hand():
    layer = WeightNormLinear(2, 1)
    with torch.no_grad():
        layer.v.copy_(torch.tensor([[3.0, 4.0]]))  # ||v|| = 5
        layer.g.fill_(10.0)
        layer.bias.fill_(1.0)
    torch.testing.assert_close(layer.weight, torch.tensor([[6.0, 8.0]]))
    assert layer(torch.tensor([[1.0, 1.0]])).item() == pytest.approx(15.0)
    layer(torch.tensor([[1.0, 2.0]])).sum().backward()
    # dy/dg = v.x / ||v|| = 11 / 5; the direction's gradient is orthogonal to v
    assert layer.g.grad.item() == pytest.approx(11 / 5)
    # (g / ||v||) (x - (v.x) v / ||v||^2) = 2 ([1, 2] - 11/25 [3, 4])
    torch.testing.assert_close(layer.v.grad, torch.tensor([[2 - 66 / 25, 4 - 88 / 25]]))


def test_starts_as_a_linear_layer():
    torch.manual_seed(0)
    layer = WeightNormLinear(5, 3)
    torch.testing.assert_close(layer.weight, layer.v)
    bound = 1 / math.sqrt(5)
    assert layer.bias.abs().max() <= bound and layer.v.abs().max() <= bound
    assert WeightNormLinear(5, 3, bias=False).bias is None


def test_lazy_takes_its_input_width():
    layer = LazyWeightNormLinear(4)
    out = layer(torch.randn(2, 7))
    assert type(layer) is WeightNormLinear and out.shape == (2, 4)
    assert layer.v.shape == (4, 7) and layer.in_features == 7
    torch.testing.assert_close(layer.weight, layer.v)


def test_named_in_an_arc():
    arc = {
        "modules": {
            "body": {
                "Sequential": [
                    {"LazyWeightNormLinear": {"out_features": 16}},
                    {"ReLU": None},
                    {"WeightNormLinear": {"in_features": 16, "out_features": 8}},
                ]
            }
        },
        "graph": {"input": "x", "modules": {"body": ["x"]}, "output": "body"},
    }
    raw = tiny_ppo()
    raw["agent"]["net"].update(type="TorchArcNet", arc=arc)
    net = build_net(validate(raw)[0]["agent"]["net"], (4,), [2], [None])
    assert net(torch.zeros(3, 4)).shape == (3, 2)
    layers = [type(m).__name__ for m in net.body.modules()]
    assert layers.count("WeightNormLinear") == 2
    names = {n for n, _ in net.named_parameters()}
    assert {"body.body.0.v", "body.body.0.g", "body.body.2.g"} <= names
