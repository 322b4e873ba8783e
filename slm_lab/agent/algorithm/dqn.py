"""The DQN family on replay memories (Mnih et al. 2015; van Hasselt et al. 2016).

Every `training_frequency` frames after `training_start_step`: `training_iter` times, sample a
batch and take `training_batch_iter` gradient steps on it, minimising
L(Q(s, a), r + gamma (1 - terminated) Q'(s')), where Q'(s') is
- VanillaDQN: max_a Q(s', a) of the online net;
- DQN: max_a Q_target(s', a) of the target net;
- DoubleDQN: Q_target(s', argmax_a Q(s', a)): the online net picks, the target net evaluates.
Only termination stops the bootstrap; a truncated transition bootstraps from its real last
observation. The target net is replaced every `update_frequency` frames, or moved towards the
online net by `polyak_coef` after every training round. Prioritized replay weights the loss by
its importance-sampling weights and gets back |TD error| as new priorities.
"""

import torch

from slm_lab.agent.algorithm.base import TargetNets
from slm_lab.agent.algorithm.sarsa import QLearner
from slm_lab.agent.net import net_util


class VanillaDQN(QLearner):
    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        super().__init__(agent_spec, env, clock, dev_checks)
        s = self.spec
        self.iters, self.batch_iters = s["training_iter"], s["training_batch_iter"]
        self.mean_loss_fn = net_util.make_loss(
            self.net_spec["loss_spec"], "agent.net.loss_spec", reduction="mean"
        )

    def learn(self, memory, ready: bool) -> None:
        if not self.train_due():
            return
        prioritized = hasattr(memory, "update_priorities")
        for _ in range(self.iters):
            batch = memory.sample()
            for _ in range(self.batch_iters):
                loss, td = self.loss(batch)
                self.optimize(loss)
                self.record(loss)
            if prioritized:
                memory.update_priorities(td.cpu().numpy())
        self.step_schedulers()
        self.update_target()

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The batch loss, and each transition's TD error when prioritized replay needs it."""
        q = self.q_taken(batch["obs"], batch["action"])
        with torch.no_grad():
            q_next = self.q_next(self.inputs(batch["next_obs"]))
            target = torch.addcmul(
                batch["reward"], 1.0 - batch["terminated"], q_next, value=self.gamma
            )
        if "weight" not in batch:
            return self.mean_loss_fn(q, target), None
        loss = (self.loss_fn(q, target) * batch["weight"]).mean()
        return loss, (target - q).detach()

    def q_next(self, next_obs: torch.Tensor) -> torch.Tensor:
        return self.nets["net"](next_obs).amax(-1)

    def update_target(self) -> None:
        """VanillaDQN has no target net."""


class DQN(VanillaDQN):
    state_attrs = (*VanillaDQN.state_attrs, "targets")

    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        super().__init__(agent_spec, env, clock, dev_checks)
        self.targets = TargetNets(self.net_spec, [self.nets["net"]], clock)
        self.target_net = self.targets.nets[0]

    def q_next(self, next_obs: torch.Tensor) -> torch.Tensor:
        return self.target_net(next_obs).amax(-1)

    def update_target(self) -> None:
        self.targets.update()


class DoubleDQN(DQN):
    def q_next(self, next_obs: torch.Tensor) -> torch.Tensor:
        best = self.nets["net"](next_obs).argmax(-1, keepdim=True)
        return self.target_net(next_obs).gather(-1, best).squeeze(-1)
