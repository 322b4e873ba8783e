"""Batch renormalisation (Ioffe 2017), the normalisation CrossQ's critics rely on, with the
original lab's signature and warm-up (its arc specs name BatchRenorm1d and LazyBatchRenorm1d).

In training, activations are normalised by the batch statistics, corrected towards the running
ones by r = sigma_B / sigma and d = (mu_B - mu) / sigma, clipped to [1/r_max, r_max] and
[-d_max, d_max], with no gradient through them. Over `warmup_steps` training steps the limits
open linearly, r_max from 1 to its limit and d_max from 0 to its (plain batch norm at first);
the step count is a Python int (no tensor read per forward), written into the `steps` buffer
when the state is saved and read back from it when loaded.
In evaluation, the running statistics alone.

Computed on fused kernels: batch norm's statistics kernel for the (detached) batch statistics
(on the CPU far faster than `var_mean` across a batch, and without the normalised output that
`native_batch_norm` would also compute), then one `batch_norm` with the corrections folded into
its affine weight and bias, since w ((x - mu_B) / sigma_B r + d) + b = batch_norm(x; weight w r,
bias w d + b). Inputs are (N, C) or (N, C, ...) with features in dimension 1.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin

# the original's defaults
EPS, MOMENTUM, R_MAX, D_MAX, WARMUP_STEPS = 1e-5, 0.01, 3.0, 5.0, 10_000


class BatchRenorm1d(nn.Module):
    def __init__(
        self,
        num_features: int,
        eps: float = EPS,
        momentum: float = MOMENTUM,
        r_max: float = R_MAX,
        d_max: float = D_MAX,
        warmup_steps: int = WARMUP_STEPS,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.r_limit, self.d_limit, self.warmup_steps = r_max, d_max, warmup_steps
        self.count = 0  # training forwards so far
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))  # count, when saved

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
            )
        stats = (self.running_mean, self.running_var)
        y, mean, var = renorm(x, self.weight, self.bias, *stats, self.eps, self.corrections())
        advance([self], mean, var)
        return y

    def corrections(self) -> tuple[float, float] | None:
        """r_max and d_max at this step of the warm-up; None at step 0 (plain batch norm)."""
        if self.count == 0:
            return None
        t = min(self.count / max(self.warmup_steps, 1), 1.0)
        return 1.0 + t * (self.r_limit - 1.0), t * self.d_limit

    def _save_to_state_dict(self, destination, prefix, keep_vars) -> None:
        self.steps.fill_(self.count)
        super()._save_to_state_dict(destination, prefix, keep_vars)

    def _load_from_state_dict(self, state_dict, prefix, *args) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args)
        self.count = int(self.steps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, r_max={self.r_limit}, "
            f"d_max={self.d_limit}, warmup_steps={self.warmup_steps}"
        )


def renorm(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    running_mean: torch.Tensor,
    running_var: torch.Tensor,
    eps: float,
    limits: tuple[float, float] | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A training forward: the output, and the batch mean and variance (for the running ones)."""
    with torch.no_grad():  # batch norm's own statistics kernel: 50x var_mean's speed on (N, C)
        mean, var = torch.batch_norm_update_stats(x, None, None, 0.0)  # biased variance
    if limits is not None:  # fold r and d into the affine weight and bias: w r, w d + b
        r_max, d_max = limits
        with torch.no_grad():
            running_std = (running_var + eps).sqrt()
            r = ((var + eps).sqrt() / running_std).clamp_(1.0 / r_max, r_max)
            d = ((mean - running_mean) / running_std).clamp_(-d_max, d_max)
        weight, bias = weight * r, torch.addcmul(bias, weight, d)
    return F.batch_norm(x, None, None, weight, bias, True, 0.0, eps), mean, var


@torch.no_grad()
def advance(layers: list[BatchRenorm1d], mean: torch.Tensor, var: torch.Tensor) -> None:
    """Move the layers' running statistics towards the batch's (one chunk each); count a step."""
    k, momentum = len(layers), layers[0].momentum
    torch._foreach_lerp_([m.running_mean for m in layers], list(mean.chunk(k)), momentum)
    torch._foreach_lerp_([m.running_var for m in layers], list(var.chunk(k)), momentum)
    for layer in layers:
        layer.count += 1


class LazyBatchRenorm1d(LazyModuleMixin, BatchRenorm1d):
    """BatchRenorm1d whose num_features come from its first input (dimension 1)."""

    cls_to_become = BatchRenorm1d

    def __init__(
        self,
        eps: float = EPS,
        momentum: float = MOMENTUM,
        r_max: float = R_MAX,
        d_max: float = D_MAX,
        warmup_steps: int = WARMUP_STEPS,
    ) -> None:
        super().__init__(0, eps, momentum, r_max, d_max, warmup_steps)
        self.weight = nn.UninitializedParameter()
        self.bias = nn.UninitializedParameter()
        self.running_mean = nn.UninitializedBuffer()
        self.running_var = nn.UninitializedBuffer()

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.num_features:
            with torch.no_grad():
                self.weight.fill_(1.0)
                self.bias.zero_()
                self.running_mean.zero_()
                self.running_var.fill_(1.0)

    def initialize_parameters(self, x: torch.Tensor) -> None:
        if not self.has_uninitialized_params():
            return
        self.num_features = x.shape[1]
        shape = (self.num_features,)
        for tensor in (self.weight, self.bias, self.running_mean, self.running_var):
            tensor.materialize(shape)
        self.reset_parameters()
