"""What --profile costs, and that without it the training loop pays nothing.

    uv run python bench/profile_cost.py [--reps 3] [--frames 40000]

DQN CartPole-v1 (the most loop steps per second of the lab's families: a learn call every
step), 1 session, run through `experiment.run.start` as shipped, three ways alternating in one
process so machine noise hits all: profiling off; --profile with the trace window out of reach
(the phase timers alone); --profile with the original's window (PROF_SKIP 500, PROF_ACTIVE 20).
Frames/s = frames / the session's wall time at its last row. Then the timers' own cost per
call: a no-op method called directly and through the profiler's timed stand-in, alternating.
"""

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slm_lab.experiment.context import RunFlags
from test.conftest import tiny_dqn

WAYS = {
    "off": RunFlags(),
    "--profile, timers only": RunFlags(profile=True, prof_skip=10**9),
    "--profile, window 500+20": RunFlags(profile=True),
}


def fps(flags: RunFlags, frames: int) -> float:
    import pandas as pd

    from slm_lab.experiment.run import start
    from slm_lab.spec.validate import validate

    raw = tiny_dqn(max_frame=frames, log_frequency=frames // 4)
    raw["env"]["num_envs"] = 1
    spec, _ = validate(json.loads(json.dumps(raw)))
    spec["name"] = "bench"
    with tempfile.TemporaryDirectory() as tmp:
        start(spec, Path("bench"), "train", False, "WARNING", Path(tmp), flags)
        (run,) = Path(tmp).iterdir()
        df = pd.read_csv(run / "info" / "bench_t0_s0_session_df_train.csv")
    return float(df["frame"].iloc[-1] / df["wall_t"].iloc[-1])


class Noop:
    def call(self) -> None:
        return None


def call_ns(calls: int = 200_000, reps: int = 5) -> tuple[float, float]:
    """ns per call of a no-op method, directly and through `Timed` (best of reps, alternating)."""
    import time

    from slm_lab.experiment.profiler import Phases, Timed

    direct, timed = Noop(), Timed(Noop(), {"call": "act"}, Phases())
    best = {"direct": float("inf"), "timed": float("inf")}
    for _ in range(reps):
        for label, target in (("direct", direct), ("timed", timed)):
            fn = target.call
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            best[label] = min(best[label], (time.perf_counter() - start) / calls * 1e9)
    return best["direct"], best["timed"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--frames", type=int, default=40_000)
    parser.add_argument("--calls-only", action="store_true", help="only the per-call cost")
    args = parser.parse_args()
    if args.calls_only:
        direct, timed = call_ns()
        print(f"a call: {direct:.0f} ns direct, {timed:.0f} ns timed ({timed - direct:.0f} ns)")
        return
    runs: dict[str, list[float]] = {way: [] for way in WAYS}
    for rep in range(args.reps):
        for way, flags in WAYS.items():
            runs[way].append(fps(flags, args.frames))
            print(f"rep {rep}: {way}: {runs[way][-1]:,.0f} frames/s", flush=True)
    off = statistics.mean(runs["off"])
    for way, values in runs.items():
        mean = statistics.mean(values)
        print(f"{way}: {mean:,.0f} frames/s, {mean / off:.3f}x of off")
    direct, timed = call_ns()
    print(f"a call: {direct:.0f} ns direct, {timed:.0f} ns timed ({timed - direct:.0f} ns added)")


if __name__ == "__main__":
    main()
