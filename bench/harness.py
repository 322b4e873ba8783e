"""Shared speed-benchmark harness: run one program per fresh process, alternating, and compare.

Each benchmark script gives its programs (label -> (program, threads)) and a function that runs
one of them and returns frames/s; `main` parses the command line and prints the table and ratios.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

PROGRAMS = {
    "slm-lab (default threads)": ("ours", None),
    "slm-lab (1 thread)": ("ours", 1),
    "sb3 (1 thread)": ("sb3", 1),
    "sb3 (2 threads)": ("sb3", 2),
    "vector env alone, random actions": ("env", None),
}


def run_ours(spec_dict: dict, threads: int | None, frames: int, device: str = "cpu") -> float:
    """Train a copy of the spec through the lab as shipped; frames / training-loop wall time."""
    df = train_table(spec_dict, threads, frames, device)
    return float(df["frame"].iloc[-1] / df["wall_t"].iloc[-1])


def train_table(spec_dict: dict, threads: int | None, frames: int, device: str = "cpu"):
    """The session's training table of a copy of the spec trained through the lab as shipped
    (`threads` pins torch's threads; None: the lab's own choice)."""
    import pandas as pd
    import torch

    from slm_lab.experiment import trial
    from slm_lab.experiment.run import start
    from slm_lab.spec.validate import validate

    raw = json.loads(json.dumps(spec_dict))
    raw["env"]["max_frame"] = frames
    raw["agent"]["net"]["gpu"] = device == "cuda"
    spec, _ = validate(raw)
    spec["name"] = "bench"
    if threads is not None:  # pin, overriding the lab's own thread choice
        trial.set_threads = lambda nets, n: torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        start(spec, Path("bench"), "train", False, "WARNING", Path(tmp))
        (run,) = Path(tmp).iterdir()
        return pd.read_csv(run / "info" / "bench_t0_s0_session_df_train.csv")


def time_learn(model, frames: int) -> float:
    """frames/s of a Stable-Baselines3 model's `learn` over `frames` steps."""
    import time

    start = time.perf_counter()
    model.learn(total_timesteps=frames)
    return frames / (time.perf_counter() - start)


def run_env_only(name: str, num_envs: int, frames: int) -> float:
    import time

    import gymnasium as gym

    env = gym.make_vec(name, num_envs, vectorization_mode="sync")
    env.reset(seed=0)
    start = time.perf_counter()
    for _ in range(frames // num_envs):
        env.step(env.action_space.sample())
    return frames / (time.perf_counter() - start)


def one(
    program: str, threads: int | None, frames: int, device: str, spec: dict, sb3: Callable
) -> float:
    """frames/s of one program: ours on `spec`, `sb3(threads, frames)`, or the env alone."""
    if program == "ours":
        return run_ours(spec, threads, frames, device)
    if program == "sb3":
        return sb3(threads or 1, frames)
    return run_env_only(spec["env"]["name"], spec["env"]["num_envs"], frames)


def main(script: str, spec: dict, sb3: Callable[[int, int], float], frames: int) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--frames", type=int, default=frames)
    parser.add_argument("--one", nargs=2, metavar=("PROGRAM", "THREADS"))
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="with --one ours")
    args = parser.parse_args()
    if args.one:
        program, threads = args.one
        threads = None if threads == "default" else int(threads)
        fps = one(program, threads, args.frames, args.device, spec, sb3)
        print(json.dumps(fps))
        return
    results: dict[str, list[float]] = {label: [] for label in PROGRAMS}
    for rep in range(args.reps):
        for label, (program, threads) in PROGRAMS.items():
            cmd = [sys.executable, script, "--frames", str(args.frames), "--one", program]
            cmd.append("default" if threads is None else str(threads))
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            fps = json.loads(out.stdout.strip().splitlines()[-1])
            results[label].append(fps)
            print(f"rep {rep}: {label}: {fps:,.0f} frames/s", flush=True)
    report(results)


def report(results: dict[str, list[float]]) -> None:
    mean = {label: statistics.mean(runs) for label, runs in results.items()}
    print("\n| program | frames/s (mean of runs) | runs |\n|---|---|---|")
    for label, runs in results.items():
        print(f"| {label} | {mean[label]:,.0f} | {', '.join(f'{r:,.0f}' for r in runs)} |")
    best_sb3 = max(mean["sb3 (1 thread)"], mean["sb3 (2 threads)"])
    print(f"\nslm-lab default / best sb3: {mean['slm-lab (default threads)'] / best_sb3:.2f}x")
    print(f"both at 1 thread: {mean['slm-lab (1 thread)'] / mean['sb3 (1 thread)']:.2f}x")
