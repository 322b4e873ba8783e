"""Value schedules counted in frames: no_decay, linear_decay, rate_decay, periodic_decay."""

import math

RATE_DECAY = 0.9  # multiplier per decay period
DECAY_PERIODS = 20  # periods between start_step and end_step (rate and periodic decay)


def constant(value: float) -> dict:
    """The schedule of a value that never changes."""
    return {"name": "no_decay", "start_val": value, "end_val": value}


class Schedule:
    """`value(frame)` of a schedule spec {name, start_val, end_val, start_step, end_step}."""

    def __init__(self, spec: dict | None, default: float = 0.0) -> None:
        """`spec`: a validated schedule (its end_val, and a decay's steps, filled in); None:
        `default` at every frame."""
        spec = spec or constant(default)
        self.name = spec["name"]
        self.start_val, self.end_val = float(spec["start_val"]), float(spec["end_val"])
        decays = self.name != "no_decay"  # a constant has no steps to read
        self.start_step = int(spec["start_step"]) if decays else 0
        self.end_step = int(spec["end_step"]) if decays else 0

    def progress(self, frame: int) -> float:
        """0 at start_step, 1 at end_step and after."""
        span = self.end_step - self.start_step
        if span <= 0:
            return float(frame >= self.start_step)
        return min(max((frame - self.start_step) / span, 0.0), 1.0)

    def value(self, frame: int) -> float:
        if self.name == "no_decay":
            return self.start_val
        p = self.progress(frame)
        if self.name == "linear_decay":
            return self.start_val + p * (self.end_val - self.start_val)
        if self.name == "rate_decay":
            decayed = self.start_val * RATE_DECAY ** (p * DECAY_PERIODS)
            return max(decayed, self.end_val) if self.end_val <= self.start_val else decayed
        # periodic_decay: a cosine that restarts every period, inside a linearly decaying envelope
        phase = (p * DECAY_PERIODS) % 1.0
        envelope = self.end_val + (1 - p) * (self.start_val - self.end_val)
        return self.end_val + (envelope - self.end_val) * 0.5 * (1 + math.cos(math.pi * phase))
