"""Frames for people: an on-screen window (`--render`) and mp4 videos (`enjoy`).

Gymnasium envs draw themselves (`render_mode`). Atari runs on ale-py's native vector env, which
has no renderer: its frames are the newest 84x84 grayscale frame of each observation stack, what
the agent sees, upscaled; on screen, every env of the vector in one grid.
"""

import math
from pathlib import Path

import numpy as np

ATARI_SCALE = 4  # 84x84 -> 336x336 pixels
VIDEO_FPS = 30
GRID_GAP = 2  # pixels between tiles


def atari_frame(obs: np.ndarray, scale: int = ATARI_SCALE) -> np.ndarray:
    """The newest frame of one stacked observation (frames, 84, 84) as an RGB image."""
    frame = np.repeat(np.repeat(obs[-1], scale, 0), scale, 1)
    return np.stack([frame] * 3, -1)


def grid(frames: list[np.ndarray]) -> np.ndarray:
    """Tile equally sized RGB frames into a near-square grid, row by row."""
    n = len(frames)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    h, w, c = frames[0].shape
    out = np.zeros(
        (rows * (h + GRID_GAP) - GRID_GAP, cols * (w + GRID_GAP) - GRID_GAP, c), np.uint8
    )
    for i, frame in enumerate(frames):
        r, col = divmod(i, cols)
        top, left = r * (h + GRID_GAP), col * (w + GRID_GAP)
        out[top : top + h, left : left + w] = frame
    return out


class Screen:
    """A pygame window showing RGB frames as they come."""

    def __init__(self, title: str) -> None:
        import pygame

        self.pygame = pygame
        pygame.init()
        pygame.display.set_caption(title)
        self.surface = None

    def show(self, frame: np.ndarray) -> None:
        pg = self.pygame
        if self.surface is None:
            self.surface = pg.display.set_mode((frame.shape[1], frame.shape[0]))
        pg.event.pump()  # keep the window responsive
        pg.surfarray.blit_array(self.surface, frame.swapaxes(0, 1))
        pg.display.flip()

    def close(self) -> None:
        self.pygame.quit()


class Video:
    """An mp4 file written frame by frame (imageio with its bundled ffmpeg)."""

    def __init__(self, path: Path, fps: int = VIDEO_FPS) -> None:
        import imageio.v2 as imageio

        self.path = path
        # macro_block_size 1: keep the frame size as it is (no resizing to multiples of 16)
        self.writer = imageio.get_writer(path, fps=fps, macro_block_size=1)
        self.frames = 0

    def add(self, frame: np.ndarray) -> None:
        self.writer.append_data(frame)
        self.frames += 1

    def close(self) -> None:
        self.writer.close()
