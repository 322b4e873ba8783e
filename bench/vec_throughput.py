"""Gymnasium vector-env throughput (frames/s) with uniform random actions, by env, mode and width.

    uv run python bench/vec_throughput.py [--envs CartPole-v1 ALE/Pong-v5] [--widths 1 4 16]
        [--seconds 3] [--out bench/results/vec_throughput.json]

Modes: gymnasium SyncVectorEnv ("sync") vs AsyncVectorEnv(context="spawn") ("async"), both with
SAME_STEP autoreset. Pong also runs ale-py's native AtariVectorEnv ("ale_native"); its sync/async
rows wrap ALE/Pong-v5 in AtariPreprocessing + FrameStackObservation and are skipped when opencv is
missing. Frames/s = vector steps x num_envs / wall time of the step loop only (construction, reset
and warm-up excluded); each cell steps for a fixed wall budget with actions pre-sampled.
"""

import argparse
import datetime
import json
import os
import platform
import time
from collections.abc import Callable
from functools import partial
from importlib.metadata import version
from pathlib import Path

import ale_py
import gymnasium as gym
import numpy as np
from ale_py.vector_env import AtariVectorEnv
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv

gym.register_envs(ale_py)

ENVS = ["CartPole-v1", "LunarLander-v3", "HalfCheetah-v5", "ALE/Pong-v5"]
WIDTHS = [1, 2, 4, 8, 16]
SECONDS = 3.0
ATARI_ENV = "ALE/Pong-v5"
ATARI_GAME = "pong"
MODE_ALE = "ale_native"
MODE_SYNC = "sync"
MODE_ASYNC = "async"
GYM_MODES = [MODE_SYNC, MODE_ASYNC]
ATARI_MODES = [MODE_ALE, MODE_SYNC, MODE_ASYNC]
AUTORESET = AutoresetMode.SAME_STEP
ASYNC_CONTEXT = "spawn"
WARMUP_STEPS = 10
ACTION_POOL = 512  # pre-sampled batched actions, cycled through in the timed loop
SEED = 0
STICKY_PROB = 0.25
FRAME_SKIP = 4
STACK = 4
SCREEN = 84
NOOP_MAX = 30

type EnvFactory = Callable[[], gym.Env]


def make_atari_env(env_id: str) -> gym.Env:
    """One preprocessed Atari env (AtariPreprocessing + frame stack); importable for spawn workers."""
    gym.register_envs(ale_py)
    env = gym.make(env_id, frameskip=1, repeat_action_probability=STICKY_PROB)
    env = gym.wrappers.AtariPreprocessing(
        env, frame_skip=FRAME_SKIP, noop_max=NOOP_MAX, screen_size=SCREEN, grayscale_obs=True
    )
    return gym.wrappers.FrameStackObservation(env, STACK)


def make_plain_env(env_id: str) -> gym.Env:
    return gym.make(env_id)


def env_factory(env_id: str) -> EnvFactory:
    maker = make_atari_env if env_id == ATARI_ENV else make_plain_env
    return partial(maker, env_id)


def atari_wrappers_available() -> bool:
    """AtariPreprocessing needs opencv; probe once instead of failing inside every worker."""
    base = gym.make(ATARI_ENV, frameskip=1, repeat_action_probability=STICKY_PROB)
    try:
        gym.wrappers.AtariPreprocessing(base, frame_skip=FRAME_SKIP, noop_max=NOOP_MAX)
    except gym.error.DependencyNotInstalled:
        return False
    finally:
        base.close()
    return True


def build_vec_env(env_id: str, mode: str, num_envs: int) -> VectorEnv:
    if mode == MODE_ALE:
        return AtariVectorEnv(
            game=ATARI_GAME,
            num_envs=num_envs,
            autoreset_mode=AUTORESET,
            repeat_action_probability=STICKY_PROB,
            frameskip=FRAME_SKIP,
            stack_num=STACK,
            img_height=SCREEN,
            img_width=SCREEN,
            grayscale=True,
            noop_max=NOOP_MAX,
            use_fire_reset=True,
            reward_clipping=False,
        )
    fns = [env_factory(env_id)] * num_envs
    if mode == MODE_SYNC:
        return SyncVectorEnv(fns, autoreset_mode=AUTORESET)
    return AsyncVectorEnv(fns, autoreset_mode=AUTORESET, context=ASYNC_CONTEXT)


