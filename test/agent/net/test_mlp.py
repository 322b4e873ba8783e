"""HydraMLPNet: the original's [[head], body, tails] layout, built and refused."""

import pytest
import torch
from torch import nn

from slm_lab.agent.net import build_net
from slm_lab.agent.net.mlp import HydraMLPNet
from slm_lab.lib.errors import SpecError
from slm_lab.spec.validate import validate
from test.conftest import tiny_dqn, tiny_ppo

OBS = (4,)


def hydra_spec(hid_layers, raw: dict | None = None, **net) -> dict:
    raw = raw or tiny_ppo()
    raw["agent"]["net"] = {"type": "HydraMLPNet", "hid_layers": hid_layers, **net}
    return validate(raw)[0]["agent"]["net"]


def widths(module: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


def test_head_body_and_a_tail_per_output():
    net = build_net(hydra_spec([[[8]], [6, 5], [[5, 3], [5]]]), OBS, [2, 1], [0.01, 1.0])
    assert isinstance(net, HydraMLPNet)
    assert widths(net.body) == [(4, 8), (8, 6), (6, 5)]
    assert widths(net.heads[0]) == [(5, 3), (3, 2)]  # tail 5 -> 3, then the output layer
    assert widths(net.heads[1]) == [(5, 1)]  # a tail of the body's width alone: no hidden layer
    logits, value = net(torch.zeros(7, 4))
    assert logits.shape == (7, 2) and value.shape == (7, 1)


def test_forward_is_head_body_tail_composed():
    net = build_net(
        hydra_spec([[[3]], [2], [[2, 2]]], hid_layers_activation="tanh"), OBS, [1], [None]
    )
    x = torch.randn(5, 4)
    body, tail, out = net.body, net.heads[0][0], net.heads[0][1]
    expected = out(torch.tanh(tail[0](torch.tanh(body[1][0](torch.tanh(body[0][0](x)))))))
    torch.testing.assert_close(net(x), expected)


def test_one_tail_is_copied_to_every_output_and_none_means_no_tail():
    net = build_net(hydra_spec([[[8]], [6], [[6, 4]]]), OBS, [2, 1], [None, None])
    assert widths(net.heads[0]) == [(6, 4), (4, 2)] and widths(net.heads[1]) == [(6, 4), (4, 1)]
    assert net.heads[0][0][0].weight is not net.heads[1][0][0].weight
    plain = build_net(hydra_spec([[[8]], [6], []]), OBS, [2, 1], [None, None])
    assert widths(plain.heads[0]) == [(6, 2)] and widths(plain.heads[1]) == [(6, 1)]


def test_the_originals_dqn_layout_builds_for_a_q_learner():
    spec = hydra_spec([[[32]], [64], []], raw=tiny_dqn())
    assert build_net(spec, OBS, [2], [None])(torch.zeros(3, 4)).shape == (3, 2)


def test_more_tails_than_outputs_is_refused_at_build():
    with pytest.raises(SpecError, match="3 tails for a net with 2 outputs") as err:
        build_net(hydra_spec([[[8]], [6], [[6], [6], [6]]]), OBS, [2, 1], [None, None])
    assert err.value.path == "agent.net.hid_layers[2]"


@pytest.mark.parametrize(
    ("hid_layers", "path", "match"),
    [
        ([64, 64], "agent.net.hid_layers", "expected \\[\\[head widths\\], body widths"),
        ([[[32], [32]], [64], []], "agent.net.hid_layers[0]", "give one head"),
        ([[[32]], [], []], "agent.net.hid_layers[1]", "a non-empty list of layer widths"),
        ([[[32]], [64], [[32]]], "agent.net.hid_layers[2][0]", "starts at the body's last width"),
        ([[[0]], [64], []], "agent.net.hid_layers[0][0][0]", "layer widths must be >= 1"),
    ],
)
def test_bad_layouts_are_refused_at_validation(hid_layers, path: str, match: str):
    with pytest.raises(SpecError, match=match) as err:
        hydra_spec(hid_layers)
    assert err.value.path == path
