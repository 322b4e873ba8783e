"""CrossQ's learn-step cost over SAC's at equal sizes, measured alternating in one process.

    uv run python bench/speed_crossq.py [--steps 200] [--reps 5] [--threads 1] [--compile]

Pendulum-v1, one env, batch 256, 256x256 ReLU actor and critics (CrossQ's with batch renorm),
Adam, a gradient step per learn call (critics, actor and temperature). Each rep times `--steps`
learn steps of SAC, then of CrossQ, on replays filled with the same random transitions; the
ratio is CrossQ's median time per step over SAC's. The bar (issue 20): at most 1.3x.
"""

import argparse
import statistics

import numpy as np
import torch
from learn_step import agent_of, time_steps

FILL = 2_000  # random transitions in each replay
WARMUP_STEPS = 20  # untimed steps first (allocations, lazy state)
HIDDEN = [256, 256]
BATCH = 256


def spec(name: str, compiled: bool = False) -> dict:
    net = {
        "compile": compiled,
        "type": "MLPNet",
        "hid_layers": HIDDEN,
        "hid_layers_activation": "relu",
        "optim_spec": {"name": "Adam", "lr": 3e-4},
        "gpu": False,
    }
    agent = {
        "name": name,
        "algorithm": {"name": name, "training_start_step": 0},
        "memory": {"name": "Replay", "batch_size": BATCH, "max_size": FILL},
        "net": net,
    }
    if name == "CrossQ":
        agent["critic_net"] = dict(net)
    return {
        "agent": agent,
        "env": {"name": "Pendulum-v1", "num_envs": 1, "max_frame": 10**9},
        "meta": {"max_session": 1, "log_frequency": 1000},
    }


def build(name: str, compiled: bool = False):
    agent, env = agent_of(spec(name, compiled))
    rng = np.random.default_rng(0)
    obs_dim = env.observation_space.shape[0]
    for _ in range(FILL):
        obs = rng.standard_normal((1, obs_dim)).astype(np.float32)
        action = rng.uniform(-1, 1, (1, 1)).astype(np.float32)
        reward = rng.standard_normal(1).astype(np.float32)
        done = np.zeros(1, bool)
        agent.memory.add(obs, action, reward, obs, done, done)
    return agent.algorithm, agent.memory


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compile", action="store_true", help="also both with net.compile")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    modes = (False, True) if args.compile else (False,)
    pairs = {
        f"{name}{' compiled' if c else ''}": build(name, c)
        for c in modes
        for name in ("SoftActorCritic", "CrossQ")
    }
    for algo, memory in pairs.values():
        time_steps(algo, memory, WARMUP_STEPS)
    times: dict[str, list[float]] = {name: [] for name in pairs}
    for rep in range(args.reps):
        for name, (algo, memory) in pairs.items():
            times[name].append(time_steps(algo, memory, args.steps))
            print(f"rep {rep}: {name}: {times[name][-1] * 1e3:.2f} ms/step", flush=True)
    for c in modes:
        tail = " compiled" if c else ""
        sac, crossq = (statistics.median(times[n + tail]) for n in ("SoftActorCritic", "CrossQ"))
        print(f"\nSAC{tail} {sac * 1e3:.2f} ms/step, CrossQ{tail} {crossq * 1e3:.2f} ms/step")
        print(f"CrossQ / SAC learn-step cost{tail}: {crossq / sac:.2f}x (bar: <= 1.3x)")


if __name__ == "__main__":
    main()
