"""PPO (Schulman et al. 2017): clipped surrogate on GAE advantages, several epochs of minibatches.

One rollout of `time_horizon` vector steps arrives as a batch; then, as in the paper:
1. V(s) for every observation (and for the real last observation of truncated episodes);
2. GAE advantages, bootstrapping through truncation, never through termination; returns = A + V;
3. log-probs of the taken actions under the policy that collected them;
4. `training_epoch` passes over shuffled minibatches minimising
   -min(r A, clip(r, 1 - eps, 1 + eps) A) - c_H H + c_V L(V, R), with r = pi / pi_old.
Advantages are standardized per minibatch, or (`normalize_advantages: percentile`) divided by
their tracked 5-95th percentile range. `clip_vloss`: L is 0.5 max(L(V, R), L(V_clip, R)).
With `symlog`, the value loss compares symlog(V) with symlog(R) (and clips in that space), as the
original lab does (DreamerV3's compression); the critic still outputs V, untransformed.
The nets, V in return units and the critic's scale (`normalize_v_targets`) are A2C's
(actor_critic.py); any action distribution.
"""

import torch

from slm_lab.agent.algorithm.actor_critic import ActorCritic
from slm_lab.agent.algorithm.rollout import gae_advantages, rollout
from slm_lab.lib.math_util import PercentileScale, symlog
from slm_lab.lib.schedule import Schedule

ADV_EPS = 1e-8
PERCENTILE = "percentile"
CLIPPED_V_SCALE = 0.5  # CleanRL's and the original lab's 0.5 on the clipped value loss


class PPO(ActorCritic):
    state_attrs = (*ActorCritic.state_attrs, "adv_scale")
    compiled_steps = ("loss",)

    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        super().__init__(agent_spec, env, clock, dev_checks)
        s = self.spec
        self.rollout = s["time_horizon"]
        self.clip_eps = Schedule(s["clip_eps_spec"])
        self.epochs, self.minibatch_size = s["training_epoch"], s["minibatch_size"]
        norm = s["normalize_advantages"]
        self.adv_scale = PercentileScale() if norm == PERCENTILE else None

    @torch.no_grad()
    def prepare(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Steps 1-3, flat over (time, env)."""
        steps = rollout(batch)
        v, next_v, raw_v = self.values(batch)  # 1.
        adv = gae_advantages(steps, v, next_v, self.gamma, self.lam)  # 2.
        return self.learning_batch(steps, adv.to(self.device), v, raw_v)  # returns = A + V, 3.

    def loss(
        self, mb: dict[str, torch.Tensor], clip_eps: float, ent_coef: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The clipped-surrogate loss of one minibatch, and its policy entropy."""
        out, v = self.forward(mb["obs"])
        logp = self.pd.log_prob(out, mb["action"])
        entropy = self.pd.entropy(out).mean()
        adv = self.normalized(mb["adv"])
        ratio = (logp - mb["old_logp"]).exp()
        surrogate = torch.min(ratio * adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv)
        policy_loss = -surrogate.mean()
        ret, old_v = mb["ret"], mb["old_v"]
        if self.spec["symlog"]:
            v, ret, old_v = symlog(v), symlog(ret), symlog(old_v)
        val_loss = self.loss_fn(v, ret)
        if self.spec["clip_vloss"]:
            v_clip = old_v + (v - old_v).clamp(-clip_eps, clip_eps)
            val_loss = CLIPPED_V_SCALE * torch.max(val_loss, self.loss_fn(v_clip, ret))
        s = self.spec
        return (
            s["policy_loss_coef"] * policy_loss
            - ent_coef * entropy
            + s["val_loss_coef"] * val_loss.mean()
        ), entropy

    def normalized(self, adv: torch.Tensor) -> torch.Tensor:
        """A minibatch's advantages: standardized, or scaled by their tracked percentile range
        (`normalize_advantages: percentile`), or as they are (false)."""
        if self.adv_scale is not None:
            return self.adv_scale(adv)
        if self.spec["normalize_advantages"] and adv.numel() > 1:
            return (adv - adv.mean()) / (adv.std() + ADV_EPS)
        return adv

    def train(self, batch: dict[str, torch.Tensor]) -> None:
        data = self.prepare(batch)
        size = len(data["adv"])
        frame = self.clock.frame
        clip_eps, ent_coef = self.clip_eps.value(frame), self.entropy_coef.value(frame)
        losses, entropies = [], []
        for _ in range(self.epochs):
            perm = torch.randperm(size, device=self.device)
            shuffled = {k: v[perm] for k, v in data.items()}  # minibatches are then cheap views
            for start in range(0, size, self.minibatch_size):
                end = start + self.minibatch_size
                mb = {k: v[start:end] for k, v in shuffled.items()}
                loss, entropy = self.loss(mb, clip_eps, ent_coef)
                self.optimize(loss)
                losses.append(loss.detach())
                entropies.append(entropy.detach())
        self.step_schedulers()
        self.stats = {
            "loss": torch.stack(losses).mean().item(),
            "entropy": torch.stack(entropies).mean().item(),
            "clip_eps": clip_eps,
            "lr": self.lr,
        }
