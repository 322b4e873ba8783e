"""Self-imitation learning (Oh et al. 2018) on top of A2C (`SIL`) and PPO (`PPOSIL`).

After each on-policy update, finished episodes go into a replay of (s, a, R) with R the discounted
Monte-Carlo return; then `training_iter` times, a batch from it (reused `training_batch_iter`
times) trains on the returns that beat the critic's estimate:
  sil_policy_loss_coef * -log pi(a|s) max(R - V(s), 0) + sil_val_loss_coef * max(R - V(s), 0)^2 / 2.
The replay holds `memory.max_size` steps and samples `memory.batch_size` of them uniformly (their
defaults for SIL are in its registration).
"""

import torch

from slm_lab.agent.algorithm.actor_critic import ActorCritic
from slm_lab.agent.algorithm.ppo import PPO
from slm_lab.agent.algorithm.rollout import numpy, rollout
from slm_lab.agent.memory.base import action_dtype, action_shape, obs_dtype
from slm_lab.agent.memory.onpolicy import torch_dtype
from slm_lab.lib.math_util import discounted_returns
from slm_lab.lib.state import Stateful


class EpisodeReplay(Stateful):
    """A ring of (obs, action, return) from finished episodes; unfinished ones wait per env."""

    state_attrs = ("obs", "action", "ret", "head", "count", "pending")

    def __init__(self, memory_spec: dict, obs_space, action_space, gamma: float) -> None:
        self.batch_size = memory_spec["batch_size"]
        self.size = memory_spec["max_size"]
        self.gamma = gamma
        shape, dtype = (self.size, *obs_space.shape), torch_dtype(obs_dtype(obs_space))
        self.obs = torch.zeros(shape, dtype=dtype)
        shape = (self.size, *action_shape(action_space))
        self.action = torch.zeros(shape, dtype=torch_dtype(action_dtype(action_space)))
        self.ret = torch.zeros(self.size)
        self.head, self.count = 0, 0
        self.pending: dict[int, dict[str, torch.Tensor]] = {}

    def add_rollout(self, steps: dict[str, torch.Tensor]) -> None:
        """Store the episodes this (time, env) rollout finishes; keep the rest pending."""
        for env in range(steps["reward"].shape[1]):
            cols = {k: steps[k][:, env].cpu() for k in ("obs", "action", "reward", "dones")}
            old = self.pending.pop(env, None)
            if old is not None:
                cols = {k: torch.cat([old[k], cols[k]]) for k in cols}
            ends = torch.nonzero(cols["dones"]).flatten()
            if not len(ends):
                self.pending[env] = cols
                continue
            cut = int(ends[-1]) + 1
            self.pending[env] = {k: v[cut:] for k, v in cols.items()}
            self.store({k: v[:cut] for k, v in cols.items()})

    def store(self, episodes: dict[str, torch.Tensor]) -> None:
        reward, dones = numpy(episodes["reward"], episodes["dones"])
        ret = torch.from_numpy(discounted_returns(reward, dones, self.gamma))
        idx = (self.head + torch.arange(len(ret))) % self.size
        self.obs[idx] = episodes["obs"].to(self.obs.dtype)
        self.action[idx] = episodes["action"].to(self.action.dtype)
        self.ret[idx] = ret
        self.head = int(idx[-1] + 1) % self.size
        self.count = min(self.size, self.count + len(ret))

    def sample(self, device: torch.device) -> dict[str, torch.Tensor] | None:
        if self.count < self.batch_size:
            return None
        idx = torch.randint(self.count, (self.batch_size,))
        batch = {"obs": self.obs[idx], "action": self.action[idx], "ret": self.ret[idx]}
        return {k: v.to(device) for k, v in batch.items()}


class SelfImitation:
    """Adds the self-imitation updates after the on-policy update of an actor-critic."""

    def init_sil(self, agent_spec: dict) -> None:
        env = self.env
        self.sil = EpisodeReplay(
            agent_spec["memory"], env.observation_space, env.action_space, self.gamma
        )

    def train(self, batch: dict[str, torch.Tensor]) -> None:
        super().train(batch)
        self.sil.add_rollout(rollout(batch))
        s = self.spec
        for _ in range(s["training_iter"]):
            sil_batch = self.sil.sample(self.device)
            if sil_batch is None:
                return
            for _ in range(s["training_batch_iter"]):
                self.optimize(self.sil_loss(sil_batch))

    def sil_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        out, v = self.forward(batch["obs"])
        target = self.scaled(batch["ret"])
        gap = (target - v).clamp(min=0.0)
        logp = self.pd.log_prob(out, batch["action"])
        policy_loss = -(logp * gap.detach()).mean()
        val_loss = 0.5 * gap.square().mean()
        s = self.spec
        return s["sil_policy_loss_coef"] * policy_loss + s["sil_val_loss_coef"] * val_loss

    def scaled(self, returns: torch.Tensor) -> torch.Tensor:
        """Returns in the critic's scale (normalize_v_targets), without updating its statistics."""
        if self.v_stats is None:
            return returns
        return (returns - self.v_stats.mean) / self.v_stats.std


class SIL(SelfImitation, ActorCritic):
    state_attrs = (*ActorCritic.state_attrs, "sil")

    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        super().__init__(agent_spec, env, clock, dev_checks)
        self.init_sil(agent_spec)


class PPOSIL(SelfImitation, PPO):
    state_attrs = (*PPO.state_attrs, "sil")

    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        super().__init__(agent_spec, env, clock, dev_checks)
        self.init_sil(agent_spec)
