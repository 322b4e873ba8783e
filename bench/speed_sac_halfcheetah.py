"""SAC HalfCheetah-v5 frames/s: the shipped `sac_mujoco` spec at the settings the fastest
published PyTorch figures use (one env, one gradient step per env step, batch 256, 256x256 nets,
learning from frame 5,000), trained through the lab for a fixed number of frames.

    uv run python bench/speed_sac_halfcheetah.py [--frames 20000] [--device cpu|cuda] [--compile]

Prints the frames/s of training (frames / training-loop wall time) over the whole run, then over
the rows after the random-action warm-up (the steady learning rate of steps), as JSON last.
`--compile` sets `agent.net.compile` (torch.compile; CUDA graphs on a GPU): its compile time
falls in the first learning rows.
"""

import argparse
import json
import math

import harness

from slm_lab import ROOT

SPEC_FILE = ROOT / "spec" / "benchmark" / "sac" / "sac_mujoco.json"
ENV = "HalfCheetah-v5"
FRAMES = 20_000
START = 5_000  # random actions before the first gradient step
LOG_FREQUENCY = 1_000


def spec(compiled: bool) -> dict:
    raw = json.loads(SPEC_FILE.read_text())["sac_mujoco"]
    algo = raw["agent"]["algorithm"]
    algo.update(training_frequency=1, training_iter=1, training_start_step=START)
    raw["agent"]["net"]["compile"] = compiled
    raw["env"].update(name=ENV, num_envs=1)
    raw["meta"].update(max_session=1, log_frequency=LOG_FREQUENCY, eval_frequency=10**9)
    return raw


def rates(frames: int, device: str, compiled: bool) -> tuple[float, float]:
    """frames/s over the whole run, and over the rows after the warm-up (learning only)."""
    df = harness.train_table(spec(compiled), None, frames, device)
    last = df.iloc[-1]
    whole = float(last["frame"] / last["wall_t"])
    learning = df[df["frame"] > START + LOG_FREQUENCY]
    if len(learning) < 2:  # too short a run to have learning rows after the first
        return whole, math.nan
    first = learning.iloc[0]
    return whole, float((last["frame"] - first["frame"]) / (last["wall_t"] - first["wall_t"]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=FRAMES)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    whole, steady = rates(args.frames, args.device, args.compile)
    label = f"sac_halfcheetah ({args.device} nets, compile {'on' if args.compile else 'off'})"
    print(
        f"{label}: {whole:,.0f} frames/s over {args.frames:,} frames, {steady:,.0f} after warm-up"
    )
    print(json.dumps(steady))


if __name__ == "__main__":
    main()
