"""QLearner: one Q-net with an output per discrete action, acting through an action policy
(`epsilon_greedy`, `boltzmann`, ...) whose epsilon or temperature follows `explore_var_spec`.
SARSA learns it on-policy, the DQN family off-policy."""

import numpy as np
import torch

from slm_lab.agent.algorithm.base import Algorithm
from slm_lab.agent.algorithm.policy import POLICIES
from slm_lab.agent.net import build_net, net_util
from slm_lab.lib.errors import SpecError
from slm_lab.lib.schedule import Schedule


class QLearner(Algorithm):
    q_attrs = ("explore_var", "loss_sum", "loss_count")  # what a checkpoint adds for it
    state_attrs = (*Algorithm.state_attrs, *q_attrs)

    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        super().__init__(agent_spec, env, clock, dev_checks)
        s = self.spec
        if self.pd.continuous:
            raise SpecError(
                f"{s['name']} learns a Q-value per discrete action; {env.name} has continuous "
                "actions (use SoftActorCritic, CrossQ or PPO there)",
                "agent.algorithm.name",
            )
        self.gamma = s["gamma"]
        self.policy = POLICIES[s["action_policy"]]
        self.explore = Schedule(s["explore_var_spec"])
        self.explore_var = self.explore.value(0)
        self.loss_fn = net_util.make_loss(self.net_spec["loss_spec"], "agent.net.loss_spec")
        shape = env.observation_space.shape
        self.nets = {"net": build_net(self.net_spec, shape, [self.pd.param_dim], [None])}
        self.place_nets()
        self.build_optims({None: list(self.nets["net"].parameters())})
        self.loss_sum = torch.zeros((), device=self.device)
        self.loss_count = 0

    def acting(self, x: torch.Tensor) -> torch.Tensor:
        """The Q-values acting reads (compiled with `agent.net.compile`)."""
        return self.nets["net"](x)

    @torch.inference_mode()
    def act(self, obs: np.ndarray, explore: bool = True) -> np.ndarray:
        def outputs() -> torch.Tensor:
            return self.acting(self.to_tensor(obs))

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
