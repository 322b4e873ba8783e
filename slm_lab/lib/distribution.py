"""Action distributions on raw net outputs, as plain functions: no torch.distributions overhead
in the acting loop. Log-probs and entropies are summed over action dimensions."""

import gymnasium as gym
import torch

from slm_lab.spec.errors import SpecError


class Categorical:
    """Discrete actions from logits."""

    def __init__(self, space: gym.spaces.Discrete) -> None:
        self.param_dim = int(space.n)

    @staticmethod
    def sample(logits: torch.Tensor) -> torch.Tensor:
        """Gumbel-max: argmax(logits + Gumbel noise), three times faster than multinomial."""
        return (logits - torch.empty_like(logits).exponential_().log()).argmax(-1)

    @staticmethod
    def greedy(logits: torch.Tensor) -> torch.Tensor:
        return logits.argmax(-1)

    @staticmethod
    def log_prob(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return logits.log_softmax(-1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    @staticmethod
    def entropy(logits: torch.Tensor) -> torch.Tensor:
        logp = logits.log_softmax(-1)
        return -(logp.exp() * logp).sum(-1)


class Argmax(Categorical):
    """Discrete actions that always take the highest output (Q-learning's greedy policy)."""

    sample = Categorical.greedy


PDTYPES = {
    gym.spaces.Discrete: {"default": Categorical, "Categorical": Categorical, "Argmax": Argmax}
}


def action_pd(pdtype: str, space: gym.spaces.Space):
    """The distribution for `action_pdtype` on this action space, or a SpecError."""
    by_name = PDTYPES.get(type(space))
    path = "agent.algorithm.action_pdtype"
    if by_name is None:
        raise SpecError(f"action space {space} is not supported in this version", "env.name")
    if pdtype not in by_name:
        raise SpecError(f"{pdtype!r} does not fit action space {space}", path, sorted(by_name))
    return by_name[pdtype](space)
