"""The optimizer step: torch.optim's fused Adam `step` against FusedStep (the same kernels called
directly, slm_lab/agent/net/fused_step.py), on DQN's and SAC's learn steps, alternating in one
process.

    uv run --group bench python bench/speed_fused_step.py [--steps 300] [--reps 5] [--threads 1]

DQN: bench/speed_dqn.py's spec (64x64, batch 64); SAC: bench/speed_sac.py's (256x256, batch 256).
Each rep times `--steps` learn steps (sample + train) with torch's step, then with FusedStep, on
the same agent (a replay of random transitions).
"""

import argparse
import json
import statistics

import speed_dqn
import speed_sac
import torch
from learn_step import agent_of, time_steps

FILL = 2_000
WARMUP_STEPS = 20


def build(spec: dict):
    raw = json.loads(json.dumps(spec))
    raw["agent"]["algorithm"]["training_start_step"] = 0
    agent, env = agent_of(raw)
    obs = env.reset(seed=0)
    for _ in range(FILL):
        action = agent.act(obs)
        step = env.step(agent.to_env(action))
        agent.store(obs, action, step.reward, step.next_obs, step.terminated, step.truncated)
        obs = step.obs
    return agent.algorithm, agent.memory


def plain(algo) -> None:
    """torch's own step for every optimizer of the algorithm."""
    algo.optim_steps = {id(o): (o, o.step) for o in algo.optims}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name, spec, steps in (("DQN", speed_dqn.SPEC, args.steps), ("SAC", speed_sac.SPEC, 60)):
        algo, memory = build(spec)
        time_steps(algo, memory, WARMUP_STEPS)
        fused = dict(algo.optim_steps)
        times: dict[str, list[float]] = {"torch step": [], "FusedStep": []}
        for _ in range(args.reps):
            plain(algo)
            times["torch step"].append(time_steps(algo, memory, steps))
            algo.optim_steps = dict(fused)
            times["FusedStep"].append(time_steps(algo, memory, steps))
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        runs = {k: ", ".join(f"{t * 1e3:.3f}" for t in v) for k, v in times.items()}
        print(
            f"{name}: torch step {med['torch step']:.3f} ms, FusedStep {med['FusedStep']:.3f} ms "
            f"(medians; {med['torch step'] / med['FusedStep']:.2f}x) | runs: {runs}"
        )


if __name__ == "__main__":
    main()
