"""Summarise bench/original.sh's runs: the original's spec files run here, beside the scores its
BENCHMARKS.md publishes. Prints a markdown table (one row per cell, latest run folder of each
spec name; cells without a run say so).

    uv run python bench/original_table.py [--data bench/results/original/data]
"""

import argparse
import json
import re
from datetime import datetime
from pathlib import Path

# env, algorithm, SPEC_FILE (under test/fixtures/original-specs), SPEC_NAME, published MA
CELLS = [
    ("CartPole-v1", "REINFORCE", "benchmark_arc/reinforce/reinforce_arc.yaml", "reinforce_cartpole_arc", 483.31),
    ("CartPole-v1", "SARSA", "benchmark_arc/sarsa/sarsa_arc.yaml", "sarsa_boltzmann_cartpole_arc", 430.95),
    ("CartPole-v1", "DQN", "benchmark_arc/dqn/dqn_classic_arc.yaml", "dqn_boltzmann_cartpole_arc", 239.94),
    ("CartPole-v1", "DDQN+PER", "benchmark_arc/dqn/dqn_classic_arc.yaml", "ddqn_per_boltzmann_cartpole_arc", 451.51),
    ("CartPole-v1", "A2C", "benchmark_arc/a2c/a2c_classic_arc.yaml", "a2c_gae_cartpole_arc", 496.68),
    ("CartPole-v1", "PPO", "benchmark_arc/ppo/ppo_classic_arc.yaml", "ppo_cartpole_arc", 498.94),
    ("CartPole-v1", "SAC", "benchmark_arc/sac/sac_classic_arc.yaml", "sac_cartpole_arc", 406.09),
    ("CartPole-v1", "CrossQ", "benchmark/crossq/crossq_classic.yaml", "crossq_cartpole", 334.59),
    ("Acrobot-v1", "DQN", "benchmark_arc/dqn/dqn_classic_arc.yaml", "dqn_boltzmann_acrobot_arc", -94.17),
    ("Acrobot-v1", "DDQN+PER", "benchmark_arc/dqn/dqn_classic_arc.yaml", "ddqn_per_acrobot_arc", -83.92),
    ("Acrobot-v1", "A2C", "benchmark_arc/a2c/a2c_classic_arc.yaml", "a2c_gae_acrobot_arc", -83.99),
    ("Acrobot-v1", "PPO", "benchmark_arc/ppo/ppo_classic_arc.yaml", "ppo_acrobot_arc", -81.28),
    ("Acrobot-v1", "SAC", "benchmark_arc/sac/sac_classic_arc.yaml", "sac_acrobot_arc", -92.60),
    ("Acrobot-v1", "CrossQ", "benchmark/crossq/crossq_classic.yaml", "crossq_acrobot", -103.13),
    ("Pendulum-v1", "A2C", "benchmark_arc/a2c/a2c_classic_arc.yaml", "a2c_gae_pendulum_arc", -820.74),
    ("Pendulum-v1", "PPO", "benchmark_arc/ppo/ppo_classic_arc.yaml", "ppo_pendulum_arc", -174.87),
    ("Pendulum-v1", "SAC", "benchmark_arc/sac/sac_classic_arc.yaml", "sac_pendulum_arc", -150.97),
    ("Pendulum-v1", "CrossQ", "benchmark/crossq/crossq_classic.yaml", "crossq_pendulum", -145.66),
    ("LunarLander-v3", "DQN", "benchmark_arc/dqn/dqn_box2d_arc.yaml", "dqn_concat_lunar_arc", 195.21),
    ("LunarLander-v3", "DDQN+PER", "benchmark_arc/dqn/dqn_box2d_arc.yaml", "ddqn_per_concat_lunar_arc", 265.90),
    ("LunarLander-v3", "A2C", "benchmark_arc/a2c/a2c_classic_arc.yaml", "a2c_gae_lunar_arc", 27.38),
    ("LunarLander-v3", "PPO", "benchmark_arc/ppo/ppo_box2d_arc.yaml", "ppo_lunar_arc", 183.30),
    ("LunarLander-v3", "SAC", "benchmark_arc/sac/sac_box2d_arc.yaml", "sac_lunar_arc", 106.17),
    ("LunarLander-v3", "CrossQ", "benchmark/crossq/crossq_box2d.yaml", "crossq_lunar", 139.21),
    ("LunarLanderContinuous-v3", "A2C", "benchmark_arc/a2c/a2c_classic_arc.yaml", "a2c_gae_lunar_continuous_arc", -76.81),
    ("LunarLanderContinuous-v3", "PPO", "benchmark_arc/ppo/ppo_box2d_arc.yaml", "ppo_lunar_continuous_arc", 132.58),
    ("LunarLanderContinuous-v3", "SAC", "benchmark_arc/sac/sac_box2d_arc.yaml", "sac_lunar_continuous_arc", 125.00),
    ("LunarLanderContinuous-v3", "CrossQ", "benchmark/crossq/crossq_box2d.yaml", "crossq_lunar_continuous", 268.91),
]  # fmt: skip
STAMP = re.compile(r"_(\d{4}_\d{2}_\d{2}_\d{6})$")


def latest_run(data: Path, name: str) -> Path | None:
    runs = sorted(
        p for p in data.glob(f"{name}_*") if STAMP.search(p.name) and p.name[:-18] == name
    )
    return runs[-1] if runs else None


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def row(data: Path, cell: tuple) -> str:
    env, algo, file, name, published = cell
    run = latest_run(data, name)
    head = f"| {env} | {algo} | `{file.split('/')[-1]}` | `{name}` | {published:.2f} |"
    if run is None:
        return f"{head} not run | | | |"
    sessions = sorted((run / "info").glob(f"{name}_t0_s*_session_metrics_scalar.json"))
    scores = [read(p)["total_reward_ma"] for p in sessions]
    trial = run / f"{name}_t0_trial_metrics_scalar.json"
    if not trial.is_file():
        return f"{head} unfinished | {', '.join(f'{s:.2f}' for s in scores)} | | |"
    metrics = read(trial)
    ma = metrics["total_reward_ma"]
    start = datetime.strptime(STAMP.search(run.name).group(1), "%Y_%m_%d_%H%M%S")
    seconds = round((datetime.fromtimestamp(trial.stat().st_mtime) - start).total_seconds())
    mark = "**" if ma >= published else ""
    shown = ", ".join(f"{s:.2f}" for s in scores)
    return f"{head} {mark}{ma:.2f}{mark} | {shown} | {metrics['frame']:.0e} | {seconds // 60} min {seconds % 60} s |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("bench/results/original/data"))
    args = parser.parse_args()
    print(
        "| env | algorithm | SPEC_FILE | SPEC_NAME | published | run here | sessions | frames "
        "| wall time |\n|---|---|---|---|---|---|---|---|---|"
    )
    for cell in CELLS:
        print(row(args.data, cell))


if __name__ == "__main__":
    main()
