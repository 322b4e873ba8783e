"""The training loop on a real env and agent: the clock, the tracker, the hooks' cadence, a stop
request; and the play loop of evaluation and enjoy."""

import signal

import numpy as np
import pytest

from slm_lab.env.vec_env import ReturnTracker
from slm_lab.experiment import interrupt, loop
from test.conftest import make_agent, tiny_ppo
from test.env.test_vec_env import COUNTER


class Recorder:
    """Hooks that note the frame of every call; rows every 8 frames, evaluations every 12."""

    def __init__(self, clock: loop.Clock, row_every: int = 8, eval_every: int = 12) -> None:
        self.clock, self.row_every, self.eval_every = clock, row_every, eval_every
        self.calls: list[tuple[str, int]] = []

    def row_due(self, frame: int) -> bool:
        return frame % self.row_every == 0

    def eval_due(self, frame: int) -> bool:
        return frame % self.eval_every == 0

    def log_row(self) -> None:
        self.calls.append(("row", self.clock.frame))

    def evaluate(self) -> None:
        self.calls.append(("eval", self.clock.frame))

    def checkpoint(self, obs: np.ndarray) -> None:
        self.calls.append(("checkpoint", self.clock.frame))

    def stop(self, obs: np.ndarray) -> None:
        self.calls.append(("stop", self.clock.frame))
        raise interrupt.Interrupted(interrupt.requested())


def counter_agent(max_frame: int):
    raw = tiny_ppo(max_frame=max_frame)
    raw["env"].update(name=COUNTER, max_t=5)  # episodes of 5 steps, reward 1 a step
    raw["agent"]["algorithm"].update(time_horizon=4, minibatch_size=8)
    agent, env = make_agent(raw)
    return agent, env, agent.algorithm.clock


def test_train_ticks_the_clock_feeds_the_tracker_and_calls_the_hooks_when_due():
    agent, env, clock = counter_agent(max_frame=24)
    tracker, hooks = ReturnTracker(env.num_envs), Recorder(clock)
    loop.train(agent, env, clock, tracker, env.reset(seed=0), hooks)
    assert clock.frame == 24 and clock.done  # 12 vector steps of 2 envs
    assert hooks.calls == [
        ("row", 8),
        ("checkpoint", 8),
        ("eval", 12),
        ("checkpoint", 12),
        ("row", 16),
        ("checkpoint", 16),
        ("row", 24),
        ("eval", 24),
        ("checkpoint", 24),
    ]
    assert tracker.episodes == 4 and list(tracker.returns) == [5.0] * 4  # 2 envs, steps 5, 10
    assert agent.algorithm.opt_step == 3 * 2  # 3 rollouts of 4 steps, 2 epochs of 1 minibatch


def test_a_stop_request_reaches_the_hooks_between_steps():
    agent, env, clock = counter_agent(max_frame=1000)
    hooks = Recorder(clock, row_every=10**6, eval_every=10**6)
    real_step = env.step

    def step_then_request(action):
        if clock.frame == 6:  # a SIGTERM arrives during the fourth step
            interrupt.request(signal.SIGTERM)
        return real_step(action)

    env.step = step_then_request
    try:
        with pytest.raises(interrupt.Interrupted):
            loop.train(agent, env, clock, ReturnTracker(2), env.reset(seed=0), hooks)
    finally:
        interrupt.clear()
    assert hooks.calls == [("stop", 8)]  # after that step, before the next


def test_play_acts_greedily_until_enough_episodes_ended():
    agent, env, clock = counter_agent(max_frame=100)
    tracker, steps = ReturnTracker(env.num_envs, window=None), []
    loop.play(agent, env, tracker, env.reset(seed=0), 3, lambda: steps.append(1))
    assert tracker.episodes == 4  # both envs end their episodes on the same step
    assert list(tracker.returns) == [5.0] * 4 and len(steps) == 10
    assert clock.frame == 0 and agent.memory.size == 0  # nothing learnt, nothing stored
