"""What every memory is built from, and the up-front check that it fits in RAM.

A memory stores what the agent hands it after each vector step (`add`) and hands batches to its
algorithm (`sample`); when to learn is the algorithm's decision (agent/algorithm/base.py)."""

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from slm_lab.lib.errors import ResourceError
from slm_lab.lib.util import GIB, available_memory

ITEM_BYTES = 8  # upper bound of one stored scalar


@dataclass(frozen=True)
class Layout:
    """The shapes a memory stores and where its batches go."""

    num_envs: int
    obs_space: gym.Space
    action_space: gym.Space
    rollout: int | None  # vector steps one on-policy rollout holds (OnPolicyBatchReplay)
    device: torch.device
    clock: object  # the session's frame clock
    frame_stack: int = 1  # observations are stacks of this many frames along axis 0

    @property
    def discrete(self) -> bool:
        return is_discrete(self.action_space)

    @property
    def action_shape(self) -> tuple[int, ...]:
        return action_shape(self.action_space)

    @property
    def obs_dtype(self) -> np.dtype:
        return obs_dtype(self.obs_space)

    @property
    def action_dtype(self) -> np.dtype:
        return action_dtype(self.action_space)


def is_discrete(space: gym.Space) -> bool:
    return not space.shape and np.issubdtype(space.dtype, np.integer)


def action_shape(space: gym.Space) -> tuple[int, ...]:
    return tuple(space.shape or ())


def obs_dtype(space: gym.Space) -> np.dtype:
    """Images stay uint8 in memory; everything else is float32."""
    return np.dtype(np.uint8) if space.dtype == np.uint8 else np.dtype(np.float32)


def action_dtype(space: gym.Space) -> np.dtype:
    return np.dtype(np.int64) if is_discrete(space) else np.dtype(np.float32)


def check_fits(need: int, what: str, path: str) -> None:
    """Refuse, before allocating, a memory that would not fit in the machine's free RAM."""
    free = available_memory()
    if need > free:
        raise ResourceError(
            f"{what} needs {need / GIB:.1f} GiB of memory, {free / GIB:.1f} GiB are free",
            path,
        )


def to_device(arrays: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    """numpy batch -> tensors on the learner's device; observations stay uint8 until the net."""
    out = {key: torch.from_numpy(value) for key, value in arrays.items()}
    if device.type == "cpu":
        return out
    return {key: tensor.to(device, non_blocking=True) for key, tensor in out.items()}
