"""MuJoCo Playground vector-env throughput (env steps/s) with uniform random actions, by width,
with JAX's compile time apart.

    uv run --group playground python bench/playground_throughput.py [--env CartpoleBalance]
        [--widths 16 64 256 1024] [--seconds 10] [--device none] [--out bench/results/...]

Each width builds the lab's PlaygroundVecEnv (jitted, vmapped reset and step), times the first
reset and the first step (tracing and compiling), then steps for a fixed wall budget; env
steps/s = vector steps x num_envs / wall time of that loop, observations handed over to numpy
(or to torch on --device) every step, as the training loop gets them. Set
JAX_COMPILATION_CACHE_DIR to see the compile time of a later run.
"""

import argparse
import datetime
import json
import os
import platform
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from slm_lab.env.playground import PlaygroundVecEnv, load_jax

WIDTHS = [16, 64, 256, 1024]
SECONDS = 10.0
ACTION_POOL = 64  # pre-sampled batched actions, cycled through in the timed loop
SEED = 0


def measure(env_id: str, num_envs: int, seconds: float, device: str | None) -> dict:
    spec = {"name": f"playground/{env_id}", "max_t": None, "device": device}
    env = PlaygroundVecEnv(spec, num_envs)
    start = time.perf_counter()
    env.reset(seed=SEED)
    reset_s = time.perf_counter() - start
    rng = np.random.default_rng(SEED)
    actions = rng.uniform(-1, 1, (ACTION_POOL, num_envs, *env.single_action_space.shape))
    actions = actions.astype(np.float32)
    start = time.perf_counter()
    env.step(actions[0])
    step_s = time.perf_counter() - start
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        env.step(actions[steps % ACTION_POOL])
        steps += 1
    wall = time.perf_counter() - start
    env.close()
    return {
        "env": env_id,
        "num_envs": num_envs,
        "first_reset_s": round(reset_s, 1),
        "first_step_s": round(step_s, 1),
        "steps_per_s": round(steps * num_envs / wall),
        "vector_steps": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartpoleBalance")
    parser.add_argument("--widths", type=int, nargs="+", default=WIDTHS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--device", default="none", help="none (numpy), cpu, cuda")
    parser.add_argument("--out", type=Path, default=Path("bench/results/playground.json"))
    args = parser.parse_args()
    device = None if args.device == "none" else args.device
    jax = load_jax()
    rows = []
    for width in args.widths:
        row = measure(args.env, width, args.seconds, device)
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "jax": version("jax"),
        "playground": version("playground"),
        "backend": jax.default_backend(),
        "device": args.device,
        "compilation_cache": os.environ.get("JAX_COMPILATION_CACHE_DIR"),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
