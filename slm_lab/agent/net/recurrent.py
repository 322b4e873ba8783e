"""RecurrentNet: an RNN/LSTM/GRU over the env's observation window, one head per output; with
`bidirectional`, the window is also read newest to oldest."""

import torch
from torch import nn

from slm_lab.agent.net import net_util
from slm_lab.agent.net.base import HeadNet
from slm_lab.lib.errors import SpecError

SEQ_AXES = 2  # (batch, seq) lead every window


class RecurrentBody(nn.Module):
    """Per-step MLP, then the RNN; returns the RNN's output after it has read the whole window:
    at the newest step, and for a bidirectional RNN also the backward pass's at the oldest."""

    def __init__(self, fc: nn.Sequential, rnn: nn.RNNBase) -> None:
        super().__init__()
        self.fc = fc
        self.rnn = rnn
        self.hidden = rnn.hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq = x.shape[:SEQ_AXES]
        steps = self.fc(x.reshape(batch * seq, -1))  # one row per step, so batch_norm sees steps
        out, _ = self.rnn(steps.view(batch, seq, -1))
        if not self.rnn.bidirectional:
            return out[:, -1]
        return torch.cat([out[:, -1, : self.hidden], out[:, 0, self.hidden :]], -1)


def check_window(in_shape: tuple[int, ...], seq_len: int) -> None:
    """Refuse input that is not a (seq_len, *obs_shape) window."""
    if len(in_shape) < SEQ_AXES or in_shape[0] != seq_len:
        raise SpecError(
            f"RecurrentNet needs the env's observation window of shape (seq_len={seq_len}, "
            f"*obs_shape); got in_shape {in_shape}",
            "agent.net.type",
        )


class RecurrentNet(HeadNet):
    def __init__(
        self,
        net_spec: dict,
        in_shape: tuple[int, ...],
        out_dims,
        head_stds,
        role: str | None = None,
    ) -> None:
        check_window(in_shape, net_spec["seq_len"])
        act = net_spec["hid_layers_activation"]
        layers = net_spec["fc_hid_layers"]
        obs_dim = net_util.flat_dim(in_shape[1:])
        fc = net_util.mlp(obs_dim, layers, act, net_spec["layer_norm"], net_spec["batch_norm"])
        net_util.init_layers(fc, net_spec["init_fn"], act)
        hidden = net_spec["rnn_hidden_size"]
        rnn = getattr(nn, net_spec["cell_type"])(
            input_size=layers[-1] if layers else obs_dim,
            hidden_size=hidden,
            num_layers=net_spec["rnn_num_layers"],
            batch_first=True,
            bidirectional=net_spec["bidirectional"],
        )
        out_dim = hidden * (2 if rnn.bidirectional else 1)
        super().__init__(RecurrentBody(fc, rnn), out_dim, net_spec, out_dims, head_stds)