def time_steps(venv: VectorEnv, seconds: float) -> tuple[int, float]:
    """Reset, warm up, then step for `seconds` of wall time; return (vector steps, elapsed s)."""
    venv.reset(seed=SEED)
    venv.action_space.seed(SEED)
    actions = [venv.action_space.sample() for _ in range(ACTION_POOL)]
    for i in range(WARMUP_STEPS):
        venv.step(actions[i % ACTION_POOL])
    steps = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        venv.step(actions[steps % ACTION_POOL])
        steps += 1
    return steps, time.perf_counter() - start


def run_cell(env_id: str, mode: str, num_envs: int, seconds: float) -> dict:
    venv = build_vec_env(env_id, mode, num_envs)
    try:
        steps, elapsed = time_steps(venv, seconds)
    finally:
        venv.close()
    fps = steps * num_envs / elapsed
    return {"env": env_id, "mode": mode, "num_envs": num_envs, "steps": steps, "fps": fps}


def modes_for(env_id: str, atari_ok: bool) -> list[str]:
    if env_id != ATARI_ENV:
        return GYM_MODES
    return ATARI_MODES if atari_ok else [MODE_ALE]


def machine_info() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "gymnasium": gym.__version__,
        "ale_py": version("ale-py"),
        "mujoco": version("mujoco"),
        "numpy": np.__version__,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def info_line(info: dict) -> str:
    return (
        f"cpus={info['cpu_count']} python={info['python']} gymnasium={info['gymnasium']} "
        f"ale-py={info['ale_py']} mujoco={info['mujoco']} date={info['date']}"
    )


def markdown_table(results: list[dict], widths: list[int]) -> str:
    header = "| env | mode | " + " | ".join(str(w) for w in widths) + " |"
    rule = "|---|---|" + "---:|" * len(widths)
    rows = {}
    for r in results:
        rows.setdefault((r["env"], r["mode"]), {})[r["num_envs"]] = r["fps"]
    lines = [header, rule]
    for (env_id, mode), cells in rows.items():
        vals = " | ".join(f"{cells[w]:.0f}" if w in cells else "-" for w in widths)
        lines.append(f"| {env_id} | {mode} | {vals} |")
    return "\n".join(lines)


def winners(results: list[dict], width: int) -> dict[str, str]:
    best: dict[str, dict] = {}
    for r in results:
        if r["num_envs"] == width and (r["env"] not in best or r["fps"] > best[r["env"]]["fps"]):
            best[r["env"]] = r
    return {env_id: r["mode"] for env_id, r in best.items()}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=ENVS, choices=ENVS)
    parser.add_argument("--widths", nargs="+", type=int, default=WIDTHS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--out", type=Path, default=None)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    info = machine_info()
    atari_ok = ATARI_ENV in args.envs and atari_wrappers_available()
    notes = []
    if ATARI_ENV in args.envs and not atari_ok:
        notes.append(
            f"{ATARI_ENV} sync/async skipped: AtariPreprocessing needs opencv (not installed)"
        )
    results = []
    for env_id in args.envs:
        for mode in modes_for(env_id, atari_ok):
            for n in args.widths:
                cell = run_cell(env_id, mode, n, args.seconds)
                print(f"  {env_id} {mode} n={n}: {cell['fps']:.0f} frames/s", flush=True)
                results.append(cell)
    top = max(args.widths)
    wins = winners(results, top)
    print(f"\n{info_line(info)}\n")
    print(markdown_table(results, args.widths))
    print(f"\nFastest mode at {top} envs:")
    for env_id, mode in wins.items():
        print(f"- {env_id}: {mode}")
    for note in notes:
        print(f"\nNote: {note}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": info, "seconds": args.seconds, "results": results, "notes": notes}
        payload["winners_at_max_width"] = {"num_envs": top, "modes": wins}
        args.out.write_text(json.dumps(payload, indent=2))
        print(f"\nSaved {args.out}")


if __name__ == "__main__":
    main()
