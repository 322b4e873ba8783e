"""Weight-normalised linear layers (Salimans & Kingma 2016), which the original lab's arc specs
may name: each output row of the weight is W_i = g_i v_i / ||v_i||, so its length g_i and its
direction v_i are learnt apart. Registered for torcharc in spec/registry.py:ARC_MODULES."""

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.parameter import UninitializedParameter

KAIMING_A = math.sqrt(5)  # nn.Linear's initialisation


class WeightNormLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.v = nn.Parameter(torch.empty(out_features, in_features))
        self.g = nn.Parameter(torch.empty(out_features, 1))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Start as nn.Linear does: v drawn as its weight, g = ||v|| (so W = v), its bias."""
        nn.init.kaiming_uniform_(self.v, a=KAIMING_A)
        with torch.no_grad():
            self.g.copy_(self.v.norm(dim=1, keepdim=True))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            nn.init.uniform_(self.bias, -bound, bound)

    @property
    def weight(self) -> torch.Tensor:
        return self.g * self.v / self.v.norm(dim=1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class LazyWeightNormLinear(LazyModuleMixin, WeightNormLinear):
    """WeightNormLinear whose in_features come from its first input (as nn.LazyLinear)."""

    cls_to_become = WeightNormLinear

    def __init__(self, out_features: int, bias: bool = True) -> None:
        super().__init__(0, out_features, False)
        self.v, self.g = UninitializedParameter(), UninitializedParameter()
        if bias:
            self.bias = UninitializedParameter()

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_features:
            super().reset_parameters()

    def initialize_parameters(self, x: torch.Tensor) -> None:
        if not self.has_uninitialized_params():
            return
        with torch.no_grad():
            self.in_features = x.shape[-1]
            self.v.materialize((self.out_features, self.in_features))
            self.g.materialize((self.out_features, 1))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()
