"""Action policies, one action per env: `default` samples the action distribution,
`epsilon_greedy` acts at random with probability epsilon, `boltzmann` samples
softmax(out / temperature), `random` ignores the net. `explore_var` is epsilon or the temperature;
evaluation always acts greedily. A policy calls `outputs()` (the net's forward pass) only when it
needs it: an epsilon-greedy step that explores in every env skips the net."""

from collections.abc import Callable

import numpy as np
import torch

MIN_TEMPERATURE = 1e-8

Outputs = Callable[[], torch.Tensor]


def default(pd, outputs: Outputs, n: int, explore_var: float) -> np.ndarray:
    return pd.sample(outputs()).cpu().numpy()


def random(pd, outputs: Outputs, n: int, explore_var: float) -> np.ndarray:
    return np.random.randint(pd.param_dim, size=n)


def epsilon_greedy(pd, outputs: Outputs, n: int, explore_var: float) -> np.ndarray:
    explore = np.random.random(n) < explore_var
    if explore.all():
        return random(pd, outputs, n, explore_var)
    action = outputs().argmax(-1).cpu().numpy()
    if explore.any():
        action[explore] = np.random.randint(pd.param_dim, size=int(explore.sum()))
    return action


def boltzmann(pd, outputs: Outputs, n: int, explore_var: float) -> np.ndarray:
    """Gumbel-max sample of softmax(out / temperature)."""
    scaled = outputs() / max(explore_var, MIN_TEMPERATURE)
    return (scaled - torch.empty_like(scaled).exponential_().log()).argmax(-1).cpu().numpy()


POLICIES: dict[str, Callable] = {
    "default": default,
    "random": random,
    "epsilon_greedy": epsilon_greedy,
    "boltzmann": boltzmann,
}
