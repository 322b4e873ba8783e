"""A2C: synchronous advantage actor-critic (Mnih et al. 2016), on the batch an on-policy memory
hands over (a (time, env) rollout, or whole episodes).

One gradient step per batch on
  -log pi(a|s) A - c_H H + c_V L(V(s), R),
with A from GAE (`lam`) or n-step returns (`num_step_returns`), R = A + V(s). Bootstrapping stops at
`terminated`; a truncated episode bootstraps from V of its real last observation.
`normalize_v_targets`: the critic learns returns scaled by their running mean and std.

ActorCritic also holds what PPO and SIL share with it: the actor and critic nets (shared or
separate), V in return units, and the critic's scale.
"""

import torch

from slm_lab.agent.algorithm.base import OnPolicy
from slm_lab.agent.algorithm.rollout import (
    gae_advantages,
    nstep_advantages,
    rollout,
    state_values,
)
from slm_lab.agent.net import build_net, net_util, policy_net
from slm_lab.lib.math_util import RunningStats
from slm_lab.lib.schedule import Schedule


class ActorCritic(OnPolicy):
    state_attrs = (*OnPolicy.state_attrs, "v_stats")

    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        super().__init__(agent_spec, env, clock, dev_checks)
        s = self.spec
        self.gamma, self.lam, self.nstep = s["gamma"], s["lam"], s["num_step_returns"]
        self.entropy_coef = Schedule(s["entropy_coef_spec"], default=0.0)
        self.loss_fn = net_util.make_loss(self.net_spec["loss_spec"], "agent.net.loss_spec")
        self.v_stats = RunningStats() if s["normalize_v_targets"] else None
        self.build_nets()

    def build_nets(self) -> None:
        ns, shape = self.net_spec, self.env.observation_space.shape
        if ns["shared"]:
            self.nets = {"net": policy_net(ns, shape, self.pd, [1], None)}
        else:
            critic_std = [ns["critic_init_std"]]
            self.nets = {
                "actor": policy_net(ns, shape, self.pd, [], "actor"),
                "critic": build_net(ns, shape, [1], critic_std, role="critic"),
            }
        self.place_nets()
        if ns["shared"] or ns["use_same_optim"]:
            self.build_optims({None: [p for n in self.nets.values() for p in n.parameters()]})
        else:
            self.build_optims({role: list(net.parameters()) for role, net in self.nets.items()})

    def policy(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inputs(x)
        return self.nets["net"](x)[0] if "net" in self.nets else self.nets["actor"](x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Policy outputs and state values (in the critic's scale)."""
        x = self.inputs(x)
        if "net" in self.nets:
            out, value = self.nets["net"](x)
            return out, value.squeeze(-1)
        return self.nets["actor"](x), self.nets["critic"](x).squeeze(-1)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inputs(x)
        return self.forward(x)[1] if "net" in self.nets else self.nets["critic"](x).squeeze(-1)

    def values(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """V(s) and V(s') of every step in return units, and V(s) as the critic outputs it."""
        raw_v, raw_next = state_values(batch, self.value)
        return self.real_values(raw_v), self.real_values(raw_next), raw_v

    def real_values(self, v: torch.Tensor) -> torch.Tensor:
        """Critic outputs -> values in return units."""
        return v if self.v_stats is None else v * self.v_stats.std + self.v_stats.mean

    def critic_returns(self, returns: torch.Tensor) -> torch.Tensor:
        """Returns -> what the critic learns (scaled, after updating the running statistics)."""
        if self.v_stats is None:
            return returns
        self.v_stats.update(returns.cpu().numpy())
        return (returns - self.v_stats.mean) / self.v_stats.std

    def learning_batch(self, steps: dict, adv: torch.Tensor, v: torch.Tensor, raw_v: torch.Tensor):
        """Flat over (time, env): obs, action, advantages, critic returns R = A + V, old values
        and the log-probs of the actions under the policy that took them."""
        obs, action = steps["obs"].flatten(0, 1), steps["action"].flatten(0, 1)
        return {
            "obs": obs,
            "action": action,
            "adv": adv.flatten(),
            "ret": self.critic_returns((adv + v).flatten()),
            "old_v": raw_v.flatten(),
            "old_logp": self.pd.log_prob(self.policy(obs), action),
        }

    @torch.no_grad()
    def prepare(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Advantages by GAE (lam) or n-step returns minus V, and the rest of learning_batch."""
        steps = rollout(batch)
        v, next_v, raw_v = self.values(batch)
        if self.lam is not None:
            adv = gae_advantages(steps, v, next_v, self.gamma, self.lam)
        else:
            adv = nstep_advantages(steps, v, next_v, self.gamma, self.nstep)
        return self.learning_batch(steps, adv.to(self.device), v, raw_v)

    def train(self, batch: dict[str, torch.Tensor]) -> None:
        data = self.prepare(batch)
        ent_coef = self.entropy_coef.value(self.clock.frame)
        out, v = self.forward(data["obs"])
        entropy = self.pd.entropy(out).mean()
        policy_loss = -(self.pd.log_prob(out, data["action"]) * data["adv"]).mean()
        val_loss = self.loss_fn(v, data["ret"]).mean()
        s = self.spec
        loss = (
            s["policy_loss_coef"] * policy_loss - ent_coef * entropy + s["val_loss_coef"] * val_loss
        )
        self.optimize(loss)
        self.step_schedulers()
        self.stats = {"loss": loss.item(), "entropy": entropy.item(), "lr": self.lr}
