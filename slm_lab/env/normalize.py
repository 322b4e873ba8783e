"""Running observation and reward normalisation (`env.normalize_obs`, `env.normalize_reward`).

Observations: each feature shifted and scaled by the running mean and variance of every
observation seen in training, then clipped to [-clip_obs, clip_obs]. Rewards: divided by the
running standard deviation of each env's discounted return (not shifted, so their sign is kept),
then clipped to [-clip_reward, clip_reward]. Scores are always tracked on the raw rewards.
Both statistics are part of a session's state: `state_dict` / `load_state_dict`.
"""

import numpy as np

VAR_EPS = 1e-8
COUNT_EPS = 1e-4  # the statistics' weight before any data: the first batch dominates at once


class RunningMeanVar:
    """Per-feature running mean and variance of batches of shape (N, *shape)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        self.count = COUNT_EPS

    def update(self, batch: np.ndarray) -> None:
        n = batch.shape[0]
        mean, var = batch.mean(0), batch.var(0)
        delta, total = mean - self.mean, self.count + n
        self.mean = self.mean + delta * n / total
        m2 = self.var * self.count + var * n + delta**2 * self.count * n / total
        self.var, self.count = m2 / total, total

    def state_dict(self) -> dict:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        mean, var = np.asarray(state["mean"], np.float64), np.asarray(state["var"], np.float64)
        if mean.shape != self.mean.shape or var.shape != self.var.shape:
            raise ValueError(
                f"normaliser statistics of shape {mean.shape} do not fit observations of "
                f"shape {self.mean.shape}"
            )
        self.mean, self.var, self.count = mean.copy(), var.copy(), float(state["count"])


class ObsNorm:
    """(obs - mean) / std, clipped; `frozen` ones (evaluation envs) only read the statistics."""

    def __init__(self, shape: tuple[int, ...], clip: float) -> None:
        self.stats = RunningMeanVar(shape)
        self.clip = clip

    def update(self, obs: np.ndarray) -> None:
        self.stats.update(obs)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        scaled = (obs - self.stats.mean) / np.sqrt(self.stats.var + VAR_EPS)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict:
        return self.stats.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.stats.load_state_dict(state)


class RewardNorm:
    """reward / std(discounted return), clipped; each env's return restarts with its episode."""

    def __init__(self, num_envs: int, gamma: float, clip: float) -> None:
        self.stats = RunningMeanVar(())
        self.ret = np.zeros(num_envs, np.float64)
        self.gamma, self.clip = gamma, clip

    def __call__(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        self.ret = self.ret * self.gamma + reward
        self.stats.update(self.ret)
        self.ret[done] = 0.0
        scaled = reward / np.sqrt(self.stats.var + VAR_EPS)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict:
        return {**self.stats.state_dict(), "ret": self.ret.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.stats.load_state_dict(state)
        ret = np.asarray(state["ret"], np.float64)
        if ret.shape != self.ret.shape:
            raise ValueError(f"reward normaliser of {ret.size} envs, this run has {self.ret.size}")
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
