"""RecurrentNet sees its whole window; the env's window never spans two episodes."""

import numpy as np
import pytest
import torch

from slm_lab.agent.net import build_net
from slm_lab.agent.net.recurrent import RecurrentNet
from slm_lab.env.vec_env import VecEnv
from slm_lab.experiment.session import obs_window
from slm_lab.lib.errors import SpecError
from slm_lab.spec.validate import validate
from test.conftest import tiny_ppo

SEQ_LEN = 4
OBS_DIM = 4  # CartPole
NUM_ENVS = 2
BATCH = 3
OUT_DIM = 2
SEED = 0
MAX_STEPS = 600  # a CartPole episode ends well before this
EPS = 0.5


def spec(**net) -> dict:
    raw = tiny_ppo()
    raw["agent"]["net"] = {"type": "RecurrentNet", "seq_len": SEQ_LEN} | net
    return validate(raw)[0]


def make_net(**net) -> RecurrentNet:
    torch.manual_seed(SEED)
    return build_net(spec(**net)["agent"]["net"], (SEQ_LEN, OBS_DIM), [OUT_DIM], [None])


def make_env(window: int = SEQ_LEN) -> VecEnv:
    env_spec = spec()["env"] | {"name": "CartPole-v1", "num_envs": NUM_ENVS}
    return VecEnv(env_spec, window=window)


def out(net: RecurrentNet, window: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return net(torch.as_tensor(window, dtype=torch.float32).unsqueeze(0))


def run_episode(env: VecEnv, action: int):
    """Step with a fixed action until env 0's episode ends; the windows before and at the end."""
    obs = env.reset(seed=SEED)
    actions = np.full(NUM_ENVS, action)
    for _ in range(MAX_STEPS):
        prev = obs
        obs, _, term, trunc, real_next, *_ = env.step(actions)
        if term[0] or trunc[0]:
            return prev[0], obs[0], real_next[0]
    raise AssertionError("episode did not end")


@pytest.mark.parametrize("cell_type", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("fc_hid_layers", [[], [16]])
def test_output_shape(cell_type: str, fc_hid_layers: list[int]):
    net = make_net(cell_type=cell_type, fc_hid_layers=fc_hid_layers)
    assert isinstance(net, RecurrentNet)
    assert net(torch.randn(BATCH, SEQ_LEN, OBS_DIM)).shape == (BATCH, OUT_DIM)


def test_two_heads():
    net = build_net(spec()["agent"]["net"], (SEQ_LEN, OBS_DIM), [OUT_DIM, 1], [0.01, 1.0])
    logits, value = net(torch.randn(BATCH, SEQ_LEN, OBS_DIM))
    assert logits.shape == (BATCH, OUT_DIM) and value.shape == (BATCH, 1)


@pytest.mark.parametrize("cell_type", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("k", range(1, SEQ_LEN))
def test_output_depends_on_observation_k_steps_back(cell_type: str, k: int):
    net = make_net(cell_type=cell_type, fc_hid_layers=[16])
    x = torch.randn(BATCH, SEQ_LEN, OBS_DIM)
    perturbed = x.clone()
    perturbed[:, -1 - k] += EPS
    with torch.no_grad():
        assert not torch.allclose(net(x), net(perturbed))


@pytest.mark.parametrize("in_shape", [(OBS_DIM,), (SEQ_LEN + 1, OBS_DIM), (SEQ_LEN - 1, OBS_DIM)])
def test_wrong_input_shape_is_a_spec_error(in_shape: tuple[int, ...]):
    with pytest.raises(SpecError, match="observation window") as err:
        build_net(spec()["agent"]["net"], in_shape, [OUT_DIM], [None])
    assert err.value.path == "agent.net.type"


def test_obs_window_from_spec():
    assert obs_window(spec()) == SEQ_LEN
    assert obs_window(validate(tiny_ppo())[0]) is None


def test_env_window_zero_padded_at_reset_and_shifts():
    env = make_env()
    assert env.observation_space.shape == (SEQ_LEN, OBS_DIM)
    assert env.frame_stack == 1
    obs = env.reset(seed=SEED)
    assert obs.shape == (NUM_ENVS, SEQ_LEN, OBS_DIM)
    assert not obs[:, :-1].any() and obs[:, -1].all()
    nxt, *_ = env.step(np.zeros(NUM_ENVS, np.int64))
    assert not nxt[:, :-2].any()
    np.testing.assert_array_equal(nxt[:, -2], obs[:, -1])  # oldest first
    env.close()


def test_env_window_does_not_cross_episode_start():
    env = make_env()
    prev, obs, final = run_episode(env, action=0)
    assert not obs[:-1].any() and obs[-1].all()  # the new episode's window, nothing older
    np.testing.assert_array_equal(final[:-1], prev[1:])  # the old episode's last window
    assert final.all()  # wholly from the old episode: longer than the window
    env.close()


def test_net_after_episode_start_ignores_previous_episode():
    net = make_net(fc_hid_layers=[16])
    # CartPole draws only its resets at random, so the same seed gives both envs the same second
    # episode start after previous episodes that differ
    env_a, env_b = make_env(), make_env()
    _, start_a, final_a = run_episode(env_a, action=0)
    _, start_b, final_b = run_episode(env_b, action=1)
    assert not np.array_equal(final_a, final_b)
    assert torch.equal(out(net, start_a), out(net, start_b))
    leaky = np.concatenate([final_a[1:], start_a[-1:]])  # a window that kept the old episode
    assert not torch.allclose(out(net, start_a), out(net, leaky))

    step = np.zeros(NUM_ENVS, np.int64)
    win_a, win_b = env_a.step(step)[0][0], env_b.step(step)[0][0]
    assert torch.equal(out(net, win_a), out(net, win_b))
    changed = win_a.copy()
    changed[-2] += EPS  # the new episode's first observation, still in the window
    assert not torch.allclose(out(net, win_a), out(net, changed))
    env_a.close()
    env_b.close()


@pytest.mark.parametrize("cell_type", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layers", [1, 2])
def test_bidirectional_reads_the_window_both_ways(cell_type: str, layers: int):
    """The body gives both directions' final hidden states: forward after the newest step,
    backward after the oldest (h_n of the last layer), 2 x rnn_hidden_size wide."""
    hidden = 8
    net = make_net(
        cell_type=cell_type, bidirectional=True, rnn_hidden_size=hidden, rnn_num_layers=layers
    )
    assert net.body.rnn.bidirectional and net.heads[0].in_features == 2 * hidden
    x = torch.randn(BATCH, SEQ_LEN, OBS_DIM)
    with torch.no_grad():
        _, h_n = net.body.rnn(x)
        h_n = h_n[0] if cell_type == "LSTM" else h_n
        torch.testing.assert_close(net.body(x), torch.cat([h_n[-2], h_n[-1]], -1))
        for k in range(SEQ_LEN):
            perturbed = x.clone()
            perturbed[:, k] += EPS
            assert not torch.allclose(net(x), net(perturbed))
    assert not make_net(cell_type=cell_type).body.rnn.bidirectional  # off by default
