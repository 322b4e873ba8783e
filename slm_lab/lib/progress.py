"""Training progress: a live bar on a terminal, plain checkpoint lines otherwise."""

import math
import sys
from time import perf_counter

from loguru import logger

BAR_WIDTH = 24
PLAIN_INTERVAL_S = 10.0  # at most one plain line per session this often (plus the last)


def fmt_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "--:--"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class Progress:
    def __init__(self, label: str, max_frame: int, live: bool) -> None:
        self.label = label
        self.max_frame = max_frame
        self.live = live
        self.last_line = -math.inf

    def line(self, row: dict) -> str:
        frame, wall = row["frame"], row["wall_t"]
        eta = (self.max_frame - frame) * wall / frame if frame else math.inf
        return (
            f"{self.label} frame {frame:,}/{self.max_frame:,} | {row['fps']:,.0f} fps | "
            f"return {row['total_reward']:.2f} | ma {row['total_reward_ma']:.2f} | "
            f"loss {row['loss']:.4g} | ETA {fmt_eta(eta)}"
        )

    def update(self, row: dict) -> None:
        if self.live:
            done = min(row["frame"] / self.max_frame, 1.0)
            filled = int(done * BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.draw(f"\r[{bar}] {done:4.0%} {self.line(row)}\033[K")
            return
        now = perf_counter()
        if now - self.last_line >= PLAIN_INTERVAL_S or row["frame"] >= self.max_frame:
            self.last_line = now
            logger.info(self.line(row))

    def close(self) -> None:
        if self.live:
            self.draw("\n")

    def draw(self, text: str) -> None:
        """On the terminal; a terminal gone (closed, a broken pipe) ends the bar, not the run."""
        try:
            sys.stderr.write(text)
            sys.stderr.flush()
        except (OSError, ValueError):
            self.live = False
