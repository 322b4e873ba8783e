"""Return and advantage estimators on (time, env) arrays."""

import numpy as np


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
