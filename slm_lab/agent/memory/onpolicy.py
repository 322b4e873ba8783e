"""OnPolicyBatchReplay: a preallocated (time, env) rollout, handed over whole every `horizon` steps."""

import math

import numpy as np
import torch

from slm_lab.lib.util import GIB, available_memory
from slm_lab.spec.errors import SpecError

ITEM_BYTES = 8  # upper bound of one stored scalar

TORCH_DTYPES = {np.dtype(np.uint8): torch.uint8, np.dtype(np.int64): torch.int64}


def torch_dtype(dtype: np.dtype) -> torch.dtype:
    return TORCH_DTYPES.get(np.dtype(dtype), torch.float32)


def check_fits(horizon: int, num_envs: int, obs_space, action_space) -> None:
    """Refuse, before allocating, a rollout that would not fit in the machine's free memory."""
    obs_bytes = math.prod(obs_space.shape) * np.dtype(obs_space.dtype).itemsize
    act_bytes = max(1, math.prod(action_space.shape or ())) * ITEM_BYTES
    step_bytes = 2 * obs_bytes + act_bytes + 3 * ITEM_BYTES  # obs, final_obs, action, r/term/trunc
    need = (horizon + 1) * num_envs * step_bytes
    free = available_memory()
    if need > free:
        raise SpecError(
            f"a rollout of {horizon} x {num_envs} steps needs {need / GIB:.1f} GiB of memory, "
            f"{free / GIB:.1f} GiB are free",
            "agent.algorithm.time_horizon",
        )


class OnPolicyBatchReplay:
    """Rollout storage: obs has horizon + 1 rows (the last is the bootstrap observation).

    `final_obs[t, n]` holds the real last observation where env n was truncated at step t, so the
    learner can bootstrap from it; the next row of `obs` is then the reset observation.
    """

    def __init__(
        self, memory_spec: dict, horizon: int, num_envs: int, obs_space, action_space, device
    ) -> None:
        check_fits(horizon, num_envs, obs_space, action_space)
        self.horizon = horizon
        self.device = device
        pin = device.type == "cuda"
        obs_shape = obs_space.shape
        act_shape = action_space.shape or ()

        def buf(shape, dtype):
            return torch.zeros(shape, dtype=dtype, pin_memory=pin)

        self.obs = buf((horizon + 1, num_envs, *obs_shape), torch_dtype(obs_space.dtype))
        self.final_obs = buf((horizon, num_envs, *obs_shape), self.obs.dtype)
        act_dtype = (
            torch.int64
            if not act_shape and np.issubdtype(action_space.dtype, np.integer)
            else torch.float32
        )
        self.action = buf((horizon, num_envs, *act_shape), act_dtype)
        self.reward = buf((horizon, num_envs), torch.float32)
        self.terminated = buf((horizon, num_envs), torch.float32)
        self.truncated = buf((horizon, num_envs), torch.bool)
        # numpy views share memory with the tensors: cheap writes in the step loop
        self.np = {
            k: getattr(self, k).numpy()
            for k in ("obs", "final_obs", "action", "reward", "terminated", "truncated")
        }
        self.t = 0

    def add(self, obs, action, reward, next_obs, terminated, truncated) -> bool:
        """Store one vector step; True when the rollout is full."""
        t, b = self.t, self.np
        b["obs"][t] = obs
        b["action"][t] = action
        b["reward"][t] = reward
        b["terminated"][t] = terminated
        b["truncated"][t] = truncated
        if truncated.any():
            b["final_obs"][t, truncated] = next_obs[truncated]
        self.t += 1
        if self.t == self.horizon:
            b["obs"][self.t] = next_obs
            return True
        return False

    def sample(self) -> dict[str, torch.Tensor]:
        """The whole rollout on the learner's device (one transfer), then reset."""
        self.t = 0
        names = ("obs", "action", "reward", "terminated", "truncated")
        batch = {k: getattr(self, k).to(self.device, non_blocking=True) for k in names}
        batch["final_obs"] = self.final_obs[self.truncated].to(self.device, non_blocking=True)
        return batch
