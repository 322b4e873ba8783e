"""On-policy memories: OnPolicyBatchReplay holds a preallocated (time, env) rollout of
`layout.rollout` vector steps; OnPolicyReplay holds whole episodes, OnPolicyCrossEntropy hands over
only the better ones. `size` is what they hold in
the unit their algorithm's rollout counts (vector steps, finished episodes); `sample` hands it all
over and starts anew."""

import math

import numpy as np
import torch

from slm_lab.agent.memory.base import ITEM_BYTES, Layout, check_fits
from slm_lab.lib.state import Stateful

REWARD = 2  # where the reward is in OnPolicyReplay's step tuples
TORCH_DTYPES = {np.dtype(np.uint8): torch.uint8, np.dtype(np.int64): torch.int64}


def torch_dtype(dtype: np.dtype) -> torch.dtype:
    return TORCH_DTYPES.get(np.dtype(dtype), torch.float32)


def rollout_bytes(layout: Layout) -> int:
    obs_bytes = math.prod(layout.obs_space.shape) * layout.obs_dtype.itemsize
    act_bytes = max(1, math.prod(layout.action_shape)) * ITEM_BYTES
    step_bytes = 2 * obs_bytes + act_bytes + 3 * ITEM_BYTES  # obs, final_obs, action, r/term/trunc
    return (layout.rollout + 1) * layout.num_envs * step_bytes


class OnPolicyBatchReplay(Stateful):
    """Rollout storage: obs has rollout + 1 rows (the last is the bootstrap observation).

    `final_obs[t, n]` holds the real last observation where env n was truncated at step t, so the
    learner can bootstrap from it; the next row of `obs` is then the reset observation.
    """

    state_attrs = ("obs", "final_obs", "action", "reward", "terminated", "truncated", "t")

    def __init__(self, memory_spec: dict, layout: Layout) -> None:
        steps, num_envs = layout.rollout, layout.num_envs
        check_fits(
            rollout_bytes(layout),
            f"a rollout of {steps} x {num_envs} steps",
            "agent.algorithm.time_horizon",
        )
        self.steps = steps
        self.device = device = layout.device
        pin = device.type == "cuda"
        obs_shape = layout.obs_space.shape
        act_shape = layout.action_shape

        def buf(shape, dtype):
            return torch.zeros(shape, dtype=dtype, pin_memory=pin)

        self.obs = buf((steps + 1, num_envs, *obs_shape), torch_dtype(layout.obs_dtype))
        self.final_obs = buf((steps, num_envs, *obs_shape), self.obs.dtype)
        self.action = buf((steps, num_envs, *act_shape), torch_dtype(layout.action_dtype))
        self.reward = buf((steps, num_envs), torch.float32)
        self.terminated = buf((steps, num_envs), torch.float32)
        self.truncated = buf((steps, num_envs), torch.bool)
        # numpy views share memory with the tensors: cheap writes in the step loop
        self.np = {
            k: getattr(self, k).numpy()
            for k in ("obs", "final_obs", "action", "reward", "terminated", "truncated")
        }
        self.t = 0

    @property
    def size(self) -> int:
        """Vector steps stored."""
        return self.t

    def add(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """Store one vector step; the last one also writes the bootstrap row."""
        t, b = self.t, self.np
        b["obs"][t] = obs
        b["action"][t] = action
        b["reward"][t] = reward
        b["terminated"][t] = terminated
        b["truncated"][t] = truncated
        if truncated.any():
            b["final_obs"][t, truncated] = next_obs[truncated]
        self.t += 1
        if self.t == self.steps:
            b["obs"][self.t] = next_obs

    def sample(self) -> dict[str, torch.Tensor]:
        """The whole rollout on the learner's device (one transfer), then reset."""
        self.t = 0
        names = ("obs", "action", "reward", "terminated", "truncated")
        batch = {k: getattr(self, k).to(self.device, non_blocking=True) for k in names}
        batch["final_obs"] = self.final_obs[self.truncated].to(self.device, non_blocking=True)
        return batch


class OnPolicyReplay(Stateful):
    """Whole episodes, of all envs.

    A batch is the finished episodes laid end to end, flat over steps: obs, action, reward,
    next_obs (the real next observation, also at truncation), terminated, truncated. Episodes
    still running stay for the next batch.
    """

    state_attrs = ("running", "done")

    def __init__(self, memory_spec: dict, layout: Layout) -> None:
        self.device = layout.device
        self.obs_dtype = layout.obs_dtype
        self.running: list[list[tuple]] = [[] for _ in range(layout.num_envs)]
        self.done: list[list[tuple]] = []

    @property
    def size(self) -> int:
        """Finished episodes stored."""
        return len(self.done)

    def add(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """Store one vector step; an env's episode is stored whole when it ends."""
        ended = terminated | truncated
        for env, steps in enumerate(self.running):
            steps.append(
                (obs[env], action[env], reward[env], next_obs[env], terminated[env], truncated[env])
            )
            if ended[env]:
                self.done.append(steps)
                self.running[env] = []

    def sample(self) -> dict[str, torch.Tensor]:
        """The finished episodes as one flat batch; they are then dropped."""
        steps = [step for episode in self.done for step in episode]
        self.done = []
        obs, action, reward, next_obs, terminated, truncated = zip(*steps, strict=True)
        batch = {
            "obs": np.stack(obs).astype(self.obs_dtype, copy=False),
            "action": np.stack(action),
            "reward": np.asarray(reward, np.float32),
            "next_obs": np.stack(next_obs).astype(self.obs_dtype, copy=False),
            "terminated": np.asarray(terminated, np.float32),
            "truncated": np.asarray(truncated, bool),
        }
        return {k: torch.from_numpy(v).to(self.device) for k, v in batch.items()}


class OnPolicyCrossEntropy(OnPolicyReplay):
    """OnPolicyReplay for the cross-entropy method (Kroese et al. 2013), as the original lab had
    it: of the finished episodes, only those whose return (sum of stored rewards) is at least the
    `cross_entropy` quantile of their returns are handed over (0.5: the better half, numpy's
    linear interpolation); 1.0 hands over all."""

    def __init__(self, memory_spec: dict, layout: Layout) -> None:
        super().__init__(memory_spec, layout)
        self.quantile = memory_spec["cross_entropy"]

    def sample(self) -> dict[str, torch.Tensor]:
        if self.quantile < 1.0:
            returns = [sum(step[REWARD] for step in episode) for episode in self.done]
            bound = np.percentile(returns, 100 * self.quantile)
            self.done = [ep for ep, ret in zip(self.done, returns, strict=True) if ret >= bound]
        return super().sample()
