"""The frame clock and the two loops every run goes through.

`train`: act -> step -> store -> learn, one vector step at a time, until the clock's max_frame;
between steps, the session's hooks (a log row, an evaluation, a checkpoint, a stop request).
`play`: act -> step with no learning, until enough episodes ended (evaluation, enjoy).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Protocol

import numpy as np

from slm_lab.experiment import interrupt


@dataclass
class Clock:
    """Frames = vector steps x num_envs, ticked by the training loop alone; wall time of the
    session (resumed sessions move `start` back by the time already spent)."""

    max_frame: int
    num_envs: int
    frame: int = 0
    start: float = field(default_factory=perf_counter)

    def tick(self) -> None:
        self.frame += self.num_envs

    @property
    def wall_t(self) -> float:
        return perf_counter() - self.start

    @property
    def done(self) -> bool:
        return self.frame >= self.max_frame


class Hooks(Protocol):
    """What the session does between training steps (slm_lab/experiment/session.py)."""

    def row_due(self, frame: int) -> bool: ...  # the next log row's frame has come

    def log_row(self) -> None: ...  # a row of the session table

    def eval_due(self, frame: int) -> bool: ...

    def evaluate(self) -> None: ...  # greedy episodes on the evaluation env

    def checkpoint(self, obs: np.ndarray) -> None: ...  # the resume file, when worth its cost

    def stop(self, obs: np.ndarray) -> None: ...  # save everything and leave


def train(agent, env, clock: Clock, tracker, obs: np.ndarray, hooks: Hooks) -> np.ndarray:
    """Train until max_frame; returns the observations to act on next."""
    while not clock.done:
        action = agent.act(obs)
        step = env.step(agent.to_env(action))
        clock.tick()
        tracker.add(step.score, step.ended)
        agent.store(obs, action, step.reward, step.next_obs, step.terminated, step.truncated)
        agent.learn()
        obs = step.obs
        row, evaluation = hooks.row_due(clock.frame), hooks.eval_due(clock.frame)
        if row:
            hooks.log_row()
        if evaluation:
            hooks.evaluate()
        if row or evaluation:
            hooks.checkpoint(obs)
        if interrupt.requested():
            hooks.stop(obs)
    return obs


def play(
    agent,
    env,
    tracker,
    obs: np.ndarray,
    episodes: int,
    on_step: Callable[[], None] | None = None,
) -> np.ndarray:
    """Greedy actions until `episodes` episodes ended (counted by the tracker); `on_step` after
    each step (enjoy records a video frame)."""
    while tracker.episodes < episodes:
        step = env.step(agent.to_env(agent.act(obs, explore=False)))
        tracker.add(step.score, step.ended)
        obs = step.obs
        if on_step is not None:
            on_step()
    return obs
