"""SAC's temperature alpha, as the original lab defines it (shared by SAC and CrossQ).

- Tuned (the default): log alpha descends alpha (H - target_entropy), so alpha rises when the
  policy's entropy H falls short of its target; it steps in the actor's optimizer (its class and
  LR schedule, at `alpha_lr`, or the actor's lr when null) and is clamped to
  [log_alpha_min, log_alpha_max] after each step (the original's [-5, 2] by default).
- Fixed (`fixed_alpha`): a constant, or, with `alpha_anneal_frames`, falling linearly to 0 over
  that many frames.
- The target entropy: a number, or `auto`: -(action dimensions) for continuous actions, and for
  discrete ones a ratio of log(actions), annealed linearly from `entropy_anneal.start_ratio` to
  `end_ratio` over `frames` (the original's 0.6, constant, by default).
- `entropy_penalty_coef` (SD-SAC, discrete actions): the actor's loss adds
  coef / 2 (H_ema - H)^2, H_ema a running mean of the entropy, which damps sudden entropy moves.
"""

import math

import numpy as np
import torch

from slm_lab.lib.state import STATE, Stateful

START_RATIO = 0.6  # discrete auto target: this fraction of log(actions), the original's default
ENTROPY_EMA = 0.99  # weight of the running entropy in SD-SAC's penalty
TINY = float(np.finfo(np.float32).tiny)  # log alpha of an alpha annealed to 0


class Temperature(Stateful):
    state_attrs = ("log_alpha", "entropy_ema")

    def __init__(self, spec: dict, discrete: bool, n_actions: int, clock, device) -> None:
        self.clock, self.discrete = clock, discrete
        self.fixed, self.anneal_frames = spec["fixed_alpha"], spec["alpha_anneal_frames"]
        self.bounds = (spec["log_alpha_min"], spec["log_alpha_max"])
        self.penalty = spec["entropy_penalty_coef"]
        tuned = self.fixed is None
        start = math.log(max(self.fixed, TINY)) if not tuned else 0.0
        self.log_alpha = torch.tensor(start, device=device, requires_grad=tuned)
        self.entropy_ema: torch.Tensor | None = None
        self.annealed_at = -1  # the frame alpha or the target entropy was last annealed at
        self.target_entropy = self.build_target(spec, discrete, n_actions)

    @property
    def tuned(self) -> bool:
        return self.log_alpha.requires_grad

    def build_target(self, spec: dict, discrete: bool, n_actions: int) -> float:
        target, anneal = spec["target_entropy"], spec["entropy_anneal"] or {}
        self.ratios, self.entropy_frames = None, 0
        if target != "auto":
            return float(target)
        if not discrete:
            return -float(n_actions)
        start = anneal.get("start_ratio", START_RATIO)
        end = anneal.get("end_ratio", start)
        self.log_n, self.ratios = math.log(n_actions), (start, end)
        self.entropy_frames = anneal.get("frames", 0)
        return start * self.log_n

    def param_group(self, lr: float) -> dict:
        """log alpha as a parameter group of the actor's optimizer."""
        return {"params": [self.log_alpha], "lr": lr}

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.detach().exp()

    def anneal(self) -> None:
        """Move a fixed alpha or the discrete target entropy along their schedules (once a frame)."""
        frame = self.clock.frame
        if frame == self.annealed_at:
            return
        self.annealed_at = frame
        if not self.tuned and self.anneal_frames > 0:
            left = 1.0 - min(frame / self.anneal_frames, 1.0)
            self.log_alpha.fill_(math.log(max(self.fixed * left, TINY)))
        if self.ratios is not None and self.entropy_frames > 0:
            (start, end), t = self.ratios, min(frame / self.entropy_frames, 1.0)
            self.target_entropy = (start + t * (end - start)) * self.log_n

    def loss(self, entropy: torch.Tensor) -> torch.Tensor:
        """alpha (H - target), as the original lab (and CleanRL): its gradient in log alpha,
        alpha (H - target), raises alpha when H falls short of the target."""
        if not self.tuned:
            return torch.zeros((), device=self.log_alpha.device)
        return self.log_alpha.exp() * (entropy.detach().mean() - self.target_entropy)

    @torch.no_grad()
    def clamp(self) -> None:
        lo, hi = self.bounds
        if self.tuned and (lo is not None or hi is not None):
            self.log_alpha.clamp_(lo, hi)

    def entropy_penalty(self, entropy: torch.Tensor) -> torch.Tensor | float:
        """coef / 2 (H_ema - H)^2 on the batch's mean entropy H, which keeps its gradient."""
        if not self.penalty:
            return 0.0
        h = entropy.mean()
        if self.entropy_ema is None:
            self.entropy_ema = h.detach().clone()
        penalty = self.penalty * 0.5 * (self.entropy_ema - h) ** 2
        self.entropy_ema.lerp_(h.detach(), 1.0 - ENTROPY_EMA)
        return penalty


def migrate(state: dict, alpha_group: dict | None) -> dict:
    """A checkpoint from before the temperature stepped in the actor's optimizer (it had its
    own `alpha_optim`): its log alpha becomes the temperature's, and the actor optimizer's saved
    state gains the temperature's parameter group (`alpha_group`, its moments start afresh)."""
    if "temperature" in state or "log_alpha" not in state:
        return state
    state = dict(state)
    state["temperature"] = {STATE: {"log_alpha": state["log_alpha"], "entropy_ema": None}}
    if alpha_group is not None:
        actor = dict(state["optims"][0][STATE])
        groups = actor["param_groups"]
        n = sum(len(g["params"]) for g in groups)
        actor["param_groups"] = [*groups, {**alpha_group, "params": [n]}]
        state["optims"] = [{STATE: actor}, *state["optims"][1:]]
    return state
