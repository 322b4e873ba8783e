"""What the learn-step benchmarks share: an agent built from a spec dict, and the time of its
learn steps (sample + train)."""

import time


def agent_of(raw: dict):
    """The agent a spec dict describes, with its env; the clock never ends the run."""
    from slm_lab.agent import Agent
    from slm_lab.experiment.loop import Clock
    from slm_lab.experiment.session import make_env
    from slm_lab.spec.validate import validate

    full, _ = validate(raw)
    env = make_env(full)
    return Agent(full, env, Clock(10**9, full["env"]["num_envs"])), env


def time_steps(algo, memory, steps: int) -> float:
    """Seconds per learn step (sample + train) over `steps` steps."""
    start = time.perf_counter()
    for _ in range(steps):
        algo.train(memory.sample())
    return (time.perf_counter() - start) / steps
