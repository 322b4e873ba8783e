"""Action distributions on raw net outputs, as plain functions: no torch.distributions objects in
the acting loop. Log-probs and entropies are summed over action dimensions.

Each distribution reads `param_dim` outputs of the policy net and offers sample, greedy, log_prob,
entropy, and `to_env`, which maps stored actions to the env's action space: continuous actions are
learnt in a normalised range and rescaled to the env's bounds only on their way to the env, so the
memory keeps the actions whose log-probs the learner needs.
"""

import math

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F

from slm_lab.lib.errors import SpecError

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # keeps exp(log_std) finite and positive
LOG_2PI = math.log(2 * math.pi)
BETA_EPS = 1e-6  # Beta samples are kept inside (0, 1), where the log-density is finite
GUMBEL_TAU = 1.0  # temperature of the relaxed one-hot sample
# Gumbel and LogNormal clamp their log scale as the original lab did for all its continuous ones
LOG_SCALE_MIN, LOG_SCALE_MAX = -5.0, 2.0
EULER_GAMMA = 0.5772156649015329  # the Gumbel's entropy constant
POSITIVE_EPS = 1e-8  # LogNormal log-probs of actions at or below zero (clipped, or rounded)


class Categorical:
    """Discrete actions from logits."""

    continuous = False

    def __init__(self, space: gym.spaces.Discrete) -> None:
        self.param_dim = int(space.n)
        self.action_dim = 1

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

    @staticmethod
    def to_env(actions: np.ndarray) -> np.ndarray:
        return actions


class Argmax(Categorical):
    """Discrete actions that always take the highest output (Q-learning's greedy policy)."""

    sample = Categorical.greedy


class GumbelSoftmax(Categorical):
    """A Categorical that also offers a differentiable straight-through one-hot sample
    (Jang et al. 2017): hard one-hot forward, relaxed softmax gradient backward."""

    @staticmethod
    def rsample(logits: torch.Tensor, tau: float = GUMBEL_TAU) -> torch.Tensor:
        return F.gumbel_softmax(logits, tau=tau, hard=True)


class Continuous:
    """Continuous actions learnt in [-1, 1] per dimension, rescaled to the env's bounds."""

    continuous = True

    def __init__(self, space: gym.spaces.Box) -> None:
        self.action_dim = int(np.prod(space.shape))
        self.shape = space.shape
        low, high = space.low.astype(np.float64), space.high.astype(np.float64)
        self.bounded = bool(np.isfinite(low).all() and np.isfinite(high).all())
        self.center = ((high + low) / 2).astype(np.float32) if self.bounded else None
        self.half = ((high - low) / 2).astype(np.float32) if self.bounded else None

    def rescale(self, unit: np.ndarray) -> np.ndarray:
        """[-1, 1] -> [low, high]."""
        return (self.center + self.half * unit).astype(np.float32, copy=False)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        if not self.bounded:
            return actions.reshape(-1, *self.shape)
        return self.rescale(np.clip(actions, -1.0, 1.0)).reshape(-1, *self.shape)


