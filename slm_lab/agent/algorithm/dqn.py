"""The DQN family on replay memories (Mnih et al. 2015; van Hasselt et al. 2016).

Off-policy cadence (base.OffPolicy): every `training_frequency` frames after
`training_start_step`, `training_iter` replay batches. On each batch, `training_batch_iter`
gradient steps minimising L(Q(s, a), r + gamma (1 - terminated) Q'(s')), where Q'(s') is
- VanillaDQN: max_a Q(s', a) of the online net;
- DQN: max_a Q_target(s', a) of the target net;
- DoubleDQN: Q_target(s', argmax_a Q(s', a)): the online net picks, the target net evaluates.
Only termination stops the bootstrap; a truncated transition bootstraps from its real last
observation. Prioritized replay weights the loss by its importance-sampling weights and gets back
|TD error| as new priorities. After each round, the target net is replaced every
`update_frequency` frames, or moved towards the online net by `polyak_coef`.
"""

import torch

from slm_lab.agent.algorithm.base import OffPolicy, TargetNets
from slm_lab.agent.algorithm.q_learner import QLearner
from slm_lab.agent.net import net_util


class VanillaDQN(QLearner, OffPolicy):
    state_attrs = (*OffPolicy.state_attrs, *QLearner.q_attrs)

    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        super().__init__(agent_spec, env, clock, dev_checks)
        self.batch_iters = self.spec["training_batch_iter"]
        self.mean_loss_fn = net_util.make_loss(
            self.net_spec["loss_spec"], "agent.net.loss_spec", reduction="mean"
        )

    def train(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        for _ in range(self.batch_iters):
            loss, td = self.loss(batch)
            self.optimize(loss)
            self.record(loss)
        return td

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


class DQN(VanillaDQN):
    state_attrs = (*VanillaDQN.state_attrs, "targets")

    def __init__(self, agent_spec: dict, env, clock, dev_checks: bool = False) -> None:
        super().__init__(agent_spec, env, clock, dev_checks)
        self.targets = TargetNets(self.net_spec, [self.nets["net"]], clock)
        self.target_net = self.targets.nets[0]

    def q_next(self, next_obs: torch.Tensor) -> torch.Tensor:
        return self.target_net(next_obs).amax(-1)

    def end_round(self) -> None:
        self.targets.update()


class DoubleDQN(DQN):
    def q_next(self, next_obs: torch.Tensor) -> torch.Tensor:
        best = self.nets["net"](next_obs).argmax(-1, keepdim=True)
        return self.target_net(next_obs).gather(-1, best).squeeze(-1)
