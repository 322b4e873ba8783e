"""Atari on a real ROM: observations, frame stacks across resets, life loss and full-game scores."""

import re

import numpy as np
import pytest

from slm_lab.env.vec_env import ReturnTracker, VecEnv
from slm_lab.lib.errors import SpecError
from slm_lab.spec.validate import validate

SEED = 0
STEP_LIMIT = 5000  # vector steps before a test gives up waiting for a game over


def atari_env(name: str = "ALE/Breakout-v5", num_envs: int = 2, **env) -> VecEnv:
    env = {"name": name, **env}
    spec = {
        "agent": {
            "algorithm": {"name": "PPO"},
            "memory": {"name": "OnPolicyBatchReplay"},
            "net": {"type": "ConvNet"},
        },
        "env": {"num_envs": num_envs, "max_frame": 10**6, **env},
        "meta": {},
    }
    full, _ = validate(spec)
    return VecEnv(full["env"])


def play(env: VecEnv, steps: int, seed: int = SEED, tracker: ReturnTracker | None = None):
    """Uniform random actions; yields each step's (obs, reward, terminated, truncated, next_obs),
    its scores fed to `tracker` first."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    for _ in range(steps):
        step = env.step(rng.integers(0, env.action_space.n, env.num_envs))
        if tracker is not None:
            tracker.add(step.score, step.ended)
        yield step[:5]


def test_observations_are_stacked_uint8_frames():
    env = atari_env(num_envs=3)
    obs = env.reset(seed=SEED)
    assert obs.shape == (3, 4, 84, 84) and obs.dtype == np.uint8
    assert env.observation_space.shape == (4, 84, 84)
    assert env.frame_stack == 4
    # a fresh game: the three older frames of the stack are zero padding
    assert not obs[:, :3].any() and obs[:, 3].any()
    env.close()


def game_over(step: tuple) -> bool:
    return bool(step[2][0] or step[3][0])


def test_frame_stack_restarts_with_each_game():
    env = atari_env(num_envs=1, life_loss_info=False)
    step = next((s for s in play(env, STEP_LIMIT) if game_over(s)), None)
    assert step is not None, "no game over in time"
    obs, next_obs = step[0], step[4]
    assert next_obs[0].reshape(4, -1).any(1).all()  # the last stack of the game: four real frames
    assert not obs[0, :3].any() and obs[0, 3].any()  # the next game's first: nothing carried over
    env.close()


def test_life_loss_ends_the_learning_episode_not_the_game():
    env, tracker = atari_env(num_envs=1), ReturnTracker(1)  # Breakout: 5 lives
    lives_lost, episodes_at_loss, step = 0, [], None
    for step in play(env, STEP_LIMIT, tracker=tracker):
        obs, _, terminated, _, next_obs = step
        if tracker.episodes:  # the game is over
            break
        if terminated[0]:
            lives_lost += 1
            episodes_at_loss.append(tracker.episodes)
            np.testing.assert_array_equal(obs, next_obs)  # the game went on: no reset
    assert tracker.episodes == 1, "no game over in time"
    assert step[2][0] and not step[3][0]  # the last life ends the game
    assert lives_lost == 4  # four earlier lives, each a learning episode end
    assert episodes_at_loss == [0, 0, 0, 0]  # none of them counted as a finished game
    env.close()


def test_scores_are_raw_full_games_while_learning_rewards_are_clipped():
    env = atari_env("ALE/SpaceInvaders-v5", num_envs=1)  # 5 to 30 points an alien, 3 lives
    tracker = ReturnTracker(1)
    clipped_total, deaths = 0.0, 0
    for _, reward, terminated, _, _ in play(env, STEP_LIMIT, tracker=tracker):
        clipped_total += float(reward[0])
        deaths += int(terminated[0])
        assert -1.0 <= reward[0] <= 1.0
        if tracker.episodes:
            break
    raw_total = tracker.returns[-1]
    assert raw_total > clipped_total > 0  # some alien was worth more than 1 point
    assert raw_total % 5 == 0  # Space Invaders scores in multiples of 5
    assert deaths == 3  # each life ended a learning episode; one game scored
    env.close()


def test_preprocessing_settings_are_overridable():
    env = atari_env(num_envs=1, repeat_action_probability=0.0, frame_stack=2, noop_max=0)
    obs = env.reset(seed=SEED)
    assert obs.shape == (1, 2, 84, 84) and env.frame_stack == 2
    env.close()


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"vectorization_mode": "sync"}, "env.vectorization_mode: Atari envs run on ale-py's"),
        ({"name": "ALE/Pongg-v5"}, "did you mean 'ALE/Pong-v5'?"),
        ({"repeat_action_probability": 1.5}, "must be <= 1.0, got 1.5"),
        ({"frame_stack": 0}, "env.frame_stack: must be >= 1"),
    ],
)
def test_bad_atari_settings_are_refused(env: dict, fragment: str):
    with pytest.raises(SpecError, match=re.escape(fragment)):
        atari_env(**env)


def test_misspelt_atari_key_warns_with_a_suggestion():
    spec = {
        "agent": {
            "algorithm": {"name": "PPO"},
            "memory": {"name": "OnPolicyBatchReplay"},
            "net": {"type": "ConvNet"},
        },
        "env": {"name": "ALE/Pong-v5", "max_frame": 10, "frame_skip": 4},
        "meta": {},
    }
    _, warnings = validate(spec)
    assert warnings == ["env.frame_skip: unknown key, ignored; did you mean frameskip?"]
