"""CrossQ (Bhatt et al. 2024): SAC without target nets (sac.py has the rest of the rule).

Its critics normalise with batch renormalisation and evaluate (s, a) and (s', a') in one joint
forward pass, so both halves share the batch statistics; y = r + gamma (1 - terminated) V(s')
takes V(s') from that same pass, as SAC's soft value of the online critics. The actor is judged
by the critics in evaluation mode (their running statistics).
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
from slm_lab.lib.errors import SpecError

CRITICS = ("q1", "q2")


def brn_mlp(in_dim: int, hid_layers: list[int], act: str, out_dim: int) -> nn.Sequential:
    """Batch renorm on the input and after every hidden layer, then a linear output."""
    layers: list[nn.Module] = [BatchRenorm1d(in_dim)]
    for width in hid_layers:
        layers += [nn.Linear(in_dim, width), net_util.activation(act), BatchRenorm1d(width)]
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
        in_shape, n_out = self.critic_shape
        cs = self.critic_spec
        if len(in_shape) != 1:
            raise SpecError("CrossQ's critics take flat observations", "env.name")
        return brn_mlp(in_shape[0], cs["hid_layers"], cs["hid_layers_activation"], n_out)

    def build_targets(self) -> None:
        """No target nets."""

    def update_targets(self) -> None:
        """No target nets."""

    def actor_loss(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The critics judge the actor with their running statistics (evaluation mode)."""
        for name in CRITICS:
            self.nets[name].eval()
        try:
            return super().actor_loss(obs)
        finally:
            for name in CRITICS:
                self.nets[name].train()


class ContinuousCrossQ(CrossQ, ContinuousSAC):
    def critic_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        obs, next_obs, action = batch["obs"], batch["next_obs"], batch["action"]
        with torch.no_grad():
            next_action, next_logp = self.squashed(self.policy(next_obs))
        x = torch.cat([self.q_in(obs, action), self.q_in(next_obs, next_action)])
        q1, q1_next = self.nets["q1"](x).chunk(2)
        q2, q2_next = self.nets["q2"](x).chunk(2)
        with torch.no_grad():
            next_v = self.soft_value(torch.min(q1_next, q2_next), next_logp)
            target = self.td_target(batch, next_v)
        q1, q2 = q1.squeeze(-1), q2.squeeze(-1)
        return self.weighted(batch, q1, q2, target), (target - q1).detach()


class DiscreteCrossQ(CrossQ, DiscreteSAC):
    def critic_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        obs, next_obs, action = batch["obs"], batch["next_obs"], batch["action"]
        with torch.no_grad():
            next_logp = self.policy(next_obs).log_softmax(-1)
        x = torch.cat([self.inputs(obs), self.inputs(next_obs)])
        q1, q1_next = self.nets["q1"](x).chunk(2)
        q2, q2_next = self.nets["q2"](x).chunk(2)
        with torch.no_grad():
            next_v = self.soft_value(torch.min(q1_next, q2_next), next_logp)
            target = self.td_target(batch, next_v)
        q1, q2 = self.q_taken(q1, action), self.q_taken(q2, action)
        return self.weighted(batch, q1, q2, target), (target - q1).detach()
