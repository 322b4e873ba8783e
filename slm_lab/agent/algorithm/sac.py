"""Soft Actor-Critic (Haarnoja et al. 2018), for continuous actions (ContinuousSAC) and discrete
ones (DiscreteSAC, Christodoulou 2019); the spec names `SoftActorCritic` and the env's action
space picks the variant.

Off-policy cadence (base.OffPolicy): every `training_frequency` frames from
`training_start_step`, `training_iter` replay batches; on each batch, `train`:
1. critics: L(Q_i(s, a), y) for two Q-nets, y = r + gamma (1 - terminated) V'(s'), with
   V'(s') = E_{a' ~ pi}[min_i Q'_i(s', a') - alpha log pi(a'|s')] and Q'_i the polyak targets;
2. every `policy_delay` batches, the actor: E_{a ~ pi}[alpha log pi(a|s) - min_i Q_i(s, a)], and
   in the same optimizer step the temperature: log alpha (H - target_entropy), which raises
   alpha when the entropy H falls short of its target (temperature.py has its options);
3. with the actor's step, the target critics move towards the online ones (as the original
   and TD3: with a `policy_delay`, every `policy_delay` batches).
With `symlog`, the critics' loss compares symlog(Q) with symlog(y) (DreamerV3's compression);
with `spectral_norm`, each critic's penultimate linear layer is spectrally normalised.
Continuous actions are tanh-squashed Gaussians, log pi(a|s) = log N(u) - sum log(1 - tanh(u)^2);
discrete actions use exact expectations over the action set. Before `training_start_step`,
actions are uniform random.
"""

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from slm_lab.agent.algorithm.base import OffPolicy, TargetNets, bellman
from slm_lab.agent.algorithm.temperature import Temperature, migrate
from slm_lab.agent.net import build_net, net_util
from slm_lab.agent.net.ensemble import joint
from slm_lab.agent.net.spectral_norm import spectral_norm_penultimate
from slm_lab.lib.distribution import Categorical, GumbelSoftmax, Normal, action_pd
from slm_lab.lib.errors import SpecError
from slm_lab.lib.math_util import symlog

LOG_2 = math.log(2.0)
DISCRETE_ONLY = ("entropy_penalty_coef", "entropy_anneal")  # SD-SAC's options
ACTOR, CRITICS = 0, 1  # the optimizers' places in `optims`


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


def continuous(agent_spec: dict, env) -> bool:
    """Whether the spec's action distribution on this env is the Normal (else the Categorical)."""
    pd = action_pd(agent_spec["algorithm"]["action_pdtype"], env.action_space)
    if type(pd) not in (Normal, Categorical, GumbelSoftmax):  # the original's async SAC specs
        raise SpecError(
            f"{agent_spec['algorithm']['name']} acts with a tanh-squashed Normal or a Categorical",
            "agent.algorithm.action_pdtype",
            ["default", "Normal", "Categorical", "GumbelSoftmax"],
        )
    return pd.continuous


