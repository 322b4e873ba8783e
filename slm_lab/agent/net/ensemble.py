"""Twin critics evaluated as one ensemble: K nets of the same plain MLP structure (linear layers,
elementwise activations, batch renorm) run together, one batched matmul (`baddbmm`) per layer on
their stacked weights, instead of K forwards of small matmuls (fewer kernel launches: a GPU lever; on
the CPU separate forwards measured faster, so `joint` keeps them there); batch renorm layers run as one
layer over the K nets' features side by side (per-net statistics, per-net running statistics). The nets stay separate modules with
their own parameters (checkpoints and model files are unchanged); the stack is taken at each call,
so gradients flow back to each net's own weights."""

import torch
import torch.nn.functional as F
from torch import nn

from slm_lab.agent.net.base import HeadNet, leaves
from slm_lab.agent.net.batch_renorm import BatchRenorm1d, advance, renorm


def elementwise(layer: nn.Module) -> bool:
    return type(layer) is nn.Identity or type(layer).__module__ == nn.ReLU.__module__


def layers_of(net: nn.Module) -> list[nn.Module] | None:
    """A HeadNet's or a Sequential's layers in order (for a HeadNet: body, output layer, its
    activation), or None unless each is a linear layer with a bias (spectrally normalised or
    not), an elementwise activation or a batch renorm layer."""
    if isinstance(net, nn.Sequential):
        layers = leaves(net)
    elif isinstance(net, HeadNet) and net.single:
        layers = [*leaves(net.body), net.heads[0], net.out_acts[0]]
    else:
        return None
    fits = all(
        (isinstance(m, nn.Linear) and m.bias is not None)
        or type(m) is BatchRenorm1d
        or elementwise(m)
        for m in layers
    )
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
            elif isinstance(first, BatchRenorm1d):
                x = batch_renorm(column, x)
            else:
                x = first(x)  # the same parameter-free activation for every net
        return x


def batch_renorm(layers: tuple[BatchRenorm1d, ...], x: torch.Tensor) -> torch.Tensor:
    """K batch renorm layers on x (K, N, C) as one layer on (N, K C)."""
    k, n, c = x.shape
    flat = x.transpose(0, 1).reshape(n, k * c)
    first = layers[0]
    weight, bias, running_mean, running_var = (
        torch.cat([getattr(m, name) for m in layers])
        for name in ("weight", "bias", "running_mean", "running_var")
    )
    if first.training:
        stats = (running_mean, running_var)
        y, mean, var = renorm(flat, weight, bias, *stats, first.eps, first.corrections())
        advance(list(layers), mean, var)
    else:
        y = F.batch_norm(flat, running_mean, running_var, weight, bias, False, 0.0, first.eps)
    return y.view(n, k, c).transpose(0, 1)


class Separate:
    """The same call for nets that do not fit an Ensemble: one forward each, stacked."""

    def __init__(self, nets: list[nn.Module]) -> None:
        self.nets = nets

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([net(x) for net in self.nets])


def on_gpu(nets: list[nn.Module]) -> bool:
    return all(p.is_cuda for net in nets for p in net.parameters())


def joint(nets: list[nn.Module]) -> "Ensemble | Separate":
    """The nets as one callable returning their stacked outputs: an Ensemble on a GPU where
    they fit one; on the CPU (SAC 256x256: 16.7 vs 15.6 ms a learn step) separate forwards."""
    return (on_gpu(nets) and Ensemble.of(nets)) or Separate(nets)
