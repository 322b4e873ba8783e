"""Resume-checkpoint cost: write and read time and file size for shipped specs, replay full.

    uv run python bench/checkpoint_cost.py [SPEC_NAME ...]

Builds the session as a run does (real env, agent and memory), fills the replay to capacity
(torch.save does not compress: the size, not the content, sets the cost), then times `checkpoint`
(one resume checkpoint, atomically) and the `load_checkpoint` a `train@` does.
"""

import argparse
import tempfile
import time
from pathlib import Path

from slm_lab.experiment.context import context
from slm_lab.experiment.session import Session
from slm_lab.spec import load_spec

SPECS = {
    "ppo_cartpole": ("benchmark/ppo/ppo_cartpole.json", {}),
    "ddqn_per_lunar": ("benchmark/dqn/ddqn_per_lunar.json", {}),
    "sac_mujoco": (
        "benchmark/sac/sac_mujoco.json",
        {"env": "HalfCheetah-v5", "max_frame": 1000000},
    ),
    "dqn_atari": ("benchmark/dqn/dqn_atari.json", {"env": "ALE/Pong-v5"}),
}
REPEATS = 3


def fill(memory) -> None:
    """A full replay: every array written, the ring wrapped."""
    for name in getattr(memory, "arrays", ()):
        getattr(memory, name).fill(1)  # every page touched
    if hasattr(memory, "count"):
        memory.count, memory.head = memory.rows * 2, 0


def measure(name: str, root: Path) -> dict:
    file, sets = SPECS[name]
    spec = load_spec(file, name, [f"{k}={v}" for k, v in sets.items()]).spec
    spec["meta"].update(max_session=1, random_seed=1, rigorous_eval=False)
    ctx = context(spec, root / name, "train", False, "INFO")
    ctx.paths.make_dirs()
    session = Session(spec, ctx, 0, 1)
    fill(session.agent.memory)
    obs = session.env.reset(seed=1)
    writes = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        session.checkpoint(obs, force=True)
        writes.append(time.perf_counter() - start)
    session.env.close()
    resumed = Session(spec, context(spec, root / name, "train", False, "INFO", resume=True), 0, 1)
    start = time.perf_counter()
    resumed.load_checkpoint()
    read = time.perf_counter() - start
    resumed.env.close()
    size = ctx.paths.checkpoint_file(0).stat().st_size
    return {"spec": name, "MB": size / 2**20, "write_s": min(writes), "read_s": read}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="*", default=list(SPECS))
    args = parser.parse_args()
    print("| spec | checkpoint MB | write s | read s |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.names:
            r = measure(name, Path(tmp))
            print(f"| {r['spec']} | {r['MB']:.1f} | {r['write_s']:.3f} | {r['read_s']:.3f} |")


if __name__ == "__main__":
    main()