class SoftActorCritic(OffPolicy):
    """What both variants share: the nets, the temperature, the order of a training step."""

    temperature_attrs = ("updates", "loss_sum", "loss_count", "temperature")
    compiled_steps = ("critic_loss", "actor_loss")
    state_attrs = (*OffPolicy.state_attrs, *temperature_attrs, "target_nets")

    def __new__(cls, agent_spec: dict, env, clock, dev_checks: bool = False):
        """`SoftActorCritic(...)` builds the variant for the env's actions."""
        if cls is SoftActorCritic:
            cls = ContinuousSAC if continuous(agent_spec, env) else DiscreteSAC
        return object.__new__(cls)

    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        super().__init__(agent_spec, env, clock, dev_checks)
        s = self.spec
        self.gamma, self.delay = s["gamma"], s["policy_delay"]
        self.critic_spec = agent_spec["critic_net"] or self.net_spec
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

    def build_critic(self) -> nn.Module:
        in_shape, n_out = self.critic_shape
        cs = self.critic_spec
        net = build_net(cs, in_shape, [n_out], [cs["critic_init_std"]], role="critic")
        return spectral_norm_penultimate(net) if self.spec["spectral_norm"] else net

    def build_nets(self) -> None:
        ns, shape = self.net_spec, self.env.observation_space.shape
        actor = build_net(ns, shape, [self.pd.param_dim], [ns["actor_init_std"]], role="actor")
        self.nets = {"actor": actor, "q1": self.build_critic(), "q2": self.build_critic()}
        self.place_nets()
        self.build_targets()
        self.critics = joint([self.nets["q1"], self.nets["q2"]])  # (2, N, out) in one pass
        self.params = {name: list(net.parameters()) for name, net in self.nets.items()}
        self.add_optim(ns, "actor", self.params["actor"])  # optims[ACTOR]
        critic_params = self.params["q1"] + self.params["q2"]
        self.add_optim(  # optims[CRITICS]
            self.critic_spec, "critic", critic_params, self.critic_path
        )

    def build_targets(self) -> None:
        critics = [self.nets["q1"], self.nets["q2"]]
        self.target_nets = TargetNets(self.critic_spec, critics, self.clock)
        self.targets = joint(self.target_nets.nets)

    def build_temperature(self) -> None:
        """The temperature; tuned, it steps in the actor's optimizer (at alpha_lr)."""
        s, discrete = self.spec, isinstance(self, DiscreteSAC)
        for key in DISCRETE_ONLY:
            if s[key] and not discrete:
                raise SpecError(
                    f"{key} applies to discrete actions (SD-SAC); this env's are continuous",
                    f"agent.algorithm.{key}",
                )
        n = self.pd.param_dim if discrete else self.pd.action_dim
        self.temperature = Temperature(s, discrete, n, self.clock, self.device)
        if self.temperature.tuned:
            lr = s["alpha_lr"] or self.actor_optim.param_groups[0]["lr"]
            self.actor_optim.add_param_group(self.temperature.param_group(lr))
        self.entropy = torch.full((), float("nan"))

    def load_state_dict(self, state: dict) -> None:
        """Also a checkpoint from before the temperature stepped with the actor."""
        groups = self.actor_optim.state_dict()["param_groups"]
        alpha_group = (
            {k: v for k, v in groups[1].items() if k != "params"} if len(groups) > 1 else None
        )
        super().load_state_dict(migrate(state, alpha_group))

    @property
    def actor_optim(self) -> torch.optim.Optimizer:
        """From `optims`, where a distributed session's stand-ins replace them."""
        return self.optims[ACTOR]

    @property
    def critic_optim(self) -> torch.optim.Optimizer:
        return self.optims[CRITICS]

    @property
    def target_entropy(self) -> float:
        return self.temperature.target_entropy

    @property
    def log_alpha(self) -> torch.Tensor:
        return self.temperature.log_alpha

    @property
    def alpha(self) -> torch.Tensor:
        return self.temperature.alpha

    def policy(self, x: torch.Tensor) -> torch.Tensor:
        return self.nets["actor"](self.inputs(x))

    @torch.inference_mode()
    def act(self, obs: np.ndarray, explore: bool = True) -> np.ndarray:
        if explore and self.clock.frame < self.start:
            return self.random_actions(len(obs))
        return self.pick(self.acting(self.to_tensor(obs)), explore).cpu().numpy()

    def td_target(self, batch: dict[str, torch.Tensor], next_v: torch.Tensor) -> torch.Tensor:
        return bellman(batch["reward"], batch["terminated"], next_v, self.gamma)

    def weighted(self, batch: dict, q: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Both critics' loss, q (2, N) against the targets (N,) (on symlog values with
        `symlog`), weighted by prioritized replay's importance-sampling weights."""
        if self.spec["symlog"]:
            q, target = symlog(q), symlog(target)
        loss = self.loss_fn(q, target.expand_as(q)).sum(0)
        return (loss * batch["weight"]).mean() if "weight" in batch else loss.mean()

    def train(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        self.temperature.anneal()
        loss, td = self.critic_loss(batch)
        self.optimize(loss, [self.critic_optim], ("q1", "q2"))
        self.record(loss)
        self.updates += 1
        if self.updates % self.delay == 0:
            actor_loss, entropy = self.actor_loss(batch["obs"])
            self.update_actor(actor_loss, entropy)
            self.update_targets()
        return td

    def update_actor(self, actor_loss: torch.Tensor, entropy: torch.Tensor) -> None:
        """The actor and the temperature in one step of the actor's optimizer."""
        temperature = self.temperature
        temperature.log_alpha.grad = None
        self.optimize(actor_loss + temperature.loss(entropy), [self.actor_optim], ("actor",))
        temperature.clamp()
        self.entropy = entropy.detach().mean()

    def update_temperature(self, entropy: torch.Tensor) -> None:
        """One step on the temperature alone (tests and diagnostics)."""
        self.update_actor(torch.zeros((), requires_grad=True), entropy)

    def update_targets(self) -> None:
        self.target_nets.update()

    def attached(self) -> None:
        """Distributed: the target critics start from the global critics."""
        self.target_nets.sync()

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
            "entropy": self.entropy.item(),
            "explore_var": self.alpha.item(),
        }


