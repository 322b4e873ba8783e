"""The lab's frames/s in two checkouts, alternating in one run, on one of the speed benchmarks.

    uv run python bench/versus.py BEFORE_CHECKOUT AFTER_CHECKOUT speed_ppo [--reps 3] [--frames N]

Each checkout runs its own `bench/<benchmark>.py --one ours default` (as shipped, default
threads) in a fresh process with its own .venv (synced with `--group bench`); before and after
alternate so machine noise hits both. Prints each run and the after/before ratio of the means.
"""

import argparse
import json
import statistics
import subprocess
from pathlib import Path


def fps(checkout: Path, bench: str, frames: int | None) -> float:
    cmd = [str(checkout / ".venv/bin/python"), f"bench/{bench}.py", "--one", "ours", "default"]
    cmd += ["--frames", str(frames)] if frames else []
    out = subprocess.run(cmd, cwd=checkout, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("bench", help="speed_ppo, speed_dqn, speed_sac, ...")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--frames", type=int)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {"before": [], "after": []}
    for rep in range(args.reps):
        for label in runs:
            runs[label].append(fps(getattr(args, label).resolve(), args.bench, args.frames))
            print(f"rep {rep}: {label}: {runs[label][-1]:,.0f} frames/s", flush=True)
    before, after = statistics.mean(runs["before"]), statistics.mean(runs["after"])
    print(f"{args.bench}: before {before:,.0f}, after {after:,.0f} frames/s: {after / before:.3f}x")


if __name__ == "__main__":
    main()
