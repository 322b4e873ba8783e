"""Batch renormalisation (Ioffe 2017), the normalisation CrossQ's critics rely on.

In training, activations are normalised by the batch statistics, corrected towards the running
ones by r = sigma_B / sigma and d = (mu_B - mu) / sigma (clipped to [1/r_max, r_max], [-d_max, d_max],
no gradient through them); after `warmup` training steps of plain batch norm (r = 1, d = 0). In
evaluation, the running statistics alone.
"""

import torch
from torch import nn

R_MAX, D_MAX = 3.0, 5.0  # limits of the corrections (the paper's final values)
MOMENTUM = 0.01  # weight of each batch in the running statistics
EPS = 1e-3
WARMUP = 100_000  # training steps of plain batch norm before the corrections start


class BatchRenorm1d(nn.Module):
    def __init__(self, dim: int, momentum: float = MOMENTUM, warmup: int = WARMUP) -> None:
        super().__init__()
        self.momentum, self.warmup = momentum, warmup
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        running_std = (self.running_var + EPS).sqrt()
        if not self.training:
            return (x - self.running_mean) / running_std * self.weight + self.bias
        mean, var = x.mean(0), x.var(0, unbiased=False)
        std = (var + EPS).sqrt()
        x_hat = (x - mean) / std
        if self.steps >= self.warmup:
            r = (std.detach() / running_std).clamp(1 / R_MAX, R_MAX)
            d = ((mean.detach() - self.running_mean) / running_std).clamp(-D_MAX, D_MAX)
            x_hat = x_hat * r + d
        with torch.no_grad():
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var, self.momentum)
            self.steps += 1
        return x_hat * self.weight + self.bias
