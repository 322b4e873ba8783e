"""One optimizer step of fused Adam or AdamW without torch.optim's per-step Python.

`torch.optim.Adam(fused=True).step` runs one fused kernel per device, wrapped in hooks, a profiler
record, the regrouping of every parameter, gradient and state tensor, and checks: on the small
nets of classic control, more time than the kernel. `FusedStep(optim)()` calls the same kernels
(`torch._fused_adam_` / `torch._fused_adamw_`, the step counts first) on the optimizer's own state
tensors, grouped once, with each group's current hyperparameters (an LR scheduler's changes
included): the same numbers, and the optimizer's state dict stays torch's. Its first call, a step
where a parameter has no gradient, and the first step after `load_state_dict` (new state
tensors) run torch's own step. Optimizers it does not fit (other classes, amsgrad, capturable,
differentiable, tensor hyperparameters, hooks, mixed devices) always run their own `step`.
"""

from collections.abc import Callable

import torch
from torch.optim.optimizer import _global_optimizer_post_hooks, _global_optimizer_pre_hooks

KERNELS = {torch.optim.Adam: torch._fused_adam_, torch.optim.AdamW: torch._fused_adamw_}


def stepper(optim: torch.optim.Optimizer) -> Callable[[], object]:
    """The fastest exact step for this optimizer."""
    return FusedStep(optim) if fits(optim) else optim.step


def step_unless(step: Callable[[], object], found_inf: torch.Tensor | None) -> bool:
    """`step()` unless the flag (read on the host) marks a non-finite loss; whether it ran."""
    if found_inf is not None and found_inf.item():
        return False
    step()
    return True


def fits(optim: torch.optim.Optimizer) -> bool:
    if type(optim) not in KERNELS:
        return False
    plain = all(
        g["fused"]
        and not (g["amsgrad"] or g["capturable"] or g["differentiable"])
        and not any(isinstance(g[k], torch.Tensor) for k in ("lr", "eps", "weight_decay"))
        and not any(isinstance(b, torch.Tensor) for b in g["betas"])
        for g in optim.param_groups
    )
    devices = {(p.device, p.dtype) for g in optim.param_groups for p in g["params"]}
    return plain and len(devices) == 1


class FusedStep:
    def __init__(self, optim: torch.optim.Optimizer) -> None:
        self.optim = optim
        self.kernel = KERNELS[type(optim)]
        self.state: dict | None = None  # the state dict the plan was made from
        self.plan: list[tuple[list[torch.Tensor], ...]] | None = None

    def __call__(self, found_inf: torch.Tensor | None = None) -> None:
        """One step; `found_inf` (a 0-dim float on the parameters' device, 1 for a non-finite
        loss) makes the kernels leave parameters, moments and step counts as they were, with no
        host read (torch's own step, where it runs, reads the flag first)."""
        optim = self.optim
        if self.stale() or self.hooked():
            if self.torch_step(found_inf):  # torch's own makes (or reads loaded) state
                self.state, self.plan = optim.state, self.plan_of(optim)
            return
        groups = []
        for params, *rest in self.plan:
            grads = [p.grad for p in params]
            if any(g is None for g in grads):
                self.torch_step(found_inf)
                return
            groups.append((params, grads, *rest))
        for group, (params, grads, avgs, sqs, steps) in zip(
            optim.param_groups, groups, strict=True
        ):
            beta1, beta2 = group["betas"]
            torch._foreach_add_(steps, 1)
            self.kernel(
                params,
                grads,
                avgs,
                sqs,
                [],
                steps,
                amsgrad=False,
                lr=group["lr"],
                beta1=beta1,
                beta2=beta2,
                weight_decay=group["weight_decay"],
                eps=group["eps"],
                maximize=group["maximize"],
                grad_scale=None,
                found_inf=found_inf,
            )
            if found_inf is not None:  # a skipped step is not counted
                torch._foreach_sub_(steps, found_inf)

    def torch_step(self, found_inf: torch.Tensor | None) -> bool:
        return step_unless(self.optim.step, found_inf)

    def stale(self) -> bool:
        """No plan, a loaded state (new tensors) or a param group added since the plan."""
        o = self.optim
        return (
            self.plan is None or o.state is not self.state or len(self.plan) != len(o.param_groups)
        )

    def hooked(self) -> bool:
        o = self.optim
        return bool(
            o._optimizer_step_pre_hooks
            or o._optimizer_step_post_hooks
            or _global_optimizer_pre_hooks
            or _global_optimizer_post_hooks
        )

    @staticmethod
    def plan_of(optim: torch.optim.Optimizer) -> list[tuple[list[torch.Tensor], ...]] | None:
        """Per group: parameters, first and second moments, step counts; None (torch's step
        every time: a stale plan is never used) while some parameter has no state yet."""
        plan = []
        for group in optim.param_groups:
            params = list(group["params"])
            states = [optim.state.get(p) for p in params]
            if any(not s for s in states):
                return None
            moments = [[s[k] for s in states] for k in ("exp_avg", "exp_avg_sq", "step")]
            plan.append((params, *moments))
        return plan
