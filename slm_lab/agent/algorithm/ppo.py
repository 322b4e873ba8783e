"""PPO (Schulman et al. 2017): clipped surrogate on GAE advantages, several epochs of minibatches.

One rollout of `time_horizon` vector steps arrives as a batch; then, as in the paper:
1. V(s) for every observation (and for the real last observation of truncated episodes);
2. GAE advantages, bootstrapping through truncation, never through termination; returns = A + V;
3. log-probs of the taken actions under the policy that collected them;
4. `training_epoch` passes over shuffled minibatches minimising
   -min(r A, clip(r, 1 - eps, 1 + eps) A) - c_H H + c_V L(V, R), with r = pi / pi_old.
"""

import numpy as np
import torch

from slm_lab.agent.algorithm.base import Algorithm
from slm_lab.agent.net import build_net, net_util
from slm_lab.lib.math_util import gae
from slm_lab.lib.schedule import Schedule
from slm_lab.spec.errors import SpecError

ADV_EPS = 1e-8


def refuse_unsupported(spec: dict) -> None:
    """Keys PPO accepts in the spec format but does not honour in this version: refused, not ignored."""
    path = "agent.algorithm"
    if spec["action_policy"] != "default":
        raise SpecError("PPO samples its policy", f"{path}.action_policy", ["default"])
    if spec["normalize_v_targets"]:
        raise SpecError(
            "normalize_v_targets is not available yet", f"{path}.normalize_v_targets", [False]
        )


class PPO(Algorithm):
    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        super().__init__(agent_spec, env, clock, dev_checks)
        s = self.spec
        refuse_unsupported(s)
        self.gamma, self.lam = s["gamma"], s["lam"]
        self.clip_eps = Schedule(s["clip_eps_spec"])
        self.entropy_coef = Schedule(s["entropy_coef_spec"], default=0.0)
        self.epochs, self.minibatch_size = s["training_epoch"], s["minibatch_size"]
        self.loss_fn = net_util.make_loss(self.net_spec["loss_spec"], "agent.net.loss_spec")
        self.build_nets()

    @property
    def horizon(self) -> int:
        return self.spec["time_horizon"]

    def build_nets(self) -> None:
        ns, shape = self.net_spec, self.env.observation_space.shape
        n_out = self.pd.param_dim
        stds = [ns["actor_init_std"], ns["critic_init_std"]]
        if ns["shared"]:
            self.nets = {"net": build_net(ns, shape, [n_out, 1], stds)}
        else:
            self.nets = {
                "actor": build_net(ns, shape, [n_out], stds[:1], role="actor"),
                "critic": build_net(ns, shape, [1], stds[1:], role="critic"),
            }
        self.place_nets()
        if ns["shared"] or ns["use_same_optim"]:
            self.build_optims({None: [p for n in self.nets.values() for p in n.parameters()]})
        else:
            self.build_optims({role: list(net.parameters()) for role, net in self.nets.items()})

    def policy(self, x: torch.Tensor) -> torch.Tensor:
        return self.nets["net"](x)[0] if "net" in self.nets else self.nets["actor"](x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Policy outputs and state values."""
        if "net" in self.nets:
            out, value = self.nets["net"](x)
            return out, value.squeeze(-1)
        return self.nets["actor"](x), self.nets["critic"](x).squeeze(-1)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)[1] if "net" in self.nets else self.nets["critic"](x).squeeze(-1)

    @torch.inference_mode()
    def act(self, obs: np.ndarray, explore: bool = True) -> np.ndarray:
        out = self.policy(self.to_tensor(obs))
        action = self.pd.sample(out) if explore else self.pd.greedy(out)
        return action.cpu().numpy()

    @torch.no_grad()
    def targets(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Advantages, returns, old values and old log-probs, flattened over (time, env)."""
        obs = batch["obs"]
        steps, envs = batch["reward"].shape
        out, values = self.forward(obs.flatten(0, 1))
        values = values.view(steps + 1, envs)
        next_values = values[1:].clone()
        if batch["final_obs"].numel():
            next_values[batch["truncated"]] = self.value(batch["final_obs"])
        terminated = batch["terminated"]
        dones = torch.maximum(terminated, batch["truncated"].float())
        cpu = [
            t.cpu().numpy() for t in (batch["reward"], values[:-1], next_values, terminated, dones)
        ]
        advs = torch.from_numpy(gae(*cpu, self.gamma, self.lam)).to(self.device)
        actions = batch["action"].flatten(0, 1)
        old_out = out.view(steps + 1, envs, -1)[:-1].flatten(0, 1)
        return {
            "obs": obs[:-1].flatten(0, 1),
            "action": actions,
            "adv": advs.flatten(),
            "ret": (advs + values[:-1]).flatten(),
            "old_v": values[:-1].flatten(),
            "old_logp": self.pd.log_prob(old_out, actions),
        }

    def loss(
        self, mb: dict[str, torch.Tensor], clip_eps: float, ent_coef: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The clipped-surrogate loss of one minibatch, and its policy entropy."""
        out, v = self.forward(mb["obs"])
        logp = self.pd.log_prob(out, mb["action"])
        entropy = self.pd.entropy(out).mean()
        adv = mb["adv"]
        if self.spec["normalize_advantages"] and adv.numel() > 1:
            adv = (adv - adv.mean()) / (adv.std() + ADV_EPS)
        ratio = (logp - mb["old_logp"]).exp()
        surrogate = torch.min(ratio * adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv)
        policy_loss = -surrogate.mean()
        val_loss = self.loss_fn(v, mb["ret"])
        if self.spec["clip_vloss"]:
            v_clip = mb["old_v"] + (v - mb["old_v"]).clamp(-clip_eps, clip_eps)
            val_loss = torch.max(val_loss, self.loss_fn(v_clip, mb["ret"]))
        s = self.spec
        return (
            s["policy_loss_coef"] * policy_loss
            - ent_coef * entropy
            + s["val_loss_coef"] * val_loss.mean()
        ), entropy

    def train(self, batch: dict[str, torch.Tensor]) -> None:
        data = self.targets(batch)
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
