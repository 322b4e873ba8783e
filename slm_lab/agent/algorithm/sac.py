"""Soft Actor-Critic (Haarnoja et al. 2018) for continuous and discrete actions, and CrossQ
(Bhatt et al. 2024).

Every `training_frequency` frames from `training_start_step`, `training_iter` gradient steps, each
on a replay batch:
- critics: L(Q_i(s, a), r + gamma (1 - terminated) V'(s')) for two Q-nets, where
  V'(s') = E_{a' ~ pi}[min_i Q'_i(s', a') - alpha log pi(a'|s')] with Q'_i the polyak targets;
- every `policy_delay` steps, the actor: E_{a ~ pi}[alpha log pi(a|s) - min_i Q_i(s, a)], and the
  temperature: log alpha (H - target_entropy), which raises alpha when the entropy H falls short.
Continuous actions are tanh-squashed Gaussians, log pi(a|s) = log N(u) - sum log(1 - tanh(u)^2);
discrete actions use exact expectations over the action set. Before `training_start_step`, actions
are uniform random.

CrossQ drops the target nets: its critics use batch renormalisation and evaluate (s, a) and
(s', a') in one joint forward pass, so both halves share the batch statistics.
"""

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from slm_lab.agent.algorithm.base import Algorithm, TargetNets
from slm_lab.agent.net import build_net, net_util
from slm_lab.agent.net.batch_renorm import BatchRenorm1d
from slm_lab.lib.distribution import Categorical, Normal
from slm_lab.spec.errors import SpecError

LOG_2 = math.log(2.0)
# "auto" target entropy for discrete actions: this fraction of the uniform policy's entropy
# (0.89, CleanRL's tuned value; the 0.98 of Christodoulou 2019 keeps policies near uniform)
DISCRETE_ENTROPY_FRACTION = 0.89


@contextmanager
def frozen(params: list[torch.Tensor]) -> Iterator[None]:
    """Forward passes inside build no gradient for these parameters (the actor's loss needs
    dQ/da, not the critics' weight gradients: a third of their backward pass saved)."""
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def tanh_log_det(u: torch.Tensor) -> torch.Tensor:
    """sum log(1 - tanh(u)^2), computed stably as 2 (log 2 - u - softplus(-2u))."""
    return (2.0 * (LOG_2 - u - F.softplus(-2.0 * u))).sum(-1)


