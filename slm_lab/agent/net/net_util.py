"""Layers, init, optimizers, LR schedulers and device choice shared by every net."""

import inspect
import math
from collections.abc import Callable
from functools import cache, partial

import torch
from loguru import logger
from torch import nn

from slm_lab.agent.net.global_optim import GLOBAL_OPTIMIZERS
from slm_lab.lib.errors import SpecError
from slm_lab.spec import names

GAIN_NAMES = ("relu", "tanh", "sigmoid", "selu", "linear", "leaky_relu")
CLIP_EPS = 1e-6
# below this many parameters a net acts and learns faster on the CPU than through CUDA launches
# (PPO CartPole, 64x64 nets, H200 machine: 6,856 frames/s on CUDA, 14,553 on its CPU)
GPU_MIN_PARAMS = 100_000


def activation(name: str | None) -> nn.Module:
    if name is None:
        return nn.Identity()
    return getattr(nn, names.ACTIVATIONS[name.lower()])()


def mlp(
    in_dim: int, hid_layers: list[int], act: str, layer_norm: bool, batch_norm: bool
) -> nn.Sequential:
    """Linear -> [norm] -> activation, for each hidden width."""
    layers: list[nn.Module] = []
    for width in hid_layers:
        layers.append(nn.Linear(in_dim, width))
        if layer_norm:
            layers.append(nn.LayerNorm(width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(activation(act))
        in_dim = width
    return nn.Sequential(*layers)


def gain(act: str | None) -> float:
    name = {"leakyrelu": "leaky_relu", "identity": "linear", None: "linear"}.get(act, act)
    return nn.init.calculate_gain(name) if name in GAIN_NAMES else 1.0


def init_layers(module: nn.Module, init_fn: str | None, act: str | None) -> None:
    """Apply `init_fn` (a torch.nn.init name) to every Linear/Conv weight; zero the biases."""
    if init_fn is None:
        return
    fn = getattr(nn.init, init_fn)
    kwargs = {"gain": gain(act)} if "gain" in inspect.signature(fn).parameters else {}
    for layer in module.modules():
        if isinstance(layer, nn.Linear | nn.Conv1d | nn.Conv2d):
            fn(layer.weight, **kwargs)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def head(in_dim: int, out_dim: int, init_std: float | None) -> nn.Linear:
    """An output layer; orthogonal with gain `init_std` when given (0.01 policy, 1.0 value)."""
    layer = nn.Linear(in_dim, out_dim)
    if init_std is not None:
        nn.init.orthogonal_(layer.weight, gain=init_std)
        nn.init.zeros_(layer.bias)
    return layer


def grad_norm(params: list[torch.Tensor]) -> torch.Tensor | None:
    """The joint L2 norm of the parameters' gradients (0-dim), None when none has one."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return None
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def clip_grad_norm(
    params: list[torch.Tensor], max_norm: float, norm: torch.Tensor | None = None
) -> None:
    """Scale gradients so their joint L2 norm (`norm`, when already computed) is at most
    max_norm (torch's clip_grad_norm_ without its per-call checks: half the cost on small
    nets). On the CPU, gradients already within the limit are left alone (reading the norm
    costs no device sync there)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    norm = grad_norm(params) if norm is None else norm
    if norm.device.type == "cpu" and norm.item() <= max_norm:
        return
    torch._foreach_mul_(grads, (max_norm / (norm + CLIP_EPS)).clamp_(max=1.0))


def role_name(net_spec: dict, key: str, role: str | None) -> str:
    """`actor_optim_spec` overrides `optim_spec` for the actor net."""
    return f"{role}_{key}" if role and f"{role}_{key}" in net_spec else key


def role_key(net_spec: dict, key: str, role: str | None) -> object:
    return net_spec[role_name(net_spec, key, role)]


def make_optim(optim_spec: dict, params, path: str) -> torch.optim.Optimizer:
    name = optim_spec["name"]
    kwargs = {k: v for k, v in optim_spec.items() if k != "name"}
    cls = GLOBAL_OPTIMIZERS.get(name) or getattr(torch.optim, name)  # a name validation knows
    if "fused" in inspect.signature(cls).parameters:
        kwargs.setdefault("fused", None if "foreach" in kwargs else True)
    try:
        return cls(params, **kwargs)
    except (TypeError, ValueError) as e:
        raise SpecError(f"{name} refused its arguments: {e}", path) from e


class FrameDecay(torch.optim.lr_scheduler.LRScheduler):
    """LR factor falls linearly with frames from 1 to min_factor at `frame` (LinearToZero/Min)."""

    def __init__(self, optimizer, clock, frame: float, min_factor: float = 0.0) -> None:
        self.clock = clock
        self.total = float(frame)
        self.min_factor = float(min_factor)
        super().__init__(optimizer)

    def factor(self) -> float:
        return max(self.min_factor, 1.0 - self.clock.frame / self.total)

    def get_lr(self) -> list[float]:
        return [base * self.factor() for base in self.base_lrs]

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "clock")}


