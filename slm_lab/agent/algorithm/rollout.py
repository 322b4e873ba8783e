"""The batches on-policy memories hand over, as (time, env) steps: a rollout of
OnPolicyBatchReplay, or whole episodes of OnPolicyReplay laid end to end as one env."""

import numpy as np
import torch

from slm_lab.lib.math_util import gae, nstep_returns


def rollout(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """obs, action, reward, terminated and dones (terminated or truncated), (time, env)."""
    if "next_obs" in batch:
        cols = {k: batch[k].unsqueeze(1) for k in ("obs", "action", "reward", "terminated")}
        cols["dones"] = torch.maximum(cols["terminated"], batch["truncated"].float().unsqueeze(1))
        return cols
    return {
        "obs": batch["obs"][:-1],
        "action": batch["action"],
        "reward": batch["reward"],
        "terminated": batch["terminated"],
        "dones": torch.maximum(batch["terminated"], batch["truncated"].float()),
    }


def state_values(batch: dict[str, torch.Tensor], value_fn) -> tuple[torch.Tensor, torch.Tensor]:
    """V(s) and V(s') of every step, (time, env); V(s') of a truncated step is V of its real last
    observation, and of a terminated step whatever the next row holds (never used)."""
    if "next_obs" in batch:
        n = len(batch["obs"])
        v = value_fn(torch.cat([batch["obs"], batch["next_obs"]]))
        return v[:n, None], v[n:, None]
    steps, envs = batch["reward"].shape
    v = value_fn(batch["obs"].flatten(0, 1)).view(steps + 1, envs)
    next_v = v[1:].clone()
    if batch["final_obs"].numel():
        next_v[batch["truncated"]] = value_fn(batch["final_obs"])
    return v[:-1], next_v


def numpy(*tensors: torch.Tensor) -> list[np.ndarray]:
    return [t.detach().cpu().numpy() for t in tensors]


def gae_advantages(steps: dict, v: torch.Tensor, next_v: torch.Tensor, gamma: float, lam: float):
    """GAE of a (time, env) rollout from V(s) and V(s') in return units (lib/math_util.py):
    bootstraps through truncation, never through termination."""
    reward, v, next_v, term, dones = numpy(
        steps["reward"], v, next_v, steps["terminated"], steps["dones"]
    )
    return torch.from_numpy(gae(reward, v, next_v, term, dones, gamma, lam))


def nstep_advantages(steps: dict, v: torch.Tensor, next_v: torch.Tensor, gamma: float, n: int):
    """n-step returns minus V(s), cut at episode ends, bootstrapping from V(s')."""
    reward, v, next_v, term, dones = numpy(
        steps["reward"], v, next_v, steps["terminated"], steps["dones"]
    )
    return torch.from_numpy(nstep_returns(reward, next_v, term, dones, gamma, n) - v)
