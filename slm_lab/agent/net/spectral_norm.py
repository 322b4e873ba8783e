"""Spectral normalisation (Miyato et al. 2018) of one linear layer's weight, W / sigma(W), with
sigma the largest singular value estimated by one power iteration per training forward. The
original lab applies it to a critic's penultimate linear layer (Gogianu et al. 2021: it bounds
the critic's Lipschitz constant without the harm of normalising every layer). Works on a stack
of weights (..., out, in), one sigma per member, for ensembles of critics."""

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

EPS = 1e-12


class SpectralNorm(nn.Module):
    """A parametrization: forward(W) = W / sigma(W); u and v are the power iteration's vectors."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        *lead, n_out, n_in = weight.shape
        self.register_buffer("u", F.normalize(torch.randn(*lead, n_out), dim=-1, eps=EPS))
        self.register_buffer("v", F.normalize(torch.randn(*lead, n_in), dim=-1, eps=EPS))

    @torch.no_grad()
    def power_iteration(self, w: torch.Tensor) -> None:
        v = F.normalize((w.transpose(-1, -2) @ self.u.unsqueeze(-1)).squeeze(-1), dim=-1, eps=EPS)
        u = F.normalize((w @ v.unsqueeze(-1)).squeeze(-1), dim=-1, eps=EPS)
        self.v.copy_(v)
        self.u.copy_(u)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.power_iteration(w.detach())
        sigma = (self.u.unsqueeze(-2) @ w @ self.v.unsqueeze(-1)).squeeze(-1)  # (..., 1)
        return w / sigma.unsqueeze(-1)


def spectral_norm_penultimate(net: nn.Module) -> nn.Module:
    """Spectral normalisation on the last linear layer before the output layer; a net with one
    linear layer is left alone (it has no penultimate layer), as the original does."""
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    if len(linears) >= 2:
        layer = linears[-2]
        parametrize.register_parametrization(layer, "weight", SpectralNorm(layer.weight))
    return net
