"""TorchArcNet: a body built by the torcharc package from the spec's `arc` block or `arc_file`;
an arc may name torch.nn modules and the lab's own (spec/registry.py:ARC_MODULES). With
`normalize`, image inputs are divided by 255 first. Lazy layers materialise on a dummy input in
evaluation mode, so normalisation layers keep their initial statistics."""

import copy
import importlib

import torch
import torcharc
from torch import nn

from slm_lab.agent.net import net_util
from slm_lab.agent.net.base import HeadNet
from slm_lab.agent.net.conv import Scale
from slm_lab.lib.errors import SpecError
from slm_lab.spec import registry


def register_arc_modules() -> None:
    """Put the lab's own modules in torch.nn, where torcharc looks names up (idempotent)."""
    for name, module in registry.ARC_MODULES.items():
        cls = getattr(importlib.import_module(f"slm_lab.agent.net.{module}"), name)
        if getattr(nn, name, None) is not cls:
            torcharc.register_nn(cls)


def arc_of(net_spec: dict, role: str | None) -> dict | str:
    arc = net_util.role_key(net_spec, "arc", role) or net_spec["arc_file"]
    if arc is None:
        raise SpecError(f"TorchArcNet needs arc, {role}_arc or arc_file", "agent.net")
    return arc


class TorchArcNet(HeadNet):
    def __init__(
        self,
        net_spec: dict,
        in_shape: tuple[int, ...],
        out_dims,
        head_stds,
        role: str | None = None,
    ) -> None:
        register_arc_modules()
        try:
            body = torcharc.build(copy.deepcopy(arc_of(net_spec, role)))  # it fills in specs
            with torch.no_grad():  # materialise lazy layers
                body_dim = body.eval()(torch.zeros(1, *in_shape)).shape[-1]
            body.train()
        except (ValueError, TypeError, KeyError, RuntimeError, FileNotFoundError) as e:
            raise SpecError(f"torcharc could not build this arc: {e}", "agent.net.arc") from e
        net_util.init_layers(body, net_spec["init_fn"], net_spec["hid_layers_activation"])
        if net_spec["normalize"]:
            body = nn.Sequential(Scale(True), body)
        super().__init__(body, body_dim, net_spec, out_dims, head_stds)
