"""MLPNet: a fully connected body with one output head per requested dimension; HydraMLPNet,
the original lab's MLP with a head, a shared body and a tail per output."""

from torch import nn

from slm_lab.agent.net import net_util
from slm_lab.agent.net.base import Dueling, HeadNet
from slm_lab.lib.errors import SpecError


class MLPNet(HeadNet):
    def __init__(
        self,
        net_spec: dict,
        in_shape: tuple[int, ...],
        out_dims,
        head_stds,
        role: str | None = None,
    ) -> None:
        act = net_spec["hid_layers_activation"]
        layers = net_spec["hid_layers"]
        body = net_util.mlp(
            net_util.flat_dim(in_shape), layers, act, net_spec["layer_norm"], net_spec["batch_norm"]
        )
        if len(in_shape) > 1:
            body = nn.Sequential(nn.Flatten(), body)
        net_util.init_layers(body, net_spec["init_fn"], act)
        body_dim = layers[-1] if layers else net_util.flat_dim(in_shape)
        super().__init__(body, body_dim, net_spec, out_dims, head_stds)


class DuelingMLPNet(Dueling, MLPNet):
    """MLP body, Q = V + A - mean(A)."""


class HydraMLPNet(HeadNet):
    """`hid_layers: [[head], body, tails]`: the input's head widths, the shared body's widths,
    and per output a tail of widths that starts at the body's last width (as the original reads
    them: a tail [64, 32] is one layer 64 -> 32), then the output layer. No tails: the outputs
    follow the body; one tail: every output gets its own copy. The original had a head per env of
    a multi-env agent; an agent here has one env, so one head (validation checks the shape)."""

    def __init__(
        self,
        net_spec: dict,
        in_shape: tuple[int, ...],
        out_dims,
        head_stds,
        role: str | None = None,
    ) -> None:
        (head,), body_widths, tails = net_spec["hid_layers"]
        act, norms = (
            net_spec["hid_layers_activation"],
            (net_spec["layer_norm"], net_spec["batch_norm"]),
        )
        in_dim = net_util.flat_dim(in_shape)
        body = nn.Sequential(
            net_util.mlp(in_dim, head, act, *norms),
            net_util.mlp(head[-1], body_widths, act, *norms),
        )
        if len(in_shape) > 1:
            body = nn.Sequential(nn.Flatten(), body)
        tails = tails * len(out_dims) if len(tails) == 1 else tails
        if tails and len(tails) != len(out_dims):
            raise SpecError(
                f"{len(tails)} tails for a net with {len(out_dims)} outputs: give one tail per "
                "output, one for all, or none",
                "agent.net.hid_layers[2]",
            )
        tail_nets = [(net_util.mlp(t[0], t[1:], act, *norms), t[-1]) for t in tails]
        for module in (body, *(t for t, _ in tail_nets)):
            net_util.init_layers(module, net_spec["init_fn"], act)
        super().__init__(body, body_widths[-1], net_spec, out_dims, head_stds, tail_nets or None)
