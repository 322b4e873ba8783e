"""Twin critics evaluated as one ensemble: K nets of the same plain MLP structure (linear layers
and parameter-free activations) run together, one batched matmul (`baddbmm`) per layer on their
stacked weights, instead of K forwards of small matmuls. The nets stay separate modules with
their own parameters (checkpoints and model files are unchanged); the stack is taken at each call,
so gradients flow back to each net's own weights."""

import torch
from torch import nn

from slm_lab.agent.net.base import HeadNet, leaves


def elementwise(layer: nn.Module) -> bool:
    return type(layer) is nn.Identity or type(layer).__module__ == nn.ReLU.__module__


def layers_of(net: nn.Module) -> list[nn.Module] | None:
    """A HeadNet's layers in order (body, output layer, its activation), or None unless each is
    a linear layer with a bias (spectrally normalised or not) or an elementwise activation."""
    if not isinstance(net, HeadNet) or not net.single:
        return None
    layers = [*leaves(net.body), net.heads[0], net.out_acts[0]]
    fits = all((isinstance(m, nn.Linear) and m.bias is not None) or elementwise(m) for m in layers)
    return layers if fits else None


class Ensemble:
    """`Ensemble(nets)(x)`: every net's output, stacked (K, N, out); x is (N, in), shared by
    all, or (K, N, in), one batch each. `Ensemble.of(nets)` is None where nets do not fit."""

    def __init__(self, plans: list[list[nn.Module]]) -> None:
        self.columns = list(zip(*plans, strict=True))  # per position, that layer of every net

    @classmethod
    def of(cls, nets: list[nn.Module]) -> "Ensemble | None":
        plans = [layers_of(net) for net in nets]
        if any(p is None for p in plans) or len({len(p) for p in plans}) != 1:
            return None
        kinds = {tuple(type(layer).__name__ for layer in p) for p in plans}
        shapes = {tuple(p.shape for p in net.parameters()) for net in nets}
        return cls(plans) if len(kinds) == 1 and len(shapes) == 1 else None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        k = len(self.columns[0])
        if x.dim() == 2:
            x = x.expand(k, *x.shape)
        for column in self.columns:
            first = column[0]
            if isinstance(first, nn.Linear):
                weight = torch.stack([m.weight for m in column])
                bias = torch.stack([m.bias for m in column]).unsqueeze(1)
                x = torch.baddbmm(bias, x, weight.transpose(1, 2))
            else:
                x = first(x)  # the same parameter-free activation for every net
        return x


class Separate:
    """The same call for nets that do not fit an Ensemble: one forward each, stacked."""

    def __init__(self, nets: list[nn.Module]) -> None:
        self.nets = nets

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([net(x) for net in self.nets])


def joint(nets: list[nn.Module]) -> "Ensemble | Separate":
    """The nets as one callable returning their stacked outputs."""
    return Ensemble.of(nets) or Separate(nets)
