"""PPO CartPole-v1 frames/s: SLM Lab vs Stable-Baselines3, side by side, same hyperparameters.

    uv run --group bench python bench/speed_ppo.py [--reps 2] [--frames 100000]

1 session, 4 envs, 128 steps per env per rollout, 4 epochs x 4 minibatches (128), separate
64x64 tanh actor and critic, Adam lr 3e-4, gamma 0.99, lambda 0.95, clip 0.2, grad clip 0.5.
Ours runs as shipped (checkpoint rows, model saves every 500 frames); each program runs in a fresh
process, alternating, so machine noise hits both. Frames/s = frames / training-loop wall time.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FRAMES = 100_000
NUM_ENVS = 4
HORIZON = 128
EPOCHS = 4
MINIBATCH = 128
LR = 3e-4
LOG_FREQUENCY = 500

SPEC = {
    "agent": {
        "name": "PPO",
        "algorithm": {
            "name": "PPO",
            "gamma": 0.99,
            "lam": 0.95,
            "clip_eps_spec": {"name": "no_decay", "start_val": 0.2},
            "entropy_coef_spec": {"name": "no_decay", "start_val": 0.0},
            "val_loss_coef": 0.5,
            "time_horizon": HORIZON,
            "minibatch_size": MINIBATCH,
            "training_epoch": EPOCHS,
        },
        "memory": {"name": "OnPolicyBatchReplay"},
        "net": {
            "type": "MLPNet",
            "shared": False,
            "hid_layers": [64, 64],
            "hid_layers_activation": "tanh",
            "init_fn": "orthogonal_",
            "actor_init_std": 0.01,
            "critic_init_std": 1.0,
            "clip_grad_val": 0.5,
            "use_same_optim": True,
            "optim_spec": {"name": "Adam", "lr": LR},
            "gpu": False,
        },
    },
    "env": {"name": "CartPole-v1", "num_envs": NUM_ENVS, "max_frame": FRAMES},
    "meta": {"max_session": 1, "log_frequency": LOG_FREQUENCY, "random_seed": 0},
}


def run_ours(threads: int | None, frames: int, device: str = "cpu") -> float:
    import pandas as pd
    import torch

    from slm_lab.experiment import control
    from slm_lab.spec.validate import validate

    raw = json.loads(json.dumps(SPEC))
    raw["env"]["max_frame"] = frames
    raw["agent"]["net"]["gpu"] = device == "cuda"
    spec, _ = validate(raw)
    spec["name"] = "bench_ppo"
    if threads is not None:  # pin, overriding the lab's own thread choice
        control.set_threads = lambda nets, n: torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        control.start(spec, Path("bench"), "train", False, "WARNING", Path(tmp))
        (run,) = Path(tmp).iterdir()
        df = pd.read_csv(run / "info" / "bench_ppo_t0_s0_session_df_train.csv")
    return float(df["frame"].iloc[-1] / df["wall_t"].iloc[-1])


def run_sb3(threads: int, frames: int) -> float:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(threads)
    env = make_vec_env("CartPole-v1", n_envs=NUM_ENVS, seed=0)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=HORIZON,
        batch_size=MINIBATCH,
        n_epochs=EPOCHS,
        learning_rate=LR,
        gamma=0.99,
        gae_lambda=0.95,
        clip_range=0.2,
        ent_coef=0.0,
        vf_coef=0.5,
        max_grad_norm=0.5,
        policy_kwargs={"net_arch": {"pi": [64, 64], "vf": [64, 64]}},
        device="cpu",
        seed=0,
        verbose=0,
    )
    start = time.perf_counter()
    model.learn(total_timesteps=frames)
    return frames / (time.perf_counter() - start)


def run_env_only(frames: int) -> float:
    import gymnasium as gym

    env = gym.make_vec("CartPole-v1", NUM_ENVS, vectorization_mode="sync")
    env.reset(seed=0)
    start = time.perf_counter()
    for _ in range(frames // NUM_ENVS):
        env.step(env.action_space.sample())
    return frames / (time.perf_counter() - start)


PROGRAMS = {
    "slm-lab (default threads)": ("ours", None),
    "slm-lab (1 thread)": ("ours", 1),
    "sb3 (1 thread)": ("sb3", 1),
    "sb3 (2 threads)": ("sb3", 2),
    "vector env alone, random actions": ("env", None),
}


def one(program: str, threads: int | None, frames: int, device: str) -> float:
    if program == "ours":
        return run_ours(threads, frames, device)
    if program == "sb3":
        return run_sb3(threads or 1, frames)
    return run_env_only(frames)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--frames", type=int, default=FRAMES)
    parser.add_argument("--one", nargs=2, metavar=("PROGRAM", "THREADS"))
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="with --one ours")
    args = parser.parse_args()
    if args.one:
        program, threads = args.one
        fps = one(program, None if threads == "default" else int(threads), args.frames, args.device)
        print(json.dumps(fps))
        return
    results: dict[str, list[float]] = {label: [] for label in PROGRAMS}
    for rep in range(args.reps):
        for label, (program, threads) in PROGRAMS.items():
            cmd = [sys.executable, __file__, "--frames", str(args.frames), "--one", program]
            cmd.append("default" if threads is None else str(threads))
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            fps = json.loads(out.stdout.strip().splitlines()[-1])
            results[label].append(fps)
            print(f"rep {rep}: {label}: {fps:,.0f} frames/s", flush=True)
    print("\n| program | frames/s (mean of runs) | runs |\n|---|---|---|")
    for label, runs in results.items():
        print(
            f"| {label} | {statistics.mean(runs):,.0f} | {', '.join(f'{r:,.0f}' for r in runs)} |"
        )
    best_sb3 = max(
        statistics.mean(results["sb3 (1 thread)"]), statistics.mean(results["sb3 (2 threads)"])
    )
    ours = statistics.mean(results["slm-lab (default threads)"])
    print(f"\nslm-lab default / best sb3: {ours / best_sb3:.2f}x")
    ratio_1t = statistics.mean(results["slm-lab (1 thread)"]) / statistics.mean(
        results["sb3 (1 thread)"]
    )
    print(f"both at 1 thread: {ratio_1t:.2f}x")


if __name__ == "__main__":
    main()
