"""Frames for people, checked as arrays (SDL's dummy driver stands in for a screen)."""

import numpy as np

from slm_lab.env import render
from slm_lab.env.vec_env import VecEnv
from slm_lab.spec.validate import Validator, check_env
from test.conftest import env_spec


def test_grid_tiles_frames_row_by_row():
    frames = [np.full((2, 3, 3), i, np.uint8) for i in range(1, 6)]
    out = render.grid(frames)
    gap = render.GRID_GAP
    assert out.shape == (2 * 2 + gap, 3 * 3 + 2 * gap, 3)  # 5 frames: 3 columns, 2 rows
    assert out[0, 0, 0] == 1 and out[0, 3 + gap, 0] == 2 and out[2 + gap, 0, 0] == 4
    assert out[2 + gap, 2 * (3 + gap), 0] == 0  # the sixth tile is empty


def test_atari_frame_is_the_newest_frame_upscaled_to_rgb():
    obs = np.zeros((4, 84, 84), np.uint8)
    obs[-1, 10, 20] = 200
    frame = render.atari_frame(obs)
    s = render.ATARI_SCALE
    assert frame.shape == (84 * s, 84 * s, 3) and frame.dtype == np.uint8
    assert (frame[10 * s : 11 * s, 20 * s : 21 * s] == 200).all() and frame.sum() == 200 * 3 * s * s


def test_gymnasium_env_draws_env_zero():
    spec = env_spec(name="CartPole-v1", num_envs=2, max_frame=100, vectorization_mode="sync")
    env = VecEnv(spec, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.frame()
    assert frame.shape == (400, 600, 3) and frame.dtype == np.uint8
    assert len(np.unique(frame)) > 2  # a cart and a pole on a white background
    env.close()


def test_screen_shows_frames_at_their_size():
    screen = render.Screen("test")
    frame = np.zeros((30, 40, 3), np.uint8)
    frame[5, 7] = (255, 0, 0)
    screen.show(frame)
    shown = screen.pygame.surfarray.array3d(screen.surface).swapaxes(0, 1)
    np.testing.assert_array_equal(shown, frame)
    screen.close()


def test_video_writes_a_readable_mp4(tmp_path):
    import imageio.v3 as iio

    video = render.Video(tmp_path / "v.mp4")
    for i in range(12):
        video.add(np.full((64, 48, 3), i * 20, np.uint8))
    video.close()
    frames = iio.imread(tmp_path / "v.mp4")
    assert frames.shape == (12, 64, 48, 3)
    assert abs(int(frames[-1].mean()) - 220) < 8  # lossy, but the last frame is the bright one


def test_atari_render_shows_every_env_in_a_grid():
    spec = {"name": "ALE/Pong-v5", "max_frame": 100}
    full = check_env({**spec, "num_envs": 4}, Validator())
    env = VecEnv(full, render_mode="human")
    obs = env.reset(seed=0)
    obs = env.step(np.zeros(4, np.int64))[0]
    side = 84 * render.ATARI_SCALE
    shown = env.screen.pygame.surfarray.array3d(env.screen.surface).swapaxes(0, 1)
    assert shown.shape == (2 * side + render.GRID_GAP, 2 * side + render.GRID_GAP, 3)
    np.testing.assert_array_equal(shown[:side, :side], render.atari_frame(obs[0]))
    np.testing.assert_array_equal(env.frame(), render.atari_frame(obs[0]))
    env.close()
