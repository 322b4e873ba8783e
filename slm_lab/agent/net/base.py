"""HeadNet: any body plus one output layer per requested dimension; the nets build on it."""

import torch
from torch import nn

from slm_lab.agent.net import net_util
from slm_lab.lib.errors import SpecError


class HeadNet(nn.Module):
    """A body plus output heads; returns a tensor for one head, a list for several. `tails`
    (HydraMLPNet): per output, layers between the body and its output layer, and their width."""

    def __init__(
        self,
        body: nn.Module,
        body_dim: int,
        net_spec: dict,
        out_dims,
        head_stds,
        tails: list[tuple[nn.Module, int]] | None = None,
    ) -> None:
        super().__init__()
        self.body = body
        self.heads = nn.ModuleList(
            output_layer(body_dim, d, std, tail)
            for d, std, tail in zip(
                out_dims, head_stds, tails or [None] * len(out_dims), strict=True
            )
        )
        out_act = net_spec["out_layer_activation"]
        acts = out_act if isinstance(out_act, list) else [out_act] * len(out_dims)
        if len(acts) != len(out_dims):
            raise SpecError(
                f"a list of {len(acts)} activations for a net with {len(out_dims)} output heads: "
                "give one per head, or one name for all",
                "agent.net.out_layer_activation",
            )
        self.out_acts = nn.ModuleList(net_util.activation(a) for a in acts)
        self.single = len(out_dims) == 1

        # the lab registers no hooks, so call each layer's forward directly: Module.__call__
        # costs a few microseconds per layer, a third of an MLP's acting time on small batches
        self.layers = (
            [m.forward for m in leaves(body)] if isinstance(body, nn.Sequential) else [body]
        )
        self.outputs = [
            (hd.forward, act.forward) for hd, act in zip(self.heads, self.out_acts, strict=True)
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        for layer in self.layers:
            x = layer(x)
        if self.single:
            head, act = self.outputs[0]
            return act(head(x))
        return [act(head(x)) for head, act in self.outputs]


def output_layer(
    body_dim: int, out_dim: int, init_std: float | None, tail: tuple[nn.Module, int] | None
) -> nn.Module:
    if tail is None:
        return net_util.head(body_dim, out_dim, init_std)
    layers, width = tail
    return nn.Sequential(layers, net_util.head(width, out_dim, init_std))


class Dueling:
    """Mixin for a HeadNet (Wang et al. 2016): one body, a state value V and advantages A,
    combined as Q = V + A - mean(A)."""

    def __init__(self, net_spec: dict, in_shape, out_dims, head_stds, role=None) -> None:
        """`out_dims`: the one Q head (validation keeps dueling nets to Q-learners)."""
        super().__init__(net_spec, in_shape, [1, *out_dims], [*head_stds, *head_stds], role)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, adv = super().forward(x)
        return value + adv - adv.mean(-1, keepdim=True)


def leaves(module: nn.Module) -> list[nn.Module]:
    """The layers of nested Sequentials, in order."""
    if not isinstance(module, nn.Sequential):
        return [module]
    return [leaf for child in module for leaf in leaves(child)]


class WithLogStd(nn.Module):
    """A policy net whose Gaussian log std is one learnt parameter per action dimension, not an
    output (`log_std_init`): appends it to the means, so the distribution sees [mean, log_std]."""

    def __init__(self, net: nn.Module, action_dim: int, init: float) -> None:
        super().__init__()
        self.net = net
        self.log_std = nn.Parameter(torch.full((action_dim,), float(init)))

    def with_std(self, mean: torch.Tensor) -> torch.Tensor:
        return torch.cat([mean, self.log_std.expand_as(mean)], -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        out = self.net(x)
        if isinstance(out, list):  # a shared net: policy outputs first, then the value
            return [self.with_std(out[0]), *out[1:]]
        return self.with_std(out)
