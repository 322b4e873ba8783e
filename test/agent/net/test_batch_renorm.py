"""Batch renormalisation on fused kernels: equal to the plain composite layer it replaced, in
outputs, gradients and running statistics; the original's warm-up; lazy and arc use; state."""

import torch
from torch import nn

from slm_lab.agent.net.batch_renorm import BatchRenorm1d, LazyBatchRenorm1d
from slm_lab.agent.net.torcharc_net import register_arc_modules

DIM, N, EPS = 5, 64, 1e-3
TOL = {"atol": 1e-6, "rtol": 1e-6}


class Reference(nn.Module):
    """The previous layer, written out op by op, with the correction limits given."""

    def __init__(self, dim: int, momentum: float) -> None:
        super().__init__()
        self.momentum = momentum
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))

    def forward(self, x: torch.Tensor, r_max: float, d_max: float) -> torch.Tensor:
        running_std = (self.running_var + EPS).sqrt()
        mean, var = x.mean(0), x.var(0, unbiased=False)
        std = (var + EPS).sqrt()
        r = (std.detach() / running_std).clamp(1 / r_max, r_max)
        d = ((mean.detach() - self.running_mean) / running_std).clamp(-d_max, d_max)
        x_hat = (x - mean) / std * r + d
        with torch.no_grad():
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var, self.momentum)
        return x_hat * self.weight + self.bias


def pair(warmup: int, momentum: float = 0.3) -> tuple[BatchRenorm1d, Reference]:
    torch.manual_seed(0)
    layer = BatchRenorm1d(DIM, EPS, momentum, warmup_steps=warmup)
    ref = Reference(DIM, momentum)
    with torch.no_grad():
        for m in (layer, ref):
            m.weight.copy_(torch.linspace(0.5, 2.0, DIM))
            m.bias.copy_(torch.linspace(-1.0, 1.0, DIM))
    return layer.double(), ref.double()  # float64: differences are the formulas', not rounding


def compare(layer: BatchRenorm1d, ref: Reference, x: torch.Tensor, r_max: float, d_max: float):
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, expected = layer(xa), ref(xb, r_max, d_max)
    torch.testing.assert_close(out, expected, **TOL)
    g = torch.randn_like(out)
    grads = torch.autograd.grad(out, [xa, layer.weight, layer.bias], g)
    expected_grads = torch.autograd.grad(expected, [xb, ref.weight, ref.bias], g)
    for a, b in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(a, b, **TOL)
    torch.testing.assert_close(layer.running_mean, ref.running_mean, **TOL)
    torch.testing.assert_close(layer.running_var, ref.running_var, **TOL)


def batches(k: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    # shifted and scaled batches, so the corrections clip
    shape = (N, DIM)
    return [
        torch.randn(shape, generator=gen, dtype=torch.float64) * (1 + 3 * i) + 4 * i
        for i in range(k)
    ]


def test_equal_to_the_composite_layer_during_and_after_warmup():
    layer, ref = pair(warmup=2)
    xs = batches(6)
    compare(layer, ref, xs[0], 1.0, 0.0)  # step 0: plain batch norm
    compare(layer, ref, xs[1], 2.0, 2.5)  # half way: the limits half open
    for x in xs[2:]:
        compare(layer, ref, x, 3.0, 5.0)  # warmed up: the full corrections
    assert layer.count == 6 and isinstance(layer.count, int)


def test_eval_uses_running_statistics():
    layer, _ = pair(warmup=1)
    for x in batches(3):
        layer(x)
    layer.eval()
    x = batches(1)[0].float()
    layer.float()
    expected = (x - layer.running_mean) / (layer.running_var + EPS).sqrt() * layer.weight
    torch.testing.assert_close(layer(x), expected + layer.bias, **TOL)
    assert layer.count == 3  # evaluation does not count


def test_images_normalise_per_channel():
    layer = BatchRenorm1d(3, EPS)
    x = torch.randn(8, 3, 4, 4) * 5 + 2
    out = layer(x)
    torch.testing.assert_close(out.mean((0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)


def test_lazy_layer_in_an_arc_and_state_dict():
    import torcharc

    register_arc_modules()
    arc = {
        "modules": {
            "body": {
                "Sequential": [
                    {"LazyLinear": {"out_features": 4}},
                    {"LazyBatchRenorm1d": {"momentum": 0.01, "eps": 0.001, "warmup_steps": 7}},
                ]
            }
        },
        "graph": {"input": "x", "modules": {"body": ["x"]}, "output": "body"},
    }
    net = torcharc.build(arc)
    net(torch.randn(6, 3))
    (brn,) = [m for m in net.modules() if isinstance(m, BatchRenorm1d)]
    assert (brn.num_features, brn.warmup_steps, brn.eps, brn.count) == (4, 7, 0.001, 1)
    state = net.state_dict()
    copy = torcharc.build(arc)
    copy(torch.randn(6, 3))
    copy.load_state_dict(state)
    (loaded,) = [m for m in copy.modules() if isinstance(m, BatchRenorm1d)]
    assert loaded.count == 1
    torch.testing.assert_close(loaded.running_var, brn.running_var)


def test_the_step_count_is_saved_in_the_steps_buffer():
    layer = BatchRenorm1d(2)
    layer.count = 123
    state = layer.state_dict()
    assert state["steps"].item() == 123
    loaded = BatchRenorm1d(2)
    loaded.load_state_dict(state)
    assert loaded.count == 123


def test_lazy_layer_defaults_are_the_original():
    lazy = LazyBatchRenorm1d()
    assert (lazy.eps, lazy.momentum, lazy.r_limit, lazy.d_limit, lazy.warmup_steps) == (
        1e-5,
        0.01,
        3.0,
        5.0,
        10_000,
    )
    assert lazy.corrections() is None  # plain batch norm at step 0
