"""Replay, PrioritizedReplay and OnPolicyReplay on real arrays and real Gymnasium wrappers."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.wrappers import FrameStackObservation, TimeLimit

from slm_lab.agent.memory.base import Layout
from slm_lab.agent.memory.onpolicy import OnPolicyReplay
from slm_lab.agent.memory.replay import PrioritizedReplay, Replay
from slm_lab.experiment.loop import Clock
from slm_lab.lib.errors import ResourceError, SpecError
from slm_lab.spec.validate import validate
from test.conftest import tiny_dqn

BOX = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
TWO = gym.spaces.Discrete(2)


def layout(num_envs=1, obs_space=BOX, frame_stack=1, max_frame=100, rollout=1) -> Layout:
    return Layout(
        num_envs=num_envs,
        obs_space=obs_space,
        action_space=TWO,
        rollout=rollout,
        device=torch.device("cpu"),
        clock=Clock(max_frame, num_envs),
        frame_stack=frame_stack,
    )


def replay(max_size=4, batch_size=4, num_envs=1, cls=Replay, **kw) -> Replay:
    spec = {"batch_size": batch_size, "max_size": max_size, "use_cer": kw.pop("use_cer", False)}
    spec.update(
        alpha=kw.pop("alpha", 1.0),
        epsilon=kw.pop("epsilon", 0.0),
        beta=kw.pop("beta", 0.5),
        importance_sampling=kw.pop("importance_sampling", True),
    )
    return cls(spec, layout(num_envs, **kw))


def step(mem: Replay, i: float, term=False, trunc=False, final=None) -> None:
    """One transition s=i -> s'=i+1 (or s'=final at an episode end), reward i."""
    nxt = i + 1 if final is None else final
    mem.add(
        np.array([[i]], np.float32),
        np.array([int(i) % 2]),
        np.array([i], np.float32),
        np.array([[nxt]], np.float32),
        np.array([term]),
        np.array([trunc]),
    )


def everything(mem: Replay) -> dict[str, np.ndarray]:
    """Every sampleable slot, gathered."""
    items = np.arange(mem.size)
    age, envs = np.divmod(items, mem.envs)
    return mem.gather((mem.head - age) % mem.rows, envs)


def test_wraps_around_and_keeps_the_newest():
    mem = replay(max_size=4)
    for i in range(10):
        step(mem, float(i))
    assert mem.size == 4
    got = everything(mem)
    assert sorted(got["reward"].tolist()) == [6, 7, 8, 9]
    np.testing.assert_array_equal(got["next_obs"][:, 0], got["obs"][:, 0] + 1)
    batch = mem.sample()
    assert set(batch["reward"].tolist()) <= {6.0, 7.0, 8.0, 9.0}
    assert batch["obs"].shape == (4, 1) and batch["obs"].dtype == torch.float32


def test_episode_ends_terminal_and_truncated():
    mem = replay(max_size=8, batch_size=2)
    step(mem, 0.0)
    step(mem, 1.0, term=True, final=99.0)  # next row holds a reset obs: 10
    step(mem, 10.0)
    step(mem, 11.0, trunc=True, final=12.0)  # real last obs 12 is kept aside
    step(mem, 20.0)
    got = everything(mem)
    by_reward = {r: i for i, r in enumerate(got["reward"].tolist())}
    assert got["terminated"][by_reward[1.0]] == 1.0
    assert got["next_obs"][by_reward[11.0], 0] == 12.0  # truncation bootstraps from the real obs
    assert got["next_obs"][by_reward[10.0], 0] == 11.0
    assert got["next_obs"][by_reward[20.0], 0] == 21.0  # the newest transition is complete
    terminal_seen = any(mem.sample()["terminated"].sum() > 0 for _ in range(50))
    assert terminal_seen


def test_kept_aside_observations_are_dropped_with_their_row():
    mem = replay(max_size=2, batch_size=2)
    step(mem, 0.0, trunc=True, final=5.0)
    assert len(mem.finals) == 1
    for i in range(1, 4):
        step(mem, float(i))
    assert mem.finals == {}


def test_cer_puts_the_newest_step_last():
    mem = replay(max_size=100, batch_size=8, use_cer=True)
    for i in range(50):
        step(mem, float(i))
    assert all(mem.sample()["reward"][-1].item() == 49.0 for _ in range(5))


def test_memory_that_cannot_fit_is_refused():
    with pytest.raises(
        ResourceError, match=r"a replay of 100000000000 transitions needs [\d.]+ GiB"
    ):
        replay(max_size=10**11)
    raw = tiny_dqn()
    raw["agent"]["memory"].update(max_size=4, batch_size=8)
    with pytest.raises(SpecError, match="batch_size 8 exceeds max_size 4"):
        validate(raw)


class Pictures(gym.Env):
    """2x2 uint8 'images' counting steps; episodes end at random, some by termination."""

    observation_space = gym.spaces.Box(0, 255, (2, 2), np.uint8)
    action_space = TWO

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = int(self.np_random.integers(0, 100)) * 2  # a distinct start per episode
        return self.obs(), {}

    def obs(self) -> np.ndarray:
        return np.full((2, 2), self.t % 256, np.uint8)

    def step(self, action):
        self.t += 1
        terminated = bool(self.np_random.random() < 0.15)
        return self.obs(), float(self.t), terminated, False, {}


@pytest.mark.parametrize("padding", ["reset", "zero"])
def test_image_stacks_are_rebuilt_exactly(padding: str):
    """Frame stacks from gymnasium's own wrapper, stored as single frames, come back exact."""
    k, num_envs, steps = 4, 3, 300
    envs = [
        FrameStackObservation(TimeLimit(Pictures(), 7), k, padding_type=padding)
        for _ in range(num_envs)
    ]
    space = envs[0].observation_space
    mem = replay(max_size=120, batch_size=8, num_envs=num_envs, obs_space=space, frame_stack=k)
    assert mem.frames.shape[2:] == (2, 2)  # single frames in memory
    obs = np.stack([e.reset(seed=i)[0] for i, e in enumerate(envs)])
    truth = []
    for _ in range(steps):
        action = np.zeros(num_envs, np.int64)
        results = [e.step(0) for e in envs]
        real_next = np.stack([r[0] for r in results])
        term = np.array([r[2] for r in results])
        trunc = np.array([r[3] for r in results])
        reward = np.array([r[1] for r in results], np.float32)
        mem.add(obs, action, reward, real_next, term, trunc)
        truth.append((obs.copy(), real_next.copy(), term, trunc))
        obs = real_next.copy()
        for i, e in enumerate(envs):
            if term[i] or trunc[i]:
                obs[i] = e.reset()[0]
    got = everything(mem)
    for item in range(mem.size):
        age, env = divmod(item, num_envs)
        want_obs, want_next, term, trunc = truth[-1 - age]
        np.testing.assert_array_equal(got["obs"][item], want_obs[env])
        if not term[env]:
            np.testing.assert_array_equal(got["next_obs"][item], want_next[env])
    assert sum(t[3].sum() for t in truth[-40:]) > 0  # truncations were exercised


