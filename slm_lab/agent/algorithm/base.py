"""What every algorithm shares (device, action distribution, nets, optimizers, the gradient step),
and the two cadences it learns on, called after every stored vector step:

- OnPolicy: when the rollout is complete, `rollout` vector steps (OnPolicyBatchReplay) or
  finished episodes (OnPolicyReplay), `train` on it; the memory then starts the next one.
- OffPolicy: every `training_frequency` frames from `training_start_step`, `training_iter` times:
  sample a batch, `train` on it (its TD errors come back), give prioritized replay the new
  priorities; then the LR schedulers step and `end_round` runs (a target net's update).

An algorithm file holds its learning rule (`train`) and its action choice (`act` or `policy`).
"""

import copy
import math
from collections.abc import Callable

import numpy as np
import torch
from loguru import logger
from torch import nn

from slm_lab.agent.net import net_util
from slm_lab.agent.net.fused_step import FusedStep, step_unless, stepper
from slm_lab.lib.distribution import action_pd
from slm_lab.lib.state import Stateful

MAX_NONFINITE = 10  # non-finite losses in a row that stop a session


class NonFiniteLoss(RuntimeError):
    """Training diverged: the loss was NaN or infinite in MAX_NONFINITE updates in a row."""


def diverged(when: str) -> NonFiniteLoss:
    return NonFiniteLoss(
        f"training diverged: {MAX_NONFINITE} updates in a row had a non-finite loss ({when}); "
        "lower the learning rate or set agent.net.clip_grad_val"
    )


def bellman(
    reward: torch.Tensor, terminated: torch.Tensor, next_v: torch.Tensor, gamma: float
) -> torch.Tensor:
    """The one-step target r + gamma (1 - terminated) V(s'), in two kernels (`1.0 - t` would run
    Tensor.__rsub__'s Python wrapper)."""
    return torch.addcmul(reward, torch.rsub(terminated, 1.0), next_v, value=gamma)


