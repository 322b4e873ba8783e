"""Twin critics as one ensemble: the same outputs, gradients and optimizer step as two nets."""

import copy

import torch

from slm_lab.agent.net import build_net
from slm_lab.agent.net.ensemble import Ensemble, Separate, joint
from slm_lab.agent.net.spectral_norm import spectral_norm_penultimate
from slm_lab.spec.fields import Validator
from slm_lab.spec.validate import check_net

TOL = {"atol": 1e-6, "rtol": 1e-6}
IN, N = 5, 32


def critic(seed: int, **net) -> torch.nn.Module:
    torch.manual_seed(seed)
    spec = check_net({"type": "MLPNet", "hid_layers": [16, 16], **net}, "agent.net", Validator())
    return build_net(spec, (IN,), [3], [None], role="critic")


def step(nets: list[torch.nn.Module], call, x: torch.Tensor) -> tuple[torch.Tensor, list]:
    params = [p for net in nets for p in net.parameters()]
    optim = torch.optim.Adam(params, lr=1e-2)
    out = call(x)
    (out.square().sum(0) * torch.arange(1.0, out.shape[-1] + 1)).mean().backward()
    grads = [p.grad.clone() for p in params]
    optim.step()
    return out, grads


def test_ensemble_equals_separate_nets():
    nets = [critic(0), critic(1)]
    twins = copy.deepcopy(nets)
    ensemble = Ensemble.of(nets)
    assert ensemble is not None
    x = torch.randn(N, IN)
    out, grads = step(nets, ensemble, x)
    expected, expected_grads = step(twins, Separate(twins), x)
    assert out.shape == (2, N, 3)
    torch.testing.assert_close(out, expected, **TOL)
    for a, b in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(a, b, **TOL)
    for a, b in zip(
        [p for n in nets for p in n.parameters()],
        [p for n in twins for p in n.parameters()],
        strict=True,
    ):
        torch.testing.assert_close(a, b, **TOL)  # after one optimizer step


def test_ensemble_with_spectral_norm_and_tanh():
    nets = [spectral_norm_penultimate(critic(i, hid_layers_activation="tanh")) for i in (0, 1)]
    twins = copy.deepcopy(nets)
    x = torch.randn(N, IN)
    torch.testing.assert_close(Ensemble.of(nets)(x), Separate(twins)(x), **TOL)


def test_nets_that_do_not_fit_run_separately():
    assert isinstance(joint([critic(0, layer_norm=True), critic(1, layer_norm=True)]), Separate)
    assert isinstance(joint([critic(0), critic(1, hid_layers=[8])]), Separate)
    assert isinstance(joint([critic(0), critic(1)]), Separate)  # on the CPU: measured faster
    assert isinstance(Ensemble.of([critic(0), critic(1)]), Ensemble)


def test_batch_renorm_critics_as_an_ensemble():
    from slm_lab.agent.algorithm.crossq import brn_mlp

    torch.manual_seed(0)
    nets = [brn_mlp(IN, [16, 16], "relu", 1, warmup=2) for _ in range(2)]
    twins = copy.deepcopy(nets)
    ensemble = Ensemble.of(nets)
    assert ensemble is not None
    for i in range(4):  # through the warm-up: plain, half, full corrections
        x = torch.randn(N, IN) * (1 + i) + i
        out, grads = step(nets, ensemble, x)
        expected, expected_grads = step(twins, Separate(twins), x)
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
        for a, b in zip(grads, expected_grads, strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    for net, twin in zip(nets, twins, strict=True):
        for a, b in zip(net.state_dict().values(), twin.state_dict().values(), strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    for net in nets + twins:
        net.eval()
    torch.testing.assert_close(ensemble(x), Separate(twins)(x), **TOL)