class Normal(Continuous):
    """Diagonal Gaussian: the net gives the mean and log std of each dimension (a state-independent
    log std, `log_std_init`, is appended to the outputs by the net)."""

    def __init__(self, space: gym.spaces.Box) -> None:
        super().__init__(space)
        self.param_dim = 2 * self.action_dim

    @staticmethod
    def split(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = out.chunk(2, -1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        mean, log_std = self.split(out)
        return mean + log_std.exp() * torch.randn_like(mean)

    def greedy(self, out: torch.Tensor) -> torch.Tensor:
        return self.split(out)[0]

    def log_prob(self, out: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        mean, log_std = self.split(out)
        z = (actions - mean) * (-log_std).exp()
        return (-0.5 * z.square() - log_std - 0.5 * LOG_2PI).sum(-1)

    def entropy(self, out: torch.Tensor) -> torch.Tensor:
        log_std = self.split(out)[1]
        return (0.5 + 0.5 * LOG_2PI + log_std).sum(-1)


class NormalTanh(Normal):
    """A diagonal Gaussian squashed by tanh on its way to the env (Brax's PPO policy): the memory
    keeps the pre-tanh actions, whose log-probs need no atanh; log-probs and entropy include the
    tanh's change of volume (the entropy's from one reparameterised sample, as Brax estimates it)."""

    @staticmethod
    def log_det(pre: torch.Tensor) -> torch.Tensor:
        """log |d tanh(u) / du| per dimension, in a form that stays finite for large |u|."""
        return 2.0 * (math.log(2.0) - pre - F.softplus(-2.0 * pre))

    def log_prob(self, out: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return super().log_prob(out, actions) - self.log_det(actions).sum(-1)

    def entropy(self, out: torch.Tensor) -> torch.Tensor:
        return super().entropy(out) + self.log_det(super().sample(out)).sum(-1)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        squashed = np.tanh(actions)
        if not self.bounded:
            return squashed.reshape(-1, *self.shape)
        return self.rescale(squashed).reshape(-1, *self.shape)


class Beta(Continuous):
    """Beta(a, b) per dimension on [0, 1] (Chou et al. 2017), a, b = 1 + softplus(outputs) so the
    density is unimodal; actions map linearly onto the env's bounds."""

    def __init__(self, space: gym.spaces.Box) -> None:
        super().__init__(space)
        if not self.bounded:
            raise SpecError(
                "Beta needs an action space with finite bounds",
                "agent.algorithm.action_pdtype",
                ["Normal", "MultivariateNormal"],
            )
        self.param_dim = 2 * self.action_dim

    @staticmethod
    def concentrations(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = out.chunk(2, -1)
        return 1.0 + F.softplus(a), 1.0 + F.softplus(b)

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        a, b = self.concentrations(out)
        return torch.distributions.Beta(a, b).sample().clamp(BETA_EPS, 1 - BETA_EPS)

    def greedy(self, out: torch.Tensor) -> torch.Tensor:
        a, b = self.concentrations(out)
        return a / (a + b)

    def log_prob(self, out: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        a, b = self.concentrations(out)
        x = actions.clamp(BETA_EPS, 1 - BETA_EPS)
        log_norm = torch.lgamma(a + b) - torch.lgamma(a) - torch.lgamma(b)
        return (log_norm + (a - 1) * x.log() + (b - 1) * torch.log1p(-x)).sum(-1)

    def entropy(self, out: torch.Tensor) -> torch.Tensor:
        a, b = self.concentrations(out)
        log_beta = torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)
        total = a + b
        ent = (
            log_beta
            - (a - 1) * torch.digamma(a)
            - (b - 1) * torch.digamma(b)
            + (total - 2) * torch.digamma(total)
        )
        return ent.sum(-1)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        return self.rescale(2.0 * actions - 1.0).reshape(-1, *self.shape)


class MultivariateNormal(Continuous):
    """A Gaussian with full covariance: the net gives the mean and a lower-triangular Cholesky
    factor (softplus on its diagonal), so actions may correlate across dimensions."""

    def __init__(self, space: gym.spaces.Box) -> None:
        super().__init__(space)
        d = self.action_dim
        self.param_dim = d + d * (d + 1) // 2
        self.rows, self.cols = torch.tril_indices(d, d)

    def dist(self, out: torch.Tensor) -> torch.distributions.MultivariateNormal:
        d = self.action_dim
        mean, flat = out[..., :d], out[..., d:]
        tril = out.new_zeros(*out.shape[:-1], d, d)
        tril[..., self.rows, self.cols] = flat
        diag = F.softplus(tril.diagonal(dim1=-2, dim2=-1)) + BETA_EPS
        tril = tril.tril(-1) + torch.diag_embed(diag)
        return torch.distributions.MultivariateNormal(mean, scale_tril=tril)

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        return self.dist(out).sample()

    def greedy(self, out: torch.Tensor) -> torch.Tensor:
        return out[..., : self.action_dim]

    def log_prob(self, out: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.dist(out).log_prob(actions)

    def entropy(self, out: torch.Tensor) -> torch.Tensor:
        return self.dist(out).entropy()


class LocScale(Continuous):
    """A location and a log scale per dimension from the net, the log scale clamped to
    [LOG_SCALE_MIN, LOG_SCALE_MAX]; with `net.log_std_init` the log scale is a learnt parameter."""

    def __init__(self, space: gym.spaces.Box) -> None:
        super().__init__(space)
        self.param_dim = 2 * self.action_dim

    @staticmethod
    def split(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loc, log_scale = out.chunk(2, -1)
        return loc, log_scale.clamp(LOG_SCALE_MIN, LOG_SCALE_MAX)


class Gumbel(LocScale):
    """Gumbel(loc, scale) per dimension: density exp(-(z + exp(-z))) / scale, z = (x - loc) / scale;
    the greedy action is its mode, loc."""

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        loc, log_scale = self.split(out)
        noise = -torch.empty_like(loc).exponential_().log()  # -log(Exp(1)) is Gumbel(0, 1)
        return loc + log_scale.exp() * noise

    def greedy(self, out: torch.Tensor) -> torch.Tensor:
        return self.split(out)[0]

    def log_prob(self, out: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        loc, log_scale = self.split(out)
        z = (actions - loc) * (-log_scale).exp()
        return (-(z + (-z).exp()) - log_scale).sum(-1)

    def entropy(self, out: torch.Tensor) -> torch.Tensor:
        return (self.split(out)[1] + 1.0 + EULER_GAMMA).sum(-1)


class LogNormal(LocScale):
    """exp(Normal(loc, scale)) per dimension, so actions are positive; the greedy action is its
    mode, exp(loc - scale^2)."""

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        loc, log_scale = self.split(out)
        return (loc + log_scale.exp() * torch.randn_like(loc)).exp()

    def greedy(self, out: torch.Tensor) -> torch.Tensor:
        loc, log_scale = self.split(out)
        return (loc - (2 * log_scale).exp()).exp()

    def log_prob(self, out: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        loc, log_scale = self.split(out)
        log_x = actions.clamp(min=POSITIVE_EPS).log()
        z = (log_x - loc) * (-log_scale).exp()
        return (-0.5 * z.square() - log_scale - 0.5 * LOG_2PI - log_x).sum(-1)

    def entropy(self, out: torch.Tensor) -> torch.Tensor:
        loc, log_scale = self.split(out)
        return (loc + 0.5 + 0.5 * LOG_2PI + log_scale).sum(-1)


class MultiCategorical:
    """One Categorical per dimension of a MultiDiscrete space, each with its own logits."""

    continuous = False

    def __init__(self, space: gym.spaces.MultiDiscrete) -> None:
        self.sizes = [int(n) for n in np.asarray(space.nvec).ravel()]
        self.param_dim = sum(self.sizes)
        self.action_dim = len(self.sizes)
        self.shape = space.shape

    def parts(self, out: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return out.split(self.sizes, -1)

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        return torch.stack([Categorical.sample(p) for p in self.parts(out)], -1)

    def greedy(self, out: torch.Tensor) -> torch.Tensor:
        return torch.stack([p.argmax(-1) for p in self.parts(out)], -1)

    def log_prob(self, out: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        logps = [Categorical.log_prob(p, actions[..., i]) for i, p in enumerate(self.parts(out))]
        return torch.stack(logps, -1).sum(-1)

    def entropy(self, out: torch.Tensor) -> torch.Tensor:
        return torch.stack([Categorical.entropy(p) for p in self.parts(out)], -1).sum(-1)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        return actions.astype(np.int64, copy=False).reshape(-1, *self.shape)


class Bernoulli:
    """Independent binary actions (MultiBinary) from one logit each."""

    continuous = False

    def __init__(self, space: gym.spaces.MultiBinary) -> None:
        self.shape = space.shape
        self.param_dim = self.action_dim = int(np.prod(space.shape))

    @staticmethod
    def sample(logits: torch.Tensor) -> torch.Tensor:
        return (torch.rand_like(logits) < logits.sigmoid()).float()

    @staticmethod
    def greedy(logits: torch.Tensor) -> torch.Tensor:
        return (logits > 0).float()

    @staticmethod
    def log_prob(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        bce = F.binary_cross_entropy_with_logits(logits, actions.float(), reduction="none")
        return -bce.sum(-1)

    @staticmethod
    def entropy(logits: torch.Tensor) -> torch.Tensor:
        p = logits.sigmoid()
        return F.binary_cross_entropy_with_logits(logits, p, reduction="none").sum(-1)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        return actions.astype(np.int8).reshape(-1, *self.shape)


PDTYPES = {
    gym.spaces.Discrete: {
        "default": Categorical,
        "Categorical": Categorical,
        "Argmax": Argmax,
        "GumbelSoftmax": GumbelSoftmax,
    },
    gym.spaces.Box: {
        "default": Normal,
        "Normal": Normal,
        "NormalTanh": NormalTanh,
        "Beta": Beta,
        "MultivariateNormal": MultivariateNormal,
        "Gumbel": Gumbel,
        "LogNormal": LogNormal,
    },
    gym.spaces.MultiDiscrete: {"default": MultiCategorical, "MultiCategorical": MultiCategorical},
    gym.spaces.MultiBinary: {"default": Bernoulli, "Bernoulli": Bernoulli},
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