class ContinuousSAC(SoftActorCritic):
    """Critics Q(s, a) on [s, a]; a tanh-squashed Gaussian actor, reparameterised."""

    @property
    def critic_shape(self) -> tuple[tuple[int, ...], int]:
        return (math.prod(self.env.observation_space.shape) + self.pd.action_dim,), 1

    def random_actions(self, n: int) -> np.ndarray:
        return np.random.uniform(-1.0, 1.0, (n, self.pd.action_dim)).astype(np.float32)

    def pick(self, out: torch.Tensor, explore: bool) -> torch.Tensor:
        return torch.tanh(self.pd.sample(out) if explore else self.pd.greedy(out))

    def squashed(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterised tanh-Gaussian action in [-1, 1] and its exact log-probability."""
        u = self.pd.sample(out)  # mean + std * noise: differentiable in mean and std
        return torch.tanh(u), self.pd.log_prob(out, u) - tanh_log_det(u)

    def q_in(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.inputs(obs).flatten(1), action], -1)

    def soft_value(self, q_next: torch.Tensor, next_logp: torch.Tensor) -> torch.Tensor:
        """min_i Q'_i(s', a') - alpha log pi(a'|s') for the sampled a'."""
        return q_next.squeeze(-1) - self.alpha * next_logp

    def critic_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The critics' loss and each transition's TD error."""
        with torch.no_grad():
            next_action, next_logp = self.squashed(self.policy(batch["next_obs"]))
            x = self.q_in(batch["next_obs"], next_action)
            q_next = self.targets(x).min(0).values
            target = self.td_target(batch, self.soft_value(q_next, next_logp))
        q = self.critics(self.q_in(batch["obs"], batch["action"])).squeeze(-1)
        return self.weighted(batch, q, target), (target - q[0]).detach()

    def actor_loss(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The policy loss and -log pi of the sampled actions (the entropy's estimate)."""
        action, logp = self.squashed(self.policy(obs))
        x = self.q_in(obs, action)
        with frozen(self.params["q1"] + self.params["q2"]):
            q = self.critics(x).min(0).values.squeeze(-1)
        return (self.alpha * logp - q).mean(), -logp.detach()


class DiscreteSAC(SoftActorCritic):
    """Critics Q(s, .) over every action; a categorical actor, expectations taken exactly."""

    @property
    def critic_shape(self) -> tuple[tuple[int, ...], int]:
        return self.env.observation_space.shape, self.pd.param_dim

    def random_actions(self, n: int) -> np.ndarray:
        return np.random.randint(self.pd.param_dim, size=n)

    def pick(self, out: torch.Tensor, explore: bool) -> torch.Tensor:
        return self.pd.sample(out) if explore else self.pd.greedy(out)

    def soft_value(self, q_next: torch.Tensor, next_logp: torch.Tensor) -> torch.Tensor:
        """E_{a' ~ pi}[Q'(s', a') - alpha log pi(a'|s')], summed over the actions (Q' the mean of
        the target critics: SD-SAC, as the original lab)."""
        return (next_logp.exp() * (q_next - self.alpha * next_logp)).sum(-1)

    @staticmethod
    def q_taken(q: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Q of the taken actions: q (..., N, actions), action (N,) -> (..., N)."""
        index = action.long().unsqueeze(-1).expand(*q.shape[:-1], 1)
        return q.gather(-1, index).squeeze(-1)

    def critic_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The critics' loss and each transition's TD error."""
        with torch.no_grad():
            next_logp = self.policy(batch["next_obs"]).log_softmax(-1)
            x = self.inputs(batch["next_obs"])
            q_next = self.targets(x).mean(0)  # SD-SAC: the mean, not the min
            target = self.td_target(batch, self.soft_value(q_next, next_logp))
        q = self.critics(self.inputs(batch["obs"]))
        self.judged = q.detach().mean(0)  # the actor's Q(s, .): this pass, as the original
        q = self.q_taken(q, batch["action"])
        return self.weighted(batch, q, target), (target - q[0]).detach()

    def actor_loss(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The policy loss (with SD-SAC's entropy penalty) and the policy's exact entropy. As the
        original, the actor is judged by the critics' mean Q(s, .) from the critic step's pass on
        the same batch (before that step), with no pass of its own."""
        q = self.judged
        logp = self.policy(obs).log_softmax(-1)
        p = logp.exp()
        loss = (p * (self.alpha * logp - q)).sum(-1).mean()
        entropy = -(p * logp).sum(-1)
        return loss + self.temperature.entropy_penalty(entropy), entropy.detach()
