"""REINFORCE (Williams 1992), on the batch an on-policy memory hands over: a (time, env) rollout
of OnPolicyBatchReplay, or whole episodes of OnPolicyReplay.

Minimise -log pi(a|s) G - c_H H, with G the Monte-Carlo return (centred on the batch mean with
`center_return`). An episode still running at the end of a rollout counts the rewards it has so
far: without a critic there is nothing to bootstrap from.
"""

import torch

from slm_lab.agent.algorithm.base import OnPolicy
from slm_lab.agent.algorithm.rollout import numpy, rollout
from slm_lab.agent.net import policy_net
from slm_lab.lib.math_util import discounted_returns
from slm_lab.lib.schedule import Schedule


class Reinforce(OnPolicy):
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
