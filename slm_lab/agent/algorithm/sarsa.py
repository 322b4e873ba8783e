"""SARSA (Rummery & Niranjan 1994): a QLearner learning on-policy from whole rollouts or episodes:
L(Q(s, a), r + gamma (1 - terminated) Q(s', a')), with a' the action actually taken next. Where the
batch does not hold a' (its last step, or a truncated episode's real last observation), a' is
drawn from the current policy at s', which has the same expectation.
"""

import torch

from slm_lab.agent.algorithm.base import OnPolicy, bellman
from slm_lab.agent.algorithm.q_learner import QLearner

NO_ACTION = -1  # the next action is not in the batch


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


class SARSA(QLearner, OnPolicy):
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
            target = bellman(data["reward"], data["terminated"], q_next, self.gamma)
        return self.loss_fn(q, target).mean()
