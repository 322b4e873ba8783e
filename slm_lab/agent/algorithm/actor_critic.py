"""REINFORCE (Williams 1992) and A2C (synchronous advantage actor-critic, Mnih et al. 2016).

Both learn from the batch an on-policy memory hands over: a (time, env) rollout from
OnPolicyBatchReplay, or whole episodes from OnPolicyReplay.

REINFORCE: minimise -log pi(a|s) G - c_H H, with G the Monte-Carlo return (centred on the batch
mean with `center_return`). An episode still running at the end of a rollout counts the rewards
it has so far: without a critic there is nothing to bootstrap from.

A2C: one gradient step per batch on
  -log pi(a|s) A - c_H H + c_V L(V(s), R),
with A from GAE (`lam`) or n-step returns (`num_step_returns`), R = A + V(s). Bootstrapping stops at
`terminated`; a truncated episode bootstraps from V of its real last observation.
`normalize_v_targets`: the critic learns returns scaled by their running mean and std.
"""

import numpy as np
import torch

from slm_lab.agent.algorithm.base import Algorithm
from slm_lab.agent.net import build_net, net_util
from slm_lab.agent.net.base import WithLogStd
from slm_lab.lib.math_util import RunningStats, discounted_returns, gae, nstep_returns
from slm_lab.lib.schedule import Schedule
from slm_lab.spec.errors import SpecError

ADV_EPS = 1e-8


def rollout(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Either on-policy memory's batch as (time, env) steps: obs, action, reward, terminated,
    dones (terminated or truncated). Whole episodes are one env, laid end to end."""
    if "next_obs" in batch:
        cols = {k: batch[k].unsqueeze(1) for k in ("obs", "action", "reward", "terminated")}
        cols["dones"] = torch.maximum(cols["terminated"], batch["truncated"].float().unsqueeze(1))
        return cols
    return {
        "obs": batch["obs"][:-1],
        "action": batch["action"],
        "reward": batch["reward"],
        "terminated": batch["terminated"],
        "dones": torch.maximum(batch["terminated"], batch["truncated"].float()),
    }


def state_values(batch: dict[str, torch.Tensor], value_fn) -> tuple[torch.Tensor, torch.Tensor]:
    """V(s) and V(s') of every step, (time, env); V(s') of a truncated step is V of its real last
    observation, and of a terminated step whatever the next row holds (never used)."""
    if "next_obs" in batch:
        n = len(batch["obs"])
        v = value_fn(torch.cat([batch["obs"], batch["next_obs"]]))
        return v[:n, None], v[n:, None]
    steps, envs = batch["reward"].shape
    v = value_fn(batch["obs"].flatten(0, 1)).view(steps + 1, envs)
    next_v = v[1:].clone()
    if batch["final_obs"].numel():
        next_v[batch["truncated"]] = value_fn(batch["final_obs"])
    return v[:-1], next_v


def numpy(*tensors: torch.Tensor) -> list[np.ndarray]:
    return [t.detach().cpu().numpy() for t in tensors]


class Reinforce(Algorithm):
    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        super().__init__(agent_spec, env, clock, dev_checks)
        s = self.spec
        self.gamma = s["gamma"]
        self.entropy_coef = Schedule(s["entropy_coef_spec"], default=0.0)
        shape = env.observation_space.shape
        self.nets = {"net": policy_net(self.net_spec, shape, self.pd, [], "actor")}
        self.place_nets()
        self.build_optims({None: list(self.nets["net"].parameters())})

    def policy(self, x: torch.Tensor) -> torch.Tensor:
        return self.nets["net"](self.inputs(x))

    def returns(self, steps: dict[str, torch.Tensor]) -> torch.Tensor:
        reward, dones = numpy(steps["reward"], steps["dones"])
        ret = torch.from_numpy(discounted_returns(reward, dones, self.gamma)).to(self.device)
        if self.spec["center_return"]:
            ret = ret - ret.mean()
        return ret.flatten()

    def train(self, batch: dict[str, torch.Tensor]) -> None:
        steps = rollout(batch)
        ret = self.returns(steps)
        out = self.policy(steps["obs"].flatten(0, 1))
        action = steps["action"].flatten(0, 1)
        entropy = self.pd.entropy(out).mean()
        ent_coef = self.entropy_coef.value(self.clock.frame)
        policy_loss = -(self.pd.log_prob(out, action) * ret).mean()
        loss = self.spec["policy_loss_coef"] * policy_loss - ent_coef * entropy
        self.optimize(loss)
        self.step_schedulers()
        self.stats = {"loss": loss.item(), "entropy": entropy.item(), "lr": self.lr}


def policy_net(net_spec: dict, shape: tuple, pd, extra_dims: list[int], role: str | None):
    """A net whose first head parametrises the action distribution (plus `extra_dims` heads);
    with `log_std_init`, a Gaussian's log std is a learnt parameter instead of an output."""
    stds = [net_spec["actor_init_std"], *[net_spec["critic_init_std"]] * len(extra_dims)]
    log_std = net_spec["log_std_init"]
    if log_std is None or not hasattr(pd, "split"):
        return build_net(net_spec, shape, [pd.param_dim, *extra_dims], stds, role=role)
    net = build_net(net_spec, shape, [pd.action_dim, *extra_dims], stds, role=role)
    return WithLogStd(net, pd.action_dim, log_std)


class ActorCritic(Algorithm):
    state_attrs = (*Algorithm.state_attrs, "v_stats")

    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        super().__init__(agent_spec, env, clock, dev_checks)
        s = self.spec
        if s["lam"] is None and s["num_step_returns"] is None:
            raise SpecError(
                f"{s['name']} needs lam (GAE) or num_step_returns (n-step returns)",
                "agent.algorithm.lam",
            )
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

    def advantages(self, steps: dict, values: torch.Tensor, next_values: torch.Tensor):
        reward, v, next_v, term, dones = numpy(
            steps["reward"], values, next_values, steps["terminated"], steps["dones"]
        )
        if self.lam is not None:
            advs = gae(reward, v, next_v, term, dones, self.gamma, self.lam)
        else:
            advs = nstep_returns(reward, next_v, term, dones, self.gamma, self.nstep) - v
        return torch.from_numpy(advs).to(self.device)

    def real_values(self, v: torch.Tensor) -> torch.Tensor:
        """Critic outputs -> values in return units."""
        return v if self.v_stats is None else v * self.v_stats.std + self.v_stats.mean

    def critic_targets(self, returns: torch.Tensor) -> torch.Tensor:
        """Returns -> what the critic learns (scaled, after updating the running statistics)."""
        if self.v_stats is None:
            return returns
        self.v_stats.update(returns.cpu().numpy())
        return (returns - self.v_stats.mean) / self.v_stats.std

    @torch.no_grad()
    def targets(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Advantages, critic targets, old values and old log-probs, flat over (time, env)."""
        steps = rollout(batch)
        raw_v, raw_next = state_values(batch, self.value)
        values, next_values = self.real_values(raw_v), self.real_values(raw_next)
        advs = self.advantages(steps, values, next_values)
        obs = steps["obs"].flatten(0, 1)
        action = steps["action"].flatten(0, 1)
        return {
            "obs": obs,
            "action": action,
            "adv": advs.flatten(),
            "ret": self.critic_targets((advs + values).flatten()),
            "old_v": raw_v.flatten(),
            "old_logp": self.pd.log_prob(self.policy(obs), action),
        }

    def train(self, batch: dict[str, torch.Tensor]) -> None:
        data = self.targets(batch)
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
