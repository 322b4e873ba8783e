"""Action distributions: log-probs and entropies against torch.distributions, sampling
frequencies, greedy actions, and the mapping of stored actions onto the env's action space."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import distributions as D

from slm_lab.lib.distribution import (
    Argmax,
    Bernoulli,
    Beta,
    Categorical,
    Gumbel,
    GumbelSoftmax,
    LogNormal,
    MultiCategorical,
    MultivariateNormal,
    Normal,
    action_pd,
)
from slm_lab.lib.errors import SpecError

BATCH = 6
TOL = 1e-5
DRAWS = 20_000

BOX = gym.spaces.Box(
    low=np.array([-2.0, 0.0], np.float32), high=np.array([2.0, 10.0], np.float32), dtype=np.float32
)


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(0)


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, atol=TOL, rtol=TOL)


@pytest.mark.parametrize("cls", [Categorical, GumbelSoftmax])
def test_categorical_matches_torch(cls):
    pd = cls(gym.spaces.Discrete(4))
    logits = torch.randn(BATCH, 4)
    ref = D.Categorical(logits=logits)
    actions = ref.sample()
    close(pd.log_prob(logits, actions), ref.log_prob(actions))
    close(pd.entropy(logits), ref.entropy())
    assert pd.greedy(logits).tolist() == logits.argmax(-1).tolist()


def test_categorical_sample_frequencies():
    logits = torch.tensor([[0.0, 1.0, 2.0]]).expand(DRAWS, 3)
    freq = torch.bincount(Categorical.sample(logits), minlength=3).float() / DRAWS
    close_enough = torch.allclose(freq, logits[0].softmax(-1), atol=0.02)
    assert close_enough, freq


def test_argmax_always_takes_the_best():
    logits = torch.randn(BATCH, 5)
    assert Argmax.sample(logits).tolist() == logits.argmax(-1).tolist()


def test_gumbel_softmax_rsample_is_one_hot_and_differentiable():
    logits = torch.randn(BATCH, 3, requires_grad=True)
    onehot = GumbelSoftmax.rsample(logits)
    assert onehot.sum(-1).tolist() == [1.0] * BATCH
    assert set(onehot.unique().tolist()) <= {0.0, 1.0}
    (onehot * torch.arange(3.0)).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_normal_matches_torch_summed_over_dims():
    pd = Normal(BOX)
    out = torch.randn(BATCH, 4) / 2  # log std inside the clamp range [-20, 2]
    mean, log_std = out.chunk(2, -1)
    ref = D.Independent(D.Normal(mean, log_std.exp()), 1)
    actions = ref.sample()
    close(pd.log_prob(out, actions), ref.log_prob(actions))
    close(pd.entropy(out), ref.entropy())
    close(pd.greedy(out), mean)


def test_normal_sample_moments():
    pd = Normal(gym.spaces.Box(-1.0, 1.0, (1,)))
    out = torch.tensor([[0.5, np.log(0.2)]]).expand(DRAWS, 2)
    x = pd.sample(out)
    assert abs(x.mean().item() - 0.5) < 0.01 and abs(x.std().item() - 0.2) < 0.01


def test_beta_matches_torch():
    pd = Beta(BOX)
    out = torch.randn(BATCH, 4)
    a, b = (1 + torch.nn.functional.softplus(x) for x in out.chunk(2, -1))
    ref = D.Independent(D.Beta(a, b), 1)
    actions = ref.sample().clamp(0.01, 0.99)
    close(pd.log_prob(out, actions), ref.log_prob(actions))
    close(pd.entropy(out), ref.entropy())
    samples = pd.sample(out)
    assert ((samples > 0) & (samples < 1)).all()


ONE = gym.spaces.Box(-1.0, 1.0, (1,))
EULER = 0.5772156649015329


def test_gumbel_by_hand():
    """loc 1, scale e (log scale 1): at x = 1 + e, z = 1 and log p = -(1 + 1/e) - 1."""
    pd = Gumbel(ONE)
    out = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    actions = torch.tensor([[1.0 + np.e], [0.0]])
    close(pd.log_prob(out, actions), torch.tensor([-(1 + 1 / np.e) - 1, -1.0]))
    close(pd.entropy(out), torch.tensor([1 + 1 + EULER, 1 + EULER]))
    close(pd.greedy(out), torch.tensor([[1.0], [0.0]]))  # the mode


def test_lognormal_by_hand():
    """loc 0, scale 1: at x = e, log p = -1/2 - 0 - log(2 pi)/2 - 1; entropy 1/2 + log(2 pi)/2;
    mode exp(loc - scale^2): exp(-1); loc 1, scale e^0.5: exp(1 - e)."""
    pd = LogNormal(ONE)
    out = torch.tensor([[0.0, 0.0], [1.0, 0.5]])
    log_2pi = float(np.log(2 * np.pi))
    actions = torch.tensor([[float(np.e)], [1.0]])
    # second row: log x = 0, z = -1 / e^0.5, log p = -1/(2e) - 0.5 - log(2 pi)/2
    expected = torch.tensor([-0.5 - 0.5 * log_2pi - 1, -0.5 / np.e - 0.5 - 0.5 * log_2pi])
    close(pd.log_prob(out, actions), expected)
    close(pd.entropy(out), torch.tensor([0.5 + 0.5 * log_2pi, 1 + 0.5 + 0.5 * log_2pi + 0.5]))
    close(pd.greedy(out), torch.tensor([[float(np.exp(-1))], [float(np.exp(1 - np.e))]]))


@pytest.mark.parametrize(("cls", "ref_cls"), [(Gumbel, D.Gumbel), (LogNormal, D.LogNormal)])
def test_loc_scale_match_torch_summed_over_dims(cls, ref_cls):
    pd = cls(BOX)
    out = torch.randn(BATCH, 4) / 2
    loc, log_scale = out.chunk(2, -1)
    ref = D.Independent(ref_cls(loc, log_scale.exp()), 1)
    actions = ref.sample()
    close(pd.log_prob(out, actions), ref.log_prob(actions))
    close(pd.entropy(out), ref.entropy())


@pytest.mark.parametrize(("cls", "ref_cls"), [(Gumbel, D.Gumbel), (LogNormal, D.LogNormal)])
def test_loc_scale_sample_moments(cls, ref_cls):
    out = torch.tensor([[0.3, np.log(0.5)]]).expand(DRAWS, 2)
    x = cls(ONE).sample(out)
    ref = ref_cls(torch.tensor(0.3), torch.tensor(0.5))
    assert x.mean().item() == pytest.approx(ref.mean.item(), abs=0.02)
    assert x.std().item() == pytest.approx(ref.stddev.item(), rel=0.05)


def test_loc_scale_clamps_the_log_scale_as_the_original():
    """The original lab clamps every continuous log scale to [-5, 2] before exp."""
    pd = Gumbel(ONE)
    wide = torch.tensor([[0.0, 10.0], [0.0, -10.0]])
    close(pd.entropy(wide), torch.tensor([2 + 1 + EULER, -5 + 1 + EULER]))


def test_beta_needs_bounds():
    with pytest.raises(SpecError, match="finite bounds"):
        Beta(gym.spaces.Box(-np.inf, np.inf, (2,)))


def test_multivariate_normal_matches_torch():
    pd = MultivariateNormal(BOX)
    assert pd.param_dim == 2 + 3
    out = torch.randn(BATCH, pd.param_dim)
    dist = pd.dist(out)
    tril = dist.scale_tril
    assert (tril.diagonal(dim1=-2, dim2=-1) > 0).all()
    assert tril.triu(1).abs().sum() == 0
    ref = D.MultivariateNormal(out[:, :2], covariance_matrix=tril @ tril.transpose(-1, -2))
    actions = ref.sample()
    close(pd.log_prob(out, actions), ref.log_prob(actions))
    close(pd.entropy(out), ref.entropy())


def test_multi_categorical_sums_its_parts():
    pd = MultiCategorical(gym.spaces.MultiDiscrete([3, 2]))
    out = torch.randn(BATCH, 5)
    parts = [D.Categorical(logits=out[:, :3]), D.Categorical(logits=out[:, 3:])]
    actions = torch.stack([p.sample() for p in parts], -1)
    close(pd.log_prob(out, actions), sum(p.log_prob(actions[:, i]) for i, p in enumerate(parts)))
    close(pd.entropy(out), sum(p.entropy() for p in parts))
    assert pd.sample(out).shape == (BATCH, 2)
    assert pd.to_env(pd.greedy(out).numpy()).dtype == np.int64


def test_bernoulli_matches_torch():
    pd = Bernoulli(gym.spaces.MultiBinary(3))
    logits = torch.randn(BATCH, 3)
    ref = D.Independent(D.Bernoulli(logits=logits), 1)
    actions = ref.sample()
    close(pd.log_prob(logits, actions), ref.log_prob(actions))
    close(pd.entropy(logits), ref.entropy())
    assert pd.greedy(logits).tolist() == (logits > 0).float().tolist()


def test_continuous_actions_rescaled_to_the_env_bounds():
    pd = Normal(BOX)
    unit = np.array([[-1.0, -1.0], [0.0, 0.0], [1.0, 1.0], [5.0, -5.0]], np.float32)
    env = pd.to_env(unit)
    np.testing.assert_allclose(env, [[-2, 0], [0, 5], [2, 10], [2, 0]])  # clipped outside
    assert BOX.contains(env[0]) and BOX.contains(env[3])
    beta = Beta(BOX)
    np.testing.assert_allclose(
        beta.to_env(np.array([[0.0, 0.5], [1.0, 0.25]])), [[-2, 5], [2, 2.5]]
    )


def test_unbounded_actions_pass_through():
    pd = Normal(gym.spaces.Box(-np.inf, np.inf, (2,)))
    actions = np.array([[7.0, -9.0]], np.float32)
    np.testing.assert_array_equal(pd.to_env(actions), actions)


@pytest.mark.parametrize(
    ("space", "name", "cls"),
    [
        (gym.spaces.Discrete(2), "default", Categorical),
        (BOX, "default", Normal),
        (BOX, "Beta", Beta),
        (BOX, "Gumbel", Gumbel),
        (BOX, "LogNormal", LogNormal),
        (gym.spaces.MultiDiscrete([2, 2]), "default", MultiCategorical),
        (gym.spaces.MultiBinary(2), "default", Bernoulli),
    ],
)
def test_pdtype_by_space(space, name, cls):
    assert type(action_pd(name, space)) is cls


def test_pdtype_that_does_not_fit_the_space():
    with pytest.raises(SpecError, match="does not fit") as err:
        action_pd("Normal", gym.spaces.Discrete(2))
    assert err.value.path == "agent.algorithm.action_pdtype"
    assert "Categorical" in str(err.value)


def test_normal_tanh_is_a_tanh_squashed_gaussian_on_pre_tanh_actions():
    from slm_lab.lib.distribution import NormalTanh

    pd = action_pd("NormalTanh", BOX)
    assert isinstance(pd, NormalTanh) and pd.param_dim == 4
    out = torch.randn(BATCH, 4) / 2
    mean, log_std = out.chunk(2, -1)
    squashed = D.TransformedDistribution(
        D.Normal(mean, log_std.exp()), [D.transforms.TanhTransform(cache_size=1)]
    )
    pre = pd.sample(out)  # what the memory keeps
    close(pd.log_prob(out, pre), squashed.log_prob(torch.tanh(pre)).sum(-1))
    torch.manual_seed(0)
    outs = out.expand(DRAWS, *out.shape)
    estimate = pd.entropy(outs).mean(0)  # one sample each, averaged
    reference = -pd.log_prob(outs, pd.sample(outs)).mean(0)  # -E[log p], as checked above
    assert torch.allclose(estimate, reference, atol=0.1)
    env = pd.to_env(np.array([[-50.0, 0.0], [50.0, 0.5]], np.float32))
    np.testing.assert_allclose(env, [[-2.0, 5.0], [2.0, 5.0 + 5.0 * np.tanh(0.5)]], rtol=1e-5)
