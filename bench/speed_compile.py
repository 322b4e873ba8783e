"""`agent.net.compile` on and off: frames/s of SAC, CrossQ, DQN and PPO as the SB3 speed scripts
run them (same specs: bench/speed_sac.py, speed_dqn.py, speed_ppo.py; CrossQ on SAC's sizes), each
run in a fresh process, eager and compiled alternating.

    uv run --group bench python bench/speed_compile.py [--reps 2] [--only SAC DQN] [--threads 1]

Two numbers per run: frames/s over the whole training loop (the first calls' compile time
included), and over its second half (compiled code only, the rate a long run converges to); and
the compile time the run logged.
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import speed_dqn
import speed_ppo
import speed_sac

COMPILED = re.compile(r"torch\.compile: \S+ compiled in ([\d.]+) s")


def crossq_spec() -> dict:
    spec = json.loads(json.dumps(speed_sac.SPEC))
    spec["agent"]["name"] = spec["agent"]["algorithm"]["name"] = "CrossQ"
    spec["agent"]["critic_net"] = dict(spec["agent"]["net"])
    return spec


FAMILIES = {  # name -> (spec, frames)
    "SAC": (speed_sac.SPEC, 5_000),
    "CrossQ": (crossq_spec(), 5_000),
    "DQN": (speed_dqn.SPEC, 30_000),
    "PPO": (speed_ppo.SPEC, 100_000),
}


def run(family: str, compiled: bool, threads: int) -> dict:
    """One training run in this process: whole-loop and second-half frames/s, compile seconds."""
    import pandas as pd
    import torch

    from slm_lab.experiment import trial
    from slm_lab.experiment.run import start

    trial.set_threads = lambda nets, n: torch.set_num_threads(threads)  # pinned, both programs
    from slm_lab.spec.validate import validate

    spec_dict, frames = FAMILIES[family]
    raw = json.loads(json.dumps(spec_dict))
    raw["env"]["max_frame"] = frames
    raw["agent"]["net"].update(gpu=False, compile=compiled)
    raw["meta"]["log_frequency"] = frames // 20
    spec, _ = validate(raw)
    spec["name"] = "bench"
    with tempfile.TemporaryDirectory() as tmp:
        start(spec, Path("bench"), "train", False, "INFO", Path(tmp))
        (folder,) = Path(tmp).iterdir()
        df = pd.read_csv(folder / "info" / "bench_t0_s0_session_df_train.csv")
        log = "".join(path.read_text() for path in (folder / "log").glob("*.log"))
    seconds = [float(s) for s in COMPILED.findall(log)]
    half = df.iloc[len(df) // 2]
    last = df.iloc[-1]
    return {
        "whole": float(last["frame"] / last["wall_t"]),
        "half": float((last["frame"] - half["frame"]) / (last["wall_t"] - half["wall_t"])),
        "compile_s": sum(seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=list(FAMILIES))
    parser.add_argument("--threads", type=int, default=1, help="torch threads, both programs")
    parser.add_argument("--one", nargs=2, metavar=("FAMILY", "COMPILED"))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run(args.one[0], args.one[1] == "1", args.threads)))
        return
    rows = []
    for family in args.only:
        results: dict[bool, list[dict]] = {False: [], True: []}
        for rep in range(args.reps):
            for compiled in (False, True):
                cmd = [sys.executable, __file__, "--one", family, str(int(compiled))]
                cmd += ["--threads", str(args.threads)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                results[compiled].append(result)
                print(f"rep {rep}: {family} compile={compiled}: {result}", flush=True)
        rows.append((family, results))
    print(
        "\n| family | eager frames/s (whole / 2nd half) | compiled (whole / 2nd half) | "
        "2nd-half ratio | compile time |\n|---|---|---|---|---|"
    )
    for family, results in rows:
        e, c = (
            {
                k: statistics.mean(r[k] for r in results[flag])
                for k in ("whole", "half", "compile_s")
            }
            for flag in (False, True)
        )
        print(
            f"| {family} | {e['whole']:,.0f} / {e['half']:,.0f} | {c['whole']:,.0f} / "
            f"{c['half']:,.0f} | {c['half'] / e['half']:.2f}x | {c['compile_s']:.1f} s |"
        )


if __name__ == "__main__":
    main()