class Algorithm(Stateful):
    learns = True  # False: no memory, no training (Random)
    rollout: int | None = None  # on-policy: what one rollout holds (see OnPolicy)
    # what a checkpoint holds; subclasses add their own
    state_attrs = ("nets", "optims", "schedulers", "stats", "nonfinite", "grad_norm")
    # the learn step's loss functions that `agent.net.compile` runs through torch.compile
    compiled_steps: tuple[str, ...] = ()

    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        self.spec = agent_spec["algorithm"]
        self.net_spec = agent_spec["net"]
        self.env = env
        self.clock = clock  # read only: the session's frame clock
        self.dev_checks = dev_checks
        self.device = torch.device("cpu")  # until place_nets
        self.pd = action_pd(self.spec["action_pdtype"], env.action_space) if self.learns else None
        self.nets: dict[str, nn.Module] = {}
        self.optims: list[torch.optim.Optimizer] = []
        self.schedulers: list = []
        self.stats: dict[str, float] = {}
        self.nonfinite = 0  # updates skipped in a row for a non-finite loss
        self.sync_free = False  # on an accelerator (place_nets): no host read in a step
        self.opt_step = 0  # optimizer steps taken
        self.grad_norm: torch.Tensor | None = None  # of the last step, before clipping (0-dim)
        self.optim_steps: dict[int, tuple] = {}  # optimizer id -> (optimizer, its step)

    def learn(self, memory) -> None:
        """After each stored vector step: train when the cadence says so."""
        raise NotImplementedError

    def load_state_dict(self, state: dict) -> None:
        """Also a checkpoint from before the gradient norm was kept (its next rows read NaN
        until a step)."""
        super().load_state_dict({"grad_norm": None, **state})
        if self.sync_free:
            self.streak.fill_(self.nonfinite)

    def train(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The learning rule on one batch."""
        raise NotImplementedError

    def to_tensor(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Observations as the env hands them over (numpy, or a tensor on its device)."""
        x = (obs if isinstance(obs, torch.Tensor) else torch.from_numpy(obs)).to(self.device)
        return x.float() if x.is_floating_point() else x

    @staticmethod
    def inputs(x: torch.Tensor) -> torch.Tensor:
        """Stored observations (uint8 images, float32 vectors) -> what the nets take."""
        return x if x.dtype == torch.float32 else x.float()

    def policy(self, x: torch.Tensor) -> torch.Tensor:
        """The action distribution's parameters for a batch of observations."""
        raise NotImplementedError

    def acting(self, x: torch.Tensor) -> torch.Tensor:
        """The forward that acting runs (compiled with `agent.net.compile`)."""
        return self.policy(x)

    @torch.inference_mode()
    def act(self, obs: np.ndarray, explore: bool = True) -> np.ndarray:
        """Sample the policy (explore) or take its most likely action."""
        out = self.acting(self.to_tensor(obs))
        action = self.pd.sample(out) if explore else self.pd.greedy(out)
        return action.cpu().numpy()

    def report(self) -> dict[str, float]:
        """Training statistics for the next log row (loss, lr, entropy...)."""
        return self.stats

    def place_nets(self) -> None:
        """Move the nets to the device their size and `net.gpu` call for."""
        params = sum(p.numel() for net in self.nets.values() for p in net.parameters())
        self.device = net_util.device(self.net_spec["gpu"], params)
        for net in self.nets.values():
            net.to(self.device)
        self.sync_free = self.device.type != "cpu"
        self.streak = torch.zeros((), device=self.device)
        self.skipped = torch.zeros((), device=self.device)

    def build_optims(self, groups: dict[str | None, list[nn.Parameter]]) -> None:
        """One optimizer (and LR scheduler) per role; role None reads the plain optim_spec."""
        for role, params in groups.items():
            self.add_optim(self.net_spec, role, params)
        self.params = {name: list(net.parameters()) for name, net in self.nets.items()}

    def add_optim(
        self, net_spec: dict, role: str | None, params, path: str = "agent.net"
    ) -> torch.optim.Optimizer:
        """The optimizer of `role` in `net_spec` (and its LR scheduler, if any)."""
        key = net_util.role_name(net_spec, "optim_spec", role)
        optim = net_util.make_optim(net_spec[key], params, f"{path}.{key}")
        self.optims.append(optim)
        key = net_util.role_name(net_spec, "lr_scheduler_spec", role)
        scheduler = net_util.make_lr_scheduler(net_spec[key], optim, self.clock, f"{path}.{key}")
        if scheduler is not None:
            self.schedulers.append(scheduler)
        return optim

    def optimize(
        self,
        loss: torch.Tensor,
        optims: list[torch.optim.Optimizer] | None = None,
        nets: tuple[str, ...] | None = None,
    ) -> None:
        """One gradient step, with per-net gradient clipping: on every optimizer by default, or
        on `optims` for the parameters of `nets` (actor and critics stepping apart). A non-finite
        loss skips the step: read at once on the CPU; on an accelerator (`sync_free`) flagged on
        the device, where fused Adam's kernels skip it, and counted at log rows (check_finite)."""
        found_inf = None
        if self.sync_free:
            found_inf = self.flag_nonfinite(loss)
        elif not math.isfinite(loss.item()):  # one host read, cheaper than torch.isfinite here
            self.skip_update(loss)
            return
        else:
            self.nonfinite = 0
        groups = list(self.params.values()) if nets is None else [self.params[n] for n in nets]
        for params in groups:
            for p in params:
                p.grad = None
        net_util.backward(loss)
        norms = [net_util.grad_norm(params) for params in groups]
        found = [n for n in norms if n is not None]
        if found:  # read at log rows only: no device sync here
            self.grad_norm = torch.linalg.vector_norm(torch.stack(found))
        clip = self.net_spec["clip_grad_val"]
        if clip:
            for params, norm in zip(groups, norms, strict=True):
                net_util.clip_grad_norm(params, clip, norm)
        if self.dev_checks:
            self.check_grads()
        for optim in self.optims if optims is None else optims:
            step = self.step_of(optim)
            if isinstance(step, FusedStep):
                step(found_inf)
            else:  # no kernel to skip it on the device: the flag is read on the host
                step_unless(step, found_inf)
        self.opt_step += 1

    def flag_nonfinite(self, loss: torch.Tensor) -> torch.Tensor:
        """1.0 on the device for a non-finite loss; the run of them in a row and the count since
        the last log row stay there too."""
        bad = torch.isfinite(loss.detach()).logical_not_().float()
        self.streak = (self.streak + bad) * bad
        self.skipped = self.skipped + bad
        return bad

    def check_finite(self) -> None:
        """At a log row of a sync-free run: warn about updates skipped since the last row; stop
        the session after MAX_NONFINITE in a row (as `skip_update` does at once on the CPU)."""
        if not self.sync_free:
            return
        skipped, self.nonfinite = int(self.skipped.item()), int(self.streak.item())
        self.skipped = torch.zeros_like(self.skipped)
        frame = self.clock.frame
        if skipped:
            logger.warning(f"{skipped} updates skipped for a non-finite loss before frame {frame}")
        if self.nonfinite >= MAX_NONFINITE:
            raise diverged(f"last before frame {frame}")

    def step_of(self, optim: torch.optim.Optimizer) -> Callable[[], object]:
        """The optimizer's step: fused Adam's kernels called directly where they fit
        (net/fused_step.py), else its own `step`."""
        entry = self.optim_steps.get(id(optim))
        if entry is None or entry[0] is not optim:  # a new optimizer (distributed stand-ins)
            entry = self.optim_steps[id(optim)] = (optim, stepper(optim))
        return entry[1]

    def skip_update(self, loss: torch.Tensor) -> None:
        """Warn about a skipped update; stop the session after MAX_NONFINITE in a row."""
        self.nonfinite += 1
        frame = self.clock.frame
        logger.warning(
            f"loss is {loss.item()} at frame {frame}: update skipped "
            f"({self.nonfinite} of {MAX_NONFINITE} in a row allowed)"
        )
        if self.nonfinite >= MAX_NONFINITE:
            raise diverged(f"last at frame {frame}")

    def attached(self) -> None:
        """Its nets now train a distributed trial's global ones (agent/distributed.py)."""

    def step_schedulers(self) -> None:
        for scheduler in self.schedulers:
            scheduler.step()

    def check_grads(self) -> None:
        for name, net in self.nets.items():
            for pname, p in net.named_parameters():
                if p.grad is not None and not torch.isfinite(p.grad).all():
                    raise FloatingPointError(
                        f"dev check: non-finite gradient in {name}.{pname} at frame {self.clock.frame}"
                    )

    @property
    def lr(self) -> float:
        return self.optims[0].param_groups[0]["lr"] if self.optims else float("nan")


class OnPolicy(Algorithm):
    """Learns from the rollout just collected: `rollout` (the spec's `training_frequency`)
    vector steps of OnPolicyBatchReplay, or finished episodes of OnPolicyReplay."""

    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        super().__init__(agent_spec, env, clock, dev_checks)
        self.rollout = self.spec["training_frequency"]

    def learn(self, memory) -> None:
        if memory.size >= self.rollout:
            self.train(memory.sample())


class OffPolicy(Algorithm):
    """Learns from a replay, when due by frames (see the module's docstring); `train` returns
    the batch's TD errors (prioritized replay's new priorities) or None."""

    state_attrs = (*Algorithm.state_attrs, "next_train")
    wants_td = False  # the agent sets it for a prioritized replay: `train` returns TD errors

    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        super().__init__(agent_spec, env, clock, dev_checks)
        s = self.spec
        self.start, self.frequency = s["training_start_step"], s["training_frequency"]
        self.iters = s["training_iter"]
        self.next_train = 0  # the first transition a training round may fall on

    def learn(self, memory) -> None:
        if not self.train_due():
            return
        for _ in range(self.iters):
            td = self.train(memory.sample())
            if memory.prioritized:
                memory.update_priorities(td.cpu().numpy())
        self.step_schedulers()
        self.end_round()

    def train_due(self) -> bool:
        """As in the original lab: on the vector step that stores a transition numbered t (from
        0) with t >= training_start_step and t a multiple of training_frequency; so once every
        training_frequency frames, or every vector step when that is fewer frames."""
        frame = self.clock.frame
        first = max(frame - self.clock.num_envs, self.start, self.next_train)
        return -(-first // self.frequency) * self.frequency < frame

    def end_round(self) -> None:
        """After a training round: nothing, unless the algorithm has a target net to update."""

    def refill(self) -> int:
        """The replay was not kept (a resume without it): fill it for `training_start_step`
        frames before training again. Returns the frame training resumes at."""
        self.next_train = self.clock.frame + self.start
        return self.next_train


class TargetNets(Stateful):
    """Target copies of online nets (weights and normalisation statistics): moved towards them by
    `polyak_coef` at every call (`update_type: polyak`), or replaced every `update_frequency`
    frames (`replace`)."""

    state_attrs = ("nets", "next_replace")

    def __init__(self, net_spec: dict, online: list[nn.Module], clock) -> None:
        self.polyak = net_spec["update_type"] == "polyak"
        self.tau, self.frequency = net_spec["polyak_coef"], net_spec["update_frequency"]
        self.clock = clock
        self.next_replace = self.frequency
        self.nets = [copy.deepcopy(net).requires_grad_(False) for net in online]
        self.online = [t for net in online for t in state_tensors(net)]
        self.params = [t for net in self.nets for t in state_tensors(net)]

    @torch.no_grad()
    def sync(self) -> None:
        """Copy the online nets into the targets."""
        torch._foreach_copy_(self.params, self.online)

    @torch.no_grad()  # in place, outside autograd: the targets must stay graph-free leaves
    def update(self) -> None:
        if self.polyak:
            torch._foreach_lerp_(self.params, self.online, self.tau)
            return
        frame = self.clock.frame
        if frame >= self.next_replace:
            torch._foreach_copy_(self.params, self.online)
            self.next_replace = (frame // self.frequency + 1) * self.frequency


def state_tensors(net: nn.Module) -> list[torch.Tensor]:
    """Parameters and floating-point buffers (batch-norm statistics): what a target copies."""
    return [*net.parameters(), *(b for b in net.buffers() if b.is_floating_point())]
