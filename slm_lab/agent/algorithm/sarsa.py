"""QLearner (a Q-net acting through an action policy) and SARSA (Rummery & Niranjan 1994).

SARSA learns on-policy from whole rollouts or episodes:
L(Q(s, a), r + gamma (1 - terminated) Q(s', a')), with a' the action actually taken next. Where the
batch does not hold a' (its last step, or a truncated episode's real last observation), a' is
drawn from the current policy at s', which has the same expectation.
"""

import numpy as np
import torch

from slm_lab.agent.algorithm.base import Algorithm
from slm_lab.agent.algorithm.policy import action_policy
from slm_lab.agent.net import build_net, net_util
from slm_lab.lib.schedule import Schedule
from slm_lab.spec.errors import SpecError

NO_ACTION = -1  # the next action is not in the batch

EXPLORING = ("epsilon_greedy", "boltzmann")


class QLearner(Algorithm):
    """One Q-net with an output per discrete action, an exploration schedule and a policy."""

    state_attrs = (*Algorithm.state_attrs, "explore_var", "loss_sum", "loss_count")

    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        super().__init__(agent_spec, env, clock, dev_checks)
        s = self.spec
        if self.pd.continuous:
            raise SpecError(
                f"{s['name']} learns a Q-value per discrete action; {env.name} has continuous "
                "actions (use SoftActorCritic, CrossQ or PPO there)",
                "agent.algorithm.name",
            )
        if s["action_policy"] in EXPLORING and not s["explore_var_spec"]:
            raise SpecError(
                f"{s['action_policy']} needs explore_var_spec (its epsilon or temperature)",
                "agent.algorithm.explore_var_spec",
            )
        self.gamma = s["gamma"]
        self.policy = action_policy(s["action_policy"])
        self.explore = Schedule(s["explore_var_spec"])
        self.explore_var = self.explore.value(0)
        self.loss_fn = net_util.make_loss(self.net_spec["loss_spec"], "agent.net.loss_spec")
        shape = env.observation_space.shape
        self.nets = {"net": build_net(self.net_spec, shape, [self.pd.param_dim], [None])}
        self.place_nets()
        self.build_optims({None: list(self.nets["net"].parameters())})
        self.loss_sum = torch.zeros((), device=self.device)
        self.loss_count = 0

    @torch.inference_mode()
    def act(self, obs: np.ndarray, explore: bool = True) -> np.ndarray:
        def outputs() -> torch.Tensor:
            return self.nets["net"](self.to_tensor(obs))

        if not explore:
            return outputs().argmax(-1).cpu().numpy()
        self.explore_var = self.explore.value(self.clock.frame)
        return self.policy(self.pd, outputs, len(obs), self.explore_var)

    def q_taken(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        q = self.nets["net"](self.inputs(obs))
        return q.gather(-1, action.long().unsqueeze(-1)).squeeze(-1)

    def record(self, loss: torch.Tensor) -> None:
        self.loss_sum += loss.detach()
        self.loss_count += 1

    def report(self) -> dict[str, float]:
        """Mean loss since the last report, learning rate, exploration variable."""
        loss = self.loss_sum.item() / self.loss_count if self.loss_count else float("nan")
        self.loss_sum.zero_()
        self.loss_count = 0
        return {"loss": loss, "lr": self.lr, "explore_var": self.explore_var}


def transitions(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Flat transitions with the next action taken (NO_ACTION where the batch lacks it), from an
    OnPolicyBatchReplay rollout (time, env) or an OnPolicyReplay batch of whole episodes."""
    if "final_obs" not in batch:
        done = (batch["terminated"] > 0) | batch["truncated"]
        next_action = torch.cat([batch["action"][1:], batch["action"][:1]])
        next_action[done] = NO_ACTION
        return {**batch, "next_action": next_action}
    obs, truncated = batch["obs"], batch["truncated"]
    next_obs = obs[1:].clone()
    next_obs[truncated] = batch["final_obs"]
    next_action = torch.cat([batch["action"][1:], torch.full_like(batch["action"][:1], NO_ACTION)])
    next_action[(batch["terminated"] > 0) | truncated] = NO_ACTION
    # env-major: each env's steps in time order
    out = {
        "obs": obs[:-1],
        "next_obs": next_obs,
        "action": batch["action"],
        "next_action": next_action,
        "reward": batch["reward"],
        "terminated": batch["terminated"],
    }
    return {k: v.transpose(0, 1).flatten(0, 1) for k, v in out.items()}


class SARSA(QLearner):
    def train(self, batch: dict[str, torch.Tensor]) -> None:
        loss = self.loss(transitions(batch))
        self.optimize(loss)
        self.record(loss)
        self.step_schedulers()

    def loss(self, data: dict[str, torch.Tensor]) -> torch.Tensor:
        q = self.q_taken(data["obs"], data["action"])
        with torch.no_grad():
            q_next_all = self.nets["net"](self.inputs(data["next_obs"]))
            drawn = self.policy(self.pd, lambda: q_next_all, len(q_next_all), self.explore_var)
            drawn = torch.from_numpy(drawn).to(self.device)
            next_action = data["next_action"]
            next_action = torch.where(next_action == NO_ACTION, drawn, next_action)
            q_next = q_next_all.gather(-1, next_action.long().unsqueeze(-1)).squeeze(-1)
            target = data["reward"] + self.gamma * (1.0 - data["terminated"]) * q_next
        return self.loss_fn(q, target).mean()
