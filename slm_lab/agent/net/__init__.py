"""Nets, found by the `type` written in the spec."""

from slm_lab.agent.net.conv import ConvNet, DuelingConvNet
from slm_lab.agent.net.mlp import DuelingMLPNet, MLPNet
from slm_lab.agent.net.recurrent import RecurrentNet
from slm_lab.agent.net.torcharc_net import TorchArcNet
from slm_lab.lib.registry import lookup

NETS = {
    "MLPNet": MLPNet,
    "DuelingMLPNet": DuelingMLPNet,
    "ConvNet": ConvNet,
    "DuelingConvNet": DuelingConvNet,
    "RecurrentNet": RecurrentNet,
    "TorchArcNet": TorchArcNet,
}


def build_net(net_spec: dict, in_shape, out_dims: list[int], head_stds, role: str | None = None):
    cls = lookup(NETS, net_spec["type"], "net type", "agent.net.type")
    return cls(net_spec, tuple(in_shape), out_dims, head_stds, role=role)
