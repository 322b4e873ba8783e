"""Running observation and reward normalisation (`env.normalize_obs`, `env.normalize_reward`).

Observations: each feature shifted and scaled by the running mean and variance of every
observation seen in training, then clipped to [-clip_obs, clip_obs]. Rewards: divided by the
running standard deviation of each env's discounted return (not shifted, so their sign is kept),
then clipped to [-clip_reward, clip_reward]. Scores are always tracked on the raw rewards.
Both statistics are part of a session's state: `state_dict` / `load_state_dict`. TorchObsNorm
does ObsNorm's work on torch tensors where an env hands its observations over on a device.
"""

from typing import Any

import numpy as np

from slm_lab.lib.math_util import STATS_EPS, VAR_EPS, RunningStats


class ObsNorm:
    """(obs - mean) / std per feature, clipped. An evaluation env shares its training env's
    ObsNorm and only reads it (VecEnv updates it where it learns the statistics)."""

    def __init__(self, shape: tuple[int, ...], clip: float) -> None:
        self.stats = RunningStats(shape)
        self.clip = clip

    def update(self, obs: np.ndarray) -> None:
        self.stats.update(obs)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        scaled = (obs - self.stats.mean) / self.stats.std
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict:
        return self.stats.state_dict()

    def load_state_dict(self, state: dict) -> None:
        shape = np.shape(state["mean"])
        if shape != self.stats.shape or np.shape(state["var"]) != shape:
            raise ValueError(
                f"normaliser statistics of shape {shape} do not fit observations of "
                f"shape {self.stats.shape}"
            )
        self.stats.load_state_dict(state)


class TorchObsNorm:
    """ObsNorm on torch tensors, on the device the observations are on (a GPU: no copy to the
    host). Statistics in float64, as ObsNorm's; its state dict is ObsNorm's (numpy)."""

    def __init__(self, shape: tuple[int, ...], clip: float, device: Any) -> None:
        import torch

        self.torch, self.clip = torch, clip
        self.shape = shape
        self.mean = torch.zeros(shape, dtype=torch.float64, device=device)
        self.var = torch.ones(shape, dtype=torch.float64, device=device)
        self.count = STATS_EPS

    def update(self, obs: Any) -> None:
        batch = obs.reshape(-1, *self.shape).double()
        n = batch.shape[0]
        mean, var = batch.mean(0), batch.var(0, unbiased=False)
        delta, total = mean - self.mean, self.count + n
        m2 = self.var * self.count + var * n + delta**2 * self.count * n / total
        self.mean, self.var, self.count = self.mean + delta * n / total, m2 / total, total

    def __call__(self, obs: Any) -> Any:
        scaled = (obs - self.mean) / self.torch.sqrt(self.var + VAR_EPS)
        return scaled.clamp(-self.clip, self.clip).float()

    def state_dict(self) -> dict:
        return {"mean": self.mean.cpu().numpy(), "var": self.var.cpu().numpy(), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        shape = np.shape(state["mean"])
        if shape != self.shape or np.shape(state["var"]) != shape:
            raise ValueError(
                f"normaliser statistics of shape {shape} do not fit observations of "
                f"shape {self.shape}"
            )
        self.mean = self.torch.as_tensor(np.asarray(state["mean"], np.float64)).to(self.mean)
        self.var = self.torch.as_tensor(np.asarray(state["var"], np.float64)).to(self.var)
        self.count = float(state["count"])


class RewardNorm:
    """reward / std(discounted return), clipped; each env's return restarts with its episode."""

    def __init__(self, num_envs: int, gamma: float, clip: float) -> None:
        self.stats = RunningStats()
        self.ret = np.zeros(num_envs, np.float64)
        self.gamma, self.clip = gamma, clip

    def __call__(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        self.ret = self.ret * self.gamma + reward
        self.stats.update(self.ret)
        self.ret[done] = 0.0
        scaled = reward / self.stats.std
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict:
        return {**self.stats.state_dict(), "ret": self.ret.copy()}

    def load_state_dict(self, state: dict) -> None:
        ret = np.asarray(state["ret"], np.float64)
        if ret.shape != self.ret.shape:
            raise ValueError(f"reward normaliser of {ret.size} envs, this run has {self.ret.size}")
        self.stats.load_state_dict(state)
        self.ret = ret.copy()


def to_tensors(state: dict) -> dict:
    """{"obs_norm": {"mean": array, ...}} -> {"obs_norm.mean": tensor, ...}: a flat state dict of
    tensors, which torch.load reads back with weights_only=True."""
    import torch

    return {
        f"{norm}.{key}": torch.as_tensor(np.asarray(value))
        for norm, stats in state.items()
        for key, value in stats.items()
    }


def from_tensors(flat: dict) -> dict:
    """The inverse of to_tensors (scalars come back as Python floats)."""
    state: dict[str, dict] = {}
    for name, tensor in flat.items():
        norm, key = name.split(".", 1)
        value = tensor.numpy()
        state.setdefault(norm, {})[key] = float(value) if value.ndim == 0 else value
    return state
