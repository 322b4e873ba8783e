"""Shared test helpers: paths, the real CLI as a subprocess, tiny specs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
# PNG export starts a browser (about 2.5 s a run): off here, on in the tests of graphs (PNG=1)
os.environ.setdefault("SLM_LAB_PNG", "0")
PNG = {"SLM_LAB_PNG": "1"}
# parallel test workers (pytest-xdist) share the cores: each session takes its share of threads,
# not all of them (torch threads oversubscribed on busy cores spin and run many times slower)
if workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")):
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, len(os.sched_getaffinity(0)) // workers)))

TEST_DIR = Path(__file__).parent
REPO = TEST_DIR.parent
FIXTURES = TEST_DIR / "fixtures" / "original-specs"
SPEC_DIR = REPO / "slm_lab" / "spec"
CLI = Path(sys.executable).parent / "slm-lab"
CLI_TIMEOUT_S = 300


def run_cli(
    *args: str, cwd: Path, timeout: int = CLI_TIMEOUT_S, **env_vars: str
) -> subprocess.CompletedProcess:
    """The installed `slm-lab` console script, as a user runs it (env_vars added to its
    environment)."""
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", **env_vars}
    return subprocess.run(
        [str(CLI), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def tiny_ppo(max_frame: int = 2000, **meta) -> dict:
    """A PPO CartPole spec small enough for a CLI test."""
    return {
        "agent": {
            "name": "PPO",
            "algorithm": {
                "name": "PPO",
                "time_horizon": 64,
                "minibatch_size": 64,
                "training_epoch": 2,
                "entropy_coef_spec": {"name": "no_decay", "start_val": 0.01},
            },
            "memory": {"name": "OnPolicyBatchReplay"},
            "net": {
                "type": "MLPNet",
                "hid_layers": [32],
                "hid_layers_activation": "tanh",
                "optim_spec": {"name": "Adam", "lr": 0.001},
            },
        },
        "env": {"name": "CartPole-v1", "num_envs": 2, "max_frame": max_frame},
        "meta": {"max_session": 1, "log_frequency": 500, "random_seed": 7, **meta},
    }


def tiny_dqn(max_frame: int = 2000, **meta) -> dict:
    """A DoubleDQN + PrioritizedReplay CartPole spec small enough for a CLI test."""
    raw = tiny_ppo(max_frame, **meta)
    raw["agent"]["name"] = "DoubleDQN"
    raw["agent"]["algorithm"] = {
        "name": "DoubleDQN",
        "action_policy": "epsilon_greedy",
        "explore_var_spec": {"name": "linear_decay", "start_val": 1.0, "end_val": 0.1},
        "training_start_step": 64,
        "training_iter": 2,
    }
    raw["agent"]["memory"] = {"name": "PrioritizedReplay", "batch_size": 32, "max_size": 1000}
    raw["agent"]["net"].update(update_type="polyak", polyak_coef=0.1)
    return raw


def env_spec(**env) -> dict:
    """A validated env section (defaults filled in, as a session builds its env from)."""
    from slm_lab.spec.validate import Validator, check_env

    return check_env({"max_frame": 10**6, **env}, Validator())


def steps(env, actions, tracker=None) -> list:
    """Step env with each action batch; the steps, with their returns fed to `tracker`."""
    out = []
    for action in actions:
        step = env.step(action)
        if tracker is not None:
            tracker.add(step.score, step.ended)
        out.append(step)
    return out


def step_agent(agent, env, obs, action):
    """One step of the training loop (experiment/loop.py) for a test that picks the actions:
    env step, clock tick, store, learn; returns the observations to act on next."""
    step = env.step(agent.to_env(action))
    agent.algorithm.clock.tick()
    agent.store(obs, action, step.reward, step.next_obs, step.terminated, step.truncated)
    agent.learn()
    return step.obs


def write_spec(folder: Path, specs: dict, name: str = "spec.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(specs, indent=2))
    return path


def run_dirs(cwd: Path) -> list[Path]:
    data = cwd / "data"
    return sorted(data.iterdir()) if data.exists() else []


@pytest.fixture
def tiny_spec_file(tmp_path: Path) -> Path:
    return write_spec(tmp_path, {"tiny": tiny_ppo()})


def tiny_a2c(max_frame: int = 2000, **meta) -> dict:
    """An A2C (GAE) CartPole spec small enough for a CLI test."""
    raw = tiny_ppo(max_frame, **meta)
    raw["agent"]["name"] = "ActorCritic"
    raw["agent"]["algorithm"] = {
        "name": "ActorCritic",
        "lam": 0.95,
        "training_frequency": 16,
        "entropy_coef_spec": {"name": "no_decay", "start_val": 0.01},
    }
    return raw


def tiny_sac(max_frame: int = 1000, env: str = "Pendulum-v1", **meta) -> dict:
    """A SAC spec small enough for a CLI test (continuous on Pendulum by default)."""
    raw = tiny_ppo(max_frame, **meta)
    raw["env"]["name"] = env
    raw["agent"]["name"] = "SoftActorCritic"
    raw["agent"]["algorithm"] = {
        "name": "SoftActorCritic",
        "training_start_step": 100,
        "training_iter": 1,
    }
    raw["agent"]["memory"] = {"name": "Replay", "batch_size": 32, "max_size": 1000}
    raw["agent"]["net"]["hid_layers_activation"] = "relu"
    return raw


def make_agent(raw: dict):
    """A validated raw spec's agent and its vector env, as a session builds them."""
    from slm_lab.agent import Agent
    from slm_lab.experiment.loop import Clock
    from slm_lab.experiment.session import make_env
    from slm_lab.spec.validate import validate

    spec, _ = validate(raw)
    clock = Clock(spec["env"]["max_frame"], spec["env"]["num_envs"])
    env = make_env(spec)
    return Agent(spec, env, clock), env
