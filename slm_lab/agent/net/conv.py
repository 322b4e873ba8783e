"""ConvNet (Nature DQN by default) and DuelingConvNet, for stacked image observations.

Observations arrive channels first, (frames, height, width), as uint8 until here; `normalize`
scales them to [0, 1]. Each `conv_hid_layers` entry is [out_channels, kernel, stride, padding,
dilation] (padding and dilation optional), followed by the `fc_hid_layers` and the heads.
"""

import torch
from torch import nn

from slm_lab.agent.net import net_util
from slm_lab.agent.net.base import Dueling, HeadNet
from slm_lab.lib.errors import SpecError

PIXEL_MAX = 255.0
CONV_ARGS = ("out_channels", "kernel_size", "stride", "padding", "dilation")


class Scale(nn.Module):
    """Images as floats, divided by 255 when `normalize` is set."""

    def __init__(self, normalize: bool) -> None:
        super().__init__()
        self.factor = 1.0 / PIXEL_MAX if normalize else 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        return x * self.factor if self.factor != 1.0 else x


def conv_layer(in_channels: int, entry: list[int], path: str) -> nn.Conv2d:
    """`entry`: [out_channels, kernel, stride, padding, dilation] (its form validated)."""
    kwargs = dict(zip(CONV_ARGS, entry, strict=False))
    try:
        return nn.Conv2d(in_channels, **kwargs)
    except (ValueError, RuntimeError) as e:
        raise SpecError(f"Conv2d refused {entry}: {e}", path) from e


def conv_body(in_shape: tuple[int, ...], layers: list, act: str, batch_norm: bool) -> nn.Sequential:
    modules: list[nn.Module] = []
    channels = in_shape[0]
    for i, entry in enumerate(layers):
        conv = conv_layer(channels, entry, f"agent.net.conv_hid_layers[{i}]")
        modules.append(conv)
        if batch_norm:
            modules.append(nn.BatchNorm2d(conv.out_channels))
        modules.append(net_util.activation(act))
        channels = conv.out_channels
    return nn.Sequential(*modules, nn.Flatten())


def conv_out_dim(body: nn.Module, in_shape: tuple[int, ...]) -> int:
    try:
        with torch.no_grad():
            return body(torch.zeros(1, *in_shape)).shape[1]
    except RuntimeError as e:  # the image shrank below a kernel
        raise SpecError(
            f"conv layers do not fit a {in_shape} observation: {e}", "agent.net.conv_hid_layers"
        ) from e


class ConvNet(HeadNet):
    def __init__(
        self,
        net_spec: dict,
        in_shape: tuple[int, ...],
        out_dims,
        head_stds,
        role: str | None = None,
    ) -> None:
        if len(in_shape) != 3:
            raise SpecError(
                f"ConvNet takes image observations (channels, height, width); this env's are "
                f"{in_shape}: use MLPNet",
                "agent.net.type",
            )
        act = net_spec["hid_layers_activation"]
        conv = conv_body(in_shape, net_spec["conv_hid_layers"], act, net_spec["batch_norm"])
        fc_layers = net_spec["fc_hid_layers"]
        flat = conv_out_dim(conv, in_shape)
        fc = net_util.mlp(flat, fc_layers, act, net_spec["layer_norm"], False)
        body = nn.Sequential(Scale(net_spec["normalize"]), conv, fc)
        net_util.init_layers(body, net_spec["init_fn"], act)
        super().__init__(body, fc_layers[-1] if fc_layers else flat, net_spec, out_dims, head_stds)


class DuelingConvNet(Dueling, ConvNet):
    """ConvNet body, Q = V + A - mean(A)."""
