"""CrossQ (Bhatt et al. 2024): SAC without target nets (sac.py has the rest of the rule).

Its critics normalise with batch renormalisation: an MLPNet critic (`critic_net.hid_layers`)
gets it on its input and after every hidden layer, with `brn_warmup_steps` of warm-up; an arc
critic (TorchArcNet, as the original's specs write them) places its BatchRenorm1d layers itself.
The critics evaluate (s, a) and (s', a') in one joint
forward pass, so both halves share the batch statistics; y = r + gamma (1 - terminated) V(s')
takes V(s') from that same pass, as SAC's soft value of the online critics. A continuous actor
is judged by the critics in evaluation mode (their running statistics); a discrete one by the
Q(s, .) of that joint pass, before the critics' step (the original's rule for each).
"""

import torch
from torch import nn

from slm_lab.agent.algorithm.base import OffPolicy
from slm_lab.agent.algorithm.sac import (
    ContinuousSAC,
    DiscreteSAC,
    SoftActorCritic,
    continuous,
)
from slm_lab.agent.net import net_util
from slm_lab.agent.net.batch_renorm import BatchRenorm1d
from slm_lab.agent.net.spectral_norm import spectral_norm_penultimate
from slm_lab.lib.errors import SpecError

CRITICS = ("q1", "q2")
BRN_EPS = 1e-3  # the batch renorm of MLPNet critics (the original's specs write the same)


def brn_mlp(
    in_dim: int, hid_layers: list[int], act: str, out_dim: int, warmup: int
) -> nn.Sequential:
    """Batch renorm on the input and after every hidden layer, then a linear output."""
    layers: list[nn.Module] = [BatchRenorm1d(in_dim, BRN_EPS, warmup_steps=warmup)]
    for width in hid_layers:
        brn = BatchRenorm1d(width, BRN_EPS, warmup_steps=warmup)
        layers += [nn.Linear(in_dim, width), net_util.activation(act), brn]
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class CrossQ(SoftActorCritic):
    state_attrs = (*OffPolicy.state_attrs, *SoftActorCritic.temperature_attrs)  # no targets

    def __new__(cls, agent_spec: dict, env, clock, dev_checks: bool = False):
        """`CrossQ(...)` builds the variant for the env's actions."""
        if cls is CrossQ:
            cls = ContinuousCrossQ if continuous(agent_spec, env) else DiscreteCrossQ
        return object.__new__(cls)

    def build_critic(self) -> nn.Module:
        """An arc critic as its arc writes it; an MLPNet one with batch renorm added."""
        cs = self.critic_spec
        if cs["type"] != "MLPNet":
            return super().build_critic()
        in_shape, n_out = self.critic_shape
        if len(in_shape) != 1:
            raise SpecError(
                "an MLPNet critic takes flat observations; for images give CrossQ an arc "
                "critic (TorchArcNet with conv layers)",
                f"{self.critic_path}.type",
                ["TorchArcNet"],
            )
        act, warmup = cs["hid_layers_activation"], self.spec["brn_warmup_steps"]
        net = brn_mlp(in_shape[0], cs["hid_layers"], act, n_out, warmup)
        return spectral_norm_penultimate(net) if self.spec["spectral_norm"] else net

    def build_targets(self) -> None:
        """No target nets."""

    def update_targets(self) -> None:
        """No target nets."""

    def attached(self) -> None:
        """No target nets."""


class ContinuousCrossQ(CrossQ, ContinuousSAC):
    def actor_loss(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The critics judge the actor with their running statistics (evaluation mode)."""
        for name in CRITICS:
            self.nets[name].eval()
        try:
            return super().actor_loss(obs)
        finally:
            for name in CRITICS:
                self.nets[name].train()

    def critic_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        obs, next_obs, action = batch["obs"], batch["next_obs"], batch["action"]
        with torch.no_grad():
            next_action, next_logp = self.squashed(self.policy(next_obs))
        x = torch.cat([self.q_in(obs, action), self.q_in(next_obs, next_action)])
        q, q_next = self.critics(x).squeeze(-1).chunk(2, dim=1)
        with torch.no_grad():
            target = self.td_target(batch, self.soft_value(q_next.min(0).values, next_logp))
        return self.weighted(batch, q, target), (target - q[0]).detach()


class DiscreteCrossQ(CrossQ, DiscreteSAC):
    def critic_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        obs, next_obs, action = batch["obs"], batch["next_obs"], batch["action"]
        with torch.no_grad():
            next_logp = self.policy(next_obs).log_softmax(-1)
        x = torch.cat([self.inputs(obs), self.inputs(next_obs)])
        q, q_next = self.critics(x).chunk(2, dim=1)
        with torch.no_grad():
            target = self.td_target(batch, self.soft_value(q_next.mean(0), next_logp))
            self.judged = q.mean(0)  # the actor's Q(s, .) (batch statistics), as the original
        q = self.q_taken(q, action)
        return self.weighted(batch, q, target), (target - q[0]).detach()
