"""Return and advantage estimators on (time, env) arrays; the symlog value transform; running
statistics and the percentile advantage scale."""

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

STATS_EPS = 1e-4  # prior count of the running statistics
VAR_EPS = 1e-8  # keeps the running std above zero
PERCENTILES = (0.05, 0.95)  # the advantage range PercentileScale tracks
PERCENTILE_DECAY = 0.99


def gae(
    rewards: np.ndarray,
    values: np.ndarray,
    next_values: np.ndarray,
    terminated: np.ndarray,
    dones: np.ndarray,
    gamma: float,
    lam: float,
) -> np.ndarray:
    """Generalized advantage estimates, shape (T, N).

    next_values[t] is V of the real next observation of step t (the final observation when the
    episode was truncated there). Bootstrapping stops at `terminated`; the lambda-trace stops at
    every episode end (`dones` = terminated or truncated).
    """
    deltas = rewards + gamma * next_values * (1.0 - terminated) - values
    decay = gamma * lam * (1.0 - dones)
    advs = np.empty_like(deltas)
    running = np.zeros_like(deltas[0])
    for t in range(len(deltas) - 1, -1, -1):
        running = deltas[t] + decay[t] * running
        advs[t] = running
    return advs


def discounted_returns(rewards: np.ndarray, dones: np.ndarray, gamma: float) -> np.ndarray:
    """Monte-Carlo returns, shape (T, N): sum of discounted rewards to each episode's end; an
    episode still running at the end of the batch counts the rewards it has so far."""
    returns = np.empty_like(rewards)
    running = np.zeros_like(rewards[0])
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * (1.0 - dones[t]) * running
        returns[t] = running
    return returns


def nstep_returns(
    rewards: np.ndarray,
    next_values: np.ndarray,
    terminated: np.ndarray,
    dones: np.ndarray,
    gamma: float,
    n: int,
) -> np.ndarray:
    """n-step returns, shape (T, N): up to n discounted rewards, then gamma^m V of the real next
    observation of the last step taken, unless that step terminated. The sum stops early at an
    episode end (bootstrapping from the final observation if truncated) and at the batch end."""
    steps = len(rewards)
    returns = np.zeros_like(rewards)
    alive = np.ones_like(rewards, dtype=bool)  # row t still adds rewards
    discount = 1.0
    for k in range(min(n, steps)):
        rows = steps - k  # rows t whose step t + k is in the batch
        live = alive[:rows]
        returns[:rows] += live * discount * rewards[k:]
        last = dones[k:].astype(bool) | (k == n - 1)
        last[-1] = True  # the batch ends at step T - 1
        boot = live & last
        bootstrap = discount * gamma * (1.0 - terminated[k:]) * next_values[k:]
        returns[:rows] += boot * bootstrap
        alive[:rows] &= ~last
        discount *= gamma
    return returns


def symlog(x: "torch.Tensor") -> "torch.Tensor":
    """sign(x) log(1 + |x|) (DreamerV3, Hafner et al. 2023): compresses large values, keeps sign
    and small values, so a loss on it sees returns of any scale alike."""
    return x.sign() * x.abs().log1p()


class RunningStats:
    """Running mean and variance (Chan et al.'s parallel update). With shape (), of every element
    seen (Python floats); with a shape, per feature of batches (N, *shape)."""

    def __init__(self, shape: tuple[int, ...] = ()) -> None:
        self.shape = shape
        self.mean, self.var = self.cast(np.zeros(shape)), self.cast(np.ones(shape))
        self.count = STATS_EPS

    def cast(self, x: np.ndarray) -> np.ndarray | float:
        return x if self.shape else float(x)

    def update(self, x: np.ndarray) -> None:
        batch = np.asarray(x, np.float64).reshape(-1, *self.shape)
        n, mean, var = batch.shape[0], batch.mean(0), batch.var(0)
        delta, total = mean - self.mean, self.count + n
        m2 = self.var * self.count + var * n + delta**2 * self.count * n / total
        self.mean = self.cast(self.mean + delta * n / total)
        self.var, self.count = self.cast(m2 / total), total

    @property
    def std(self) -> np.ndarray | float:
        return self.cast(np.sqrt(self.var + VAR_EPS))

    def state_dict(self) -> dict:
        return {"mean": np.copy(self.mean), "var": np.copy(self.var), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.mean = self.cast(np.array(state["mean"], np.float64))
        self.var = self.cast(np.array(state["var"], np.float64))
        self.count = float(state["count"])


class PercentileScale:
    """Advantage scale from the 5th and 95th percentiles, tracked as moving averages (DreamerV3,
    Hafner et al. 2023; the original lab's `normalize_advantages: percentile`): each batch moves
    low and high by (1 - decay) towards its own percentiles (from 0), and is divided by
    max(1, high - low), so small advantages are not scaled up."""

    def __init__(self, decay: float = PERCENTILE_DECAY) -> None:
        self.decay = decay
        self.low, self.high = 0.0, 0.0

    def __call__(self, x: "torch.Tensor") -> "torch.Tensor":
        """Update with x's percentiles, then x scaled."""
        lo, hi = (x.quantile(q).item() for q in PERCENTILES)
        self.low = self.decay * self.low + (1 - self.decay) * lo
        self.high = self.decay * self.high + (1 - self.decay) * hi
        return x / max(1.0, self.high - self.low)

    def state_dict(self) -> dict:
        return {"low": self.low, "high": self.high}

    def load_state_dict(self, state: dict) -> None:
        self.low, self.high = float(state["low"]), float(state["high"])