class HoldingOneCycleLR(torch.optim.lr_scheduler.OneCycleLR):
    """OneCycleLR that keeps its final rate after `total_steps` steps, where torch's raises: a
    spec cannot know how many training calls its run will make."""

    def step(self, epoch: int | None = None) -> None:
        if self.last_epoch < self.total_steps - 1:
            super().step(epoch)


LR_SCHEDULER_CLASSES = {"OneCycleLR": HoldingOneCycleLR}


def named_args(spec: dict, args: tuple[str, ...]) -> dict:
    """The arguments a named spec gives its class; keys validation warned about are left out."""
    return {k: spec[k] for k in args if k in spec}


def make_lr_scheduler(spec: dict | None, optim, clock, path: str):
    """A scheduler from {name, ...arguments}: the lab's LinearToZero and LinearToMin (counting
    frames on `clock`), or a torch.optim.lr_scheduler class (SequentialLR and ChainedScheduler
    take a list of scheduler specs as `schedulers`)."""
    if not spec:
        return None
    name = spec["name"]
    kwargs = named_args(spec, names.LR_SCHEDULER_ARGS[name])
    if name in names.LAB_LR_SCHEDULERS:
        return FrameDecay(optim, clock, **kwargs)
    if name in names.NESTED_LR_SCHEDULERS:
        kwargs["schedulers"] = [
            make_lr_scheduler(s, optim, clock, f"{path}.schedulers[{i}]")
            for i, s in enumerate(kwargs["schedulers"])
        ]
    cls = LR_SCHEDULER_CLASSES.get(name) or getattr(torch.optim.lr_scheduler, name)
    try:
        return cls(optimizer=optim, **kwargs)
    except (KeyError, TypeError, ValueError) as e:
        raise SpecError(f"{name} refused its arguments: {e!r}", path) from e


def make_loss(loss_spec: dict, path: str, reduction: str = "none") -> Callable:
    """A torch.nn loss from {name, ...arguments}; elementwise unless reduction says otherwise.
    The common regression losses come back as their kernel (`direct_loss`)."""
    name = loss_spec["name"]
    kwargs = named_args(loss_spec, names.LOSS_ARGS[name])
    try:
        return direct_loss(getattr(nn, name)(reduction=reduction, **kwargs))
    except (TypeError, ValueError, RuntimeError) as e:
        raise SpecError(f"{name} refused its arguments: {e}", path) from e


REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}  # torch's reduction enum


def direct_loss(loss: nn.Module) -> Callable:
    """MSE, L1, SmoothL1 and Huber losses as their ATen kernels, the same numbers without
    torch.nn.functional's per-call checks and broadcast (a third of their cost on a DQN batch;
    the lab's inputs always have the target's shape); any other loss as it is."""
    kernels = torch._C._nn
    enum = REDUCTIONS[loss.reduction]
    if isinstance(loss, nn.MSELoss):
        return partial(kernels.mse_loss, reduction=enum)
    if isinstance(loss, nn.L1Loss):
        return partial(kernels.l1_loss, reduction=enum)
    if isinstance(loss, nn.SmoothL1Loss) and loss.beta > 0:  # beta 0: functional's L1 branch
        return partial(kernels.smooth_l1_loss, reduction=enum, beta=loss.beta)
    if isinstance(loss, nn.HuberLoss):
        return partial(kernels.huber_loss, reduction=enum, delta=loss.delta)
    return loss


def backward(loss: torch.Tensor) -> None:
    """`loss.backward()` for a scalar loss, calling the autograd engine as
    torch.autograd.backward does, without its Python argument handling and seed building
    (about 12 us a call: 2% of a DQN CartPole frame)."""
    torch.autograd.Variable._execution_engine.run_backward(
        (loss,),
        (one(loss.device, loss.dtype),),
        keep_graph=False,
        create_graph=False,
        inputs=(),
        allow_unreachable=True,
        accumulate_grad=True,
    )


@cache
def one(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The gradient of a loss with respect to itself, made once per device and dtype."""
    return torch.ones((), device=device, dtype=dtype)


def device(gpu: object, params: int) -> torch.device:
    """`auto`: CUDA when present and the nets are big enough to gain from it; `true`: CUDA
    (without it, a warning and the CPU); `false`: the CPU."""
    cuda = torch.cuda.is_available()
    if gpu is True and not cuda:
        logger.warning("net.gpu is true but CUDA is not available: using the CPU")
    use_cuda = cuda and (gpu is True or (gpu == "auto" and params >= GPU_MIN_PARAMS))
    return torch.device("cuda" if use_cuda else "cpu")


def flat_dim(shape: tuple[int, ...]) -> int:
    return math.prod(shape)