class SoftActorCritic(Algorithm):
    temperature_attrs = ("updates", "loss_sum", "loss_count", "log_alpha", "alpha_optim", "entropy")
    state_attrs = (*Algorithm.state_attrs, *temperature_attrs, "target_nets")

    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        super().__init__(agent_spec, env, clock, dev_checks)
        s = self.spec
        if type(self.pd) not in (Normal, Categorical):
            raise SpecError(
                f"{s['name']} acts with a tanh-squashed Normal or a Categorical",
                "agent.algorithm.action_pdtype",
                ["default", "Normal", "Categorical"],
            )
        self.discrete = not self.pd.continuous
        self.gamma, self.iters, self.delay = s["gamma"], s["training_iter"], s["policy_delay"]
        self.critic_spec = agent_spec.get("critic_net") or self.net_spec
        self.loss_fn = net_util.make_loss(
            self.critic_spec["loss_spec"], f"{self.critic_path}.loss_spec"
        )
        self.updates = 0
        self.loss_sum, self.loss_count = torch.zeros(()), 0
        self.build_nets()
        self.build_temperature()

    @property
    def critic_path(self) -> str:
        return "agent.critic_net" if self.critic_spec is not self.net_spec else "agent.net"

    @property
    def q_shape(self) -> tuple[tuple[int, ...], int]:
        """Critic input shape and outputs: Q(s, .) over all actions, or Q(s, a) for one."""
        obs_shape = self.env.observation_space.shape
        if self.discrete:
            return obs_shape, self.pd.param_dim
        return (math.prod(obs_shape) + self.pd.action_dim,), 1

    def build_critic(self) -> nn.Module:
        in_shape, n_out = self.q_shape
        cs = self.critic_spec
        return build_net(cs, in_shape, [n_out], [cs["critic_init_std"]], role="critic")

    def build_nets(self) -> None:
        ns, shape = self.net_spec, self.env.observation_space.shape
        actor = build_net(ns, shape, [self.pd.param_dim], [ns["actor_init_std"]], role="actor")
        self.nets = {"actor": actor, "q1": self.build_critic(), "q2": self.build_critic()}
        self.place_nets()
        self.build_targets()
        self.params = {name: list(net.parameters()) for name, net in self.nets.items()}
        self.actor_optim = self.add_optim(ns, "actor", self.params["actor"])
        critic_params = self.params["q1"] + self.params["q2"]
        self.critic_optim = self.add_optim(
            self.critic_spec, "critic", critic_params, self.critic_path
        )

    def build_targets(self) -> None:
        critics = [self.nets["q1"], self.nets["q2"]]
        self.target_nets = TargetNets(self.critic_spec, critics, self.clock)
        self.targets = self.target_nets.nets

    def build_temperature(self) -> None:
        s = self.spec
        fixed = s["fixed_alpha"]
        self.log_alpha = torch.zeros((), device=self.device, requires_grad=fixed is None)
        self.alpha_optim = None
        if fixed is None:
            self.alpha_optim = torch.optim.Adam([self.log_alpha], lr=s["alpha_lr"])
        else:
            self.log_alpha.fill_(math.log(max(fixed, np.finfo(np.float32).tiny)))
        self.target_entropy = self.entropy_target(s["target_entropy"])
        self.entropy = float("nan")

    def entropy_target(self, value: object) -> float:
        if value == "auto":
            return self.auto_entropy()
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(
                f"target_entropy must be 'auto' or a number, got {value!r}",
                "agent.algorithm.target_entropy",
            )
        return float(value)

    def auto_entropy(self) -> float:
        if self.discrete:
            return DISCRETE_ENTROPY_FRACTION * math.log(self.pd.param_dim)
        return -float(self.pd.action_dim)

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.detach().exp()

    # acting

    def policy(self, x: torch.Tensor) -> torch.Tensor:
        return self.nets["actor"](self.inputs(x))

    @torch.inference_mode()
    def act(self, obs: np.ndarray, explore: bool = True) -> np.ndarray:
        if explore and self.clock.frame < self.spec["training_start_step"]:
            return self.random_actions(len(obs))
        out = self.policy(self.to_tensor(obs))
        if self.discrete:
            action = self.pd.sample(out) if explore else self.pd.greedy(out)
        else:
            action = torch.tanh(self.pd.sample(out) if explore else self.pd.greedy(out))
        return action.cpu().numpy()

    def random_actions(self, n: int) -> np.ndarray:
        if self.discrete:
            return np.random.randint(self.pd.param_dim, size=n)
        return np.random.uniform(-1.0, 1.0, (n, self.pd.action_dim)).astype(np.float32)

    def squashed(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterised tanh-Gaussian action in [-1, 1] and its exact log-probability."""
        u = self.pd.sample(out)  # mean + std * noise: differentiable in mean and std
        return torch.tanh(u), self.pd.log_prob(out, u) - tanh_log_det(u)

    # critics

    def q_in(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        obs = self.inputs(obs)
        return obs if self.discrete else torch.cat([obs.flatten(1), action], -1)

    def q_taken(self, q: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        if self.discrete:
            return q.gather(-1, action.long().unsqueeze(-1)).squeeze(-1)
        return q.squeeze(-1)

    def soft_value(self, nets, obs: torch.Tensor) -> torch.Tensor:
        """E_{a ~ pi}[min_i Q_i(s, a) - alpha log pi(a|s)] under the current policy."""
        out = self.policy(obs)
        if self.discrete:
            logp = out.log_softmax(-1)
            q = torch.min(nets[0](self.inputs(obs)), nets[1](self.inputs(obs)))
            return (logp.exp() * (q - self.alpha * logp)).sum(-1)
        action, logp = self.squashed(out)
        x = self.q_in(obs, action)
        return torch.min(nets[0](x), nets[1](x)).squeeze(-1) - self.alpha * logp

    def critic_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            next_v = self.soft_value(self.targets, batch["next_obs"])
            target = batch["reward"] + self.gamma * (1.0 - batch["terminated"]) * next_v
        x = self.q_in(batch["obs"], batch["action"])
        q1 = self.q_taken(self.nets["q1"](x), batch["action"])
        q2 = self.q_taken(self.nets["q2"](x), batch["action"])
        return self.weighted(batch, q1, q2, target), (target - q1).detach()

    def weighted(self, batch: dict, q1: torch.Tensor, q2: torch.Tensor, target: torch.Tensor):
        loss = self.loss_fn(q1, target) + self.loss_fn(q2, target)
        return (loss * batch["weight"]).mean() if "weight" in batch else loss.mean()

    # actor and temperature

    def actor_loss(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The policy loss and the policy's entropy (exact, or -log pi of the sampled action)."""
        out = self.policy(obs)
        if self.discrete:
            logp = out.log_softmax(-1)
            p = logp.exp()
            with torch.no_grad():
                x = self.inputs(obs)
                q = torch.min(self.nets["q1"](x), self.nets["q2"](x))
            loss = (p * (self.alpha * logp - q)).sum(-1).mean()
            return loss, -(p * logp).sum(-1).detach()
        action, logp = self.squashed(out)
        x = self.q_in(obs, action)
        with frozen(self.params["q1"] + self.params["q2"]):
            q = torch.min(self.nets["q1"](x), self.nets["q2"](x)).squeeze(-1)
        return (self.alpha * logp - q).mean(), -logp.detach()

    def alpha_loss(self, entropy: torch.Tensor) -> torch.Tensor:
        """Gradient descent raises log alpha when the entropy is below its target."""
        return self.log_alpha * (entropy - self.target_entropy).mean()

    def update_temperature(self, entropy: torch.Tensor) -> None:
        self.entropy = entropy.mean().item()
        if self.alpha_optim is None:
            return
        self.alpha_optim.zero_grad()
        self.alpha_loss(entropy).backward()
        self.alpha_optim.step()
        lo, hi = self.spec["log_alpha_min"], self.spec["log_alpha_max"]
        if lo is not None or hi is not None:
            with torch.no_grad():
                self.log_alpha.clamp_(lo, hi)

    # training

    def learn(self, memory, ready: bool) -> None:
        if not self.train_due():
            return
        prioritized = hasattr(memory, "update_priorities")
        for _ in range(self.iters):
            batch = memory.sample()
            loss, td = self.critic_loss(batch)
            self.optimize(loss, [self.critic_optim], ("q1", "q2"))
            self.record(loss)
            if prioritized:
                memory.update_priorities(td.cpu().numpy())
            self.updates += 1
            if self.updates % self.delay == 0:
                actor_loss, entropy = self.actor_loss(batch["obs"])
                self.optimize(actor_loss, [self.actor_optim], ("actor",))
                self.update_temperature(entropy)
            self.update_target()
        self.step_schedulers()

    def update_target(self) -> None:
        self.target_nets.update()

    def record(self, loss: torch.Tensor) -> None:
        self.loss_sum = self.loss_sum + loss.detach()
        self.loss_count += 1

    def report(self) -> dict[str, float]:
        """Mean critic loss since the last report, lr, policy entropy, and alpha as explore_var."""
        count = self.loss_count
        loss = self.loss_sum.item() / count if count else float("nan")
        self.loss_sum, self.loss_count = torch.zeros(()), 0
        return {
            "loss": loss,
            "lr": self.lr,
            "entropy": self.entropy,
            "explore_var": self.alpha.item(),
        }


class CrossQ(SoftActorCritic):
    """SAC without target nets: batch-renormalised critics, one joint pass over (s, a), (s', a')."""

    state_attrs = (*Algorithm.state_attrs, *SoftActorCritic.temperature_attrs)

    def build_critic(self) -> nn.Module:
        in_shape, n_out = self.q_shape
        cs = self.critic_spec
        if len(in_shape) != 1:
            raise SpecError("CrossQ's critics take flat observations", "env.name")
        return brn_mlp(in_shape[0], cs["hid_layers"], cs["hid_layers_activation"], n_out)

    def build_targets(self) -> None:
        self.targets = []

    def update_target(self) -> None:
        """No target nets."""

    def critic_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        obs, next_obs, action = batch["obs"], batch["next_obs"], batch["action"]
        with torch.no_grad():
            out = self.policy(next_obs)
            if self.discrete:
                next_logp = out.log_softmax(-1)
                next_action = None
            else:
                next_action, next_logp = self.squashed(out)
        x = torch.cat([self.q_in(obs, action), self.q_in(next_obs, next_action)])
        q1, q1_next = self.nets["q1"](x).chunk(2)
        q2, q2_next = self.nets["q2"](x).chunk(2)
        with torch.no_grad():
            q_next = torch.min(q1_next, q2_next)
            if self.discrete:
                next_v = (next_logp.exp() * (q_next - self.alpha * next_logp)).sum(-1)
            else:
                next_v = q_next.squeeze(-1) - self.alpha * next_logp
            target = batch["reward"] + self.gamma * (1.0 - batch["terminated"]) * next_v
        q1, q2 = self.q_taken(q1, action), self.q_taken(q2, action)
        return self.weighted(batch, q1, q2, target), (target - q1).detach()

    def actor_loss(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The critics judge the actor with their running statistics (evaluation mode)."""
        for name in ("q1", "q2"):
            self.nets[name].eval()
        try:
            return super().actor_loss(obs)
        finally:
            for name in ("q1", "q2"):
                self.nets[name].train()


def brn_mlp(in_dim: int, hid_layers: list[int], act: str, out_dim: int) -> nn.Sequential:
    """Batch renorm on the input and after every hidden layer, then a linear output."""
    layers: list[nn.Module] = [BatchRenorm1d(in_dim)]
    for width in hid_layers:
        layers += [nn.Linear(in_dim, width), net_util.activation(act), BatchRenorm1d(width)]
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)