def test_priorities_and_importance_weights_by_hand():
    mem = replay(max_size=4, batch_size=2, cls=PrioritizedReplay, alpha=1.0, epsilon=0.0, beta=0.5)
    for i in range(4):
        step(mem, float(i))
    assert mem.tree.total == pytest.approx(4.0)  # new items at the max priority, 1
    slots = (np.arange(4) + mem.head - 3) % mem.rows  # one env: slot = row
    mem.idx = slots
    mem.update_priorities(np.array([1.0, 2.0, 3.0, 6.0]))
    # P = p / 12; w = (4 P)^-0.5 normalised by the batch max
    w = mem.weights(slots)
    raw = (4 * np.array([1, 2, 3, 6]) / 12) ** -0.5
    np.testing.assert_allclose(w, raw / raw.max(), rtol=1e-6)
    step(mem, 4.0)  # the new item gets the highest priority seen: 6
    assert mem.tree.get(np.array([mem.head]))[0] == pytest.approx(6.0)
    assert mem.tree.total == pytest.approx(2 + 3 + 6 + 6)  # the oldest (p=1) left the window


def test_beta_anneals_to_one():
    mem = replay(cls=PrioritizedReplay, beta=0.4, max_frame=100)
    assert mem.beta == pytest.approx(0.4)
    mem.clock.frame = 50
    assert mem.beta == pytest.approx(0.7)
    mem.clock.frame = 100
    assert mem.beta == pytest.approx(1.0)


def test_prioritized_sampling_prefers_high_td():
    mem = replay(max_size=10, batch_size=10, cls=PrioritizedReplay, alpha=1.0, epsilon=1e-6)
    for i in range(10):
        step(mem, float(i))
    mem.idx = (np.arange(10) + mem.head - 9) % mem.rows
    mem.update_priorities(np.where(np.arange(10) == 3, 100.0, 0.0))
    batch = mem.sample()
    assert (batch["reward"] == 3.0).float().mean() > 0.9
    assert batch["weight"].max().item() == pytest.approx(1.0)


def test_prioritized_without_importance_sampling_has_no_weights():
    """importance_sampling: false is the original lab's PER: prioritized sampling, no weights."""
    mem = replay(cls=PrioritizedReplay, importance_sampling=False)
    for i in range(4):
        step(mem, float(i))
    batch = mem.sample()
    assert "weight" not in batch and len(batch["reward"]) == 4


def test_prioritized_replay_weights_only_when_asked():
    """The original's PER had no weights: a spec without the key gets none."""
    raw = tiny_dqn()
    raw["agent"]["memory"] = {"name": "PrioritizedReplay"}
    spec, _ = validate(raw)
    assert spec["agent"]["memory"]["importance_sampling"] is False
    raw["agent"]["memory"]["importance_sampling"] = True
    spec, _ = validate(raw)
    assert spec["agent"]["memory"]["importance_sampling"] is True


def test_on_policy_replay_hands_over_whole_episodes():
    mem = OnPolicyReplay({}, layout(num_envs=2, rollout=2))
    ends = [(False, False), (True, False), (False, False), (False, True)]
    ready = []  # whether an on-policy algorithm training on 2 episodes would learn now
    for t, (end0, end1) in enumerate(ends):
        mem.add(
            np.array([[t], [10 + t]], np.float32),
            np.array([0, 1]),
            np.array([t, 10 + t], np.float32),
            np.array([[t + 1], [11 + t]], np.float32),
            np.array([end0, False]),
            np.array([False, end1]),
        )
        ready.append(mem.size >= 2)
    assert ready == [False, False, False, True]
    batch = mem.sample()
    # env 0's first episode (steps 0-1), then env 1's (steps 0-3); env 0's running one stays
    assert batch["reward"].tolist() == [0, 1, 10, 11, 12, 13]
    assert batch["terminated"].tolist() == [0, 1, 0, 0, 0, 0]
    assert batch["truncated"].tolist() == [False, False, False, False, False, True]
    assert batch["next_obs"][:, 0].tolist() == [1, 2, 11, 12, 13, 14]
    assert len(mem.running[0]) == 2 and mem.done == []
