"""PPO Pong frames/s: the shipped `ppo_atari` spec (16 envs, Nature CNN, 128-step rollouts, 4
epochs of 256-sample minibatches) trained through the lab for a fixed number of frames.

    uv run python bench/speed_ppo_pong.py [--frames 20000] [--device cpu|cuda] [--num-envs 16]
        [--data DIR] [--compile]

Prints the frames/s of ale-py's native vector env alone (random actions, same width), then of
training (frames / training-loop wall time). `--data` keeps the run folder (its session table is
the learning curve, written row by row, so a run stopped by a time limit keeps its rows).
`--compile` sets `agent.net.compile` (torch.compile; CUDA graphs on a GPU).
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd

from slm_lab import ROOT

SPEC_FILE = ROOT / "spec" / "benchmark" / "ppo" / "ppo_atari.json"
ENV = "ALE/Pong-v5"
FRAMES = 20_000
ENV_ONLY_FRAMES = 50_000


def spec(num_envs: int) -> dict:
    raw = json.loads(SPEC_FILE.read_text())["ppo_atari"]
    raw.pop("search")
    raw["env"].update(name=ENV, num_envs=num_envs)
    raw["meta"].update(max_session=1, log_frequency=2048 * 4, eval_frequency=2048 * 4)
    return raw


def env_only(num_envs: int, frames: int) -> float:
    import numpy as np

    from slm_lab.env.vec_env import VecEnv
    from slm_lab.spec.validate import Validator, check_env

    env_spec = check_env({"name": ENV, "num_envs": num_envs, "max_frame": frames}, Validator())
    env = VecEnv(env_spec)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, env.action_space.n, (frames // num_envs, num_envs))
    start = time.perf_counter()
    for action in actions:
        env.step(action)
    fps = frames / (time.perf_counter() - start)
    env.close()
    return fps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=FRAMES)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--data", type=Path, help="keep the run folder under this directory")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    env = env_only(args.num_envs, ENV_ONLY_FRAMES)
    print(
        f"native env alone, random actions, {args.num_envs} envs: {env:,.0f} frames/s", flush=True
    )
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or Path(tmp)
        train = train_fps(args.num_envs, args.frames, args.device, data, args.compile)
    label = f"ppo_pong ({args.device} nets, {args.num_envs} envs, {args.frames} frames"
    label += ", compiled)" if args.compile else ")"
    print(f"{label}: {train:,.0f} frames/s")
    print(json.dumps(train))


def train_fps(num_envs: int, frames: int, device: str, data: Path, compiled: bool) -> float:
    from slm_lab.experiment.run import start
    from slm_lab.spec.validate import validate

    raw = spec(num_envs)
    raw["env"]["max_frame"] = frames
    raw["agent"]["net"].update(gpu=device == "cuda", compile=compiled)
    full, _ = validate(raw)
    full["name"] = "ppo_pong"
    start(full, SPEC_FILE, "train", False, "INFO", data)
    run = max(data.glob("ppo_pong_*"))
    df = pd.read_csv(run / "info" / "ppo_pong_t0_s0_session_df_train.csv")
    return float(df["frame"].iloc[-1] / df["wall_t"].iloc[-1])


if __name__ == "__main__":
    main()
