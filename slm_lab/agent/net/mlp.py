"""MLPNet: a fully connected body with one output head per requested dimension."""

from torch import nn

from slm_lab.agent.net import net_util
from slm_lab.agent.net.base import Dueling, HeadNet


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
