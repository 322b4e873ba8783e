"""Mutated tiny specs through the real `slm-lab` CLI: a clean run (0) or a one-line refusal (2)."""

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slm_lab.spec import names
from test.conftest import run_cli, run_dirs, write_spec
from test.spec.test_fuzz import FAMILIES, LEAVES, mutate, paths

MAX_FRAME = 256  # one or two updates: an accepted mutation trains in seconds
LOG_FREQUENCY = 128
CLI_TIMEOUT_S = 180
# keys whose large values are valid but cost time or memory; larger mutations are not drawn
COST_LIMITS = {
    "max_frame": 4 * MAX_FRAME,
    "num_envs": 8,
    "max_session": 2,
    "time_horizon": 1024,
    "minibatch_size": 1024,
    "batch_size": 1024,
    "max_size": 100_000,
    "training_epoch": 8,
    "training_iter": 8,
}


NAMES = {
    ("name", "algorithm"): names.ALGORITHMS,
    ("name", "memory"): names.MEMORIES,
    ("name", "optim_spec"): names.OPTIMIZERS,
    ("name", "env"): ("CartPole-v1", "Acrobot-v1", "Pendulum-v1", "MountainCarContinuous-v0"),
    "type": names.NETS,
    "hid_layers_activation": tuple(names.ACTIVATIONS),
    "action_policy": names.ACTION_POLICIES,
    "action_pdtype": names.PDTYPES,
    "update_type": ("replace", "polyak"),
}


def tiny(family: str) -> dict:
    return FAMILIES[family](max_frame=MAX_FRAME, log_frequency=LOG_FREQUENCY)


def at(spec: dict, path: tuple) -> object:
    for key in path:
        spec = spec[key]
    return spec


def leaves(spec: dict) -> list[tuple]:
    """Key paths to values, not to sections (test_fuzz replaces whole sections in process)."""
    return [p for p in sorted(paths(spec)) if not isinstance(at(spec, p), dict)]


def costly(path: tuple, value: object) -> bool:
    """A number the lab accepts at a key where it would make the run long or large."""
    limit = COST_LIMITS.get(path[-1])
    if limit is None or isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and value > limit


def plausible(path: tuple, original: object) -> st.SearchStrategy:
    """Values of the original's type, and names the lab knows at this key: mostly valid specs."""
    key, parent = path[-1], path[-2] if len(path) > 1 else ""
    if key in NAMES or (key, parent) in NAMES:
        return st.sampled_from(NAMES.get((key, parent)) or NAMES[key])
    if key == "name" and parent.endswith("_spec"):
        return st.sampled_from(names.SCHEDULES)
    if isinstance(original, bool):
        return st.booleans()
    if isinstance(original, int):
        return st.integers(0, 2 * original + 2)
    if isinstance(original, float):
        return st.floats(0, 2 * original + 1)
    if isinstance(original, list):
        return st.lists(st.integers(1, 64), max_size=3)
    return st.nothing()


@st.composite
def mutations(draw) -> tuple[str, dict]:
    """A family and its tiny spec with one key set to a plausible or a random value, maybe with an
    unknown key beside it."""
    family = draw(st.sampled_from(sorted(FAMILIES)))
    spec = tiny(family)
    path = draw(st.sampled_from(leaves(spec)))
    values = st.one_of(plausible(path, at(spec, path)), LEAVES)
    value = draw(values.filter(lambda v: not costly(path, v)))
    mutate(spec, path, value)
    if draw(st.booleans()):
        mutate(spec, (*path[:-1], "zz_unknown"), 1)
    return family, spec


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def check_run(cwd: Path, spec: dict) -> None:
    """Run the spec through the CLI in cwd; exit 0 with a run folder, or 2 with none."""
    path = write_spec(cwd, {"fuzz": spec})
    result = run_cli("run", str(path), "fuzz", "train", cwd=cwd, timeout=CLI_TIMEOUT_S)
    report = f"exit {result.returncode}\nspec: {json.dumps(spec)}\nstderr:\n{result.stderr}"
    assert result.returncode in (0, 2), report
    assert "Traceback" not in result.stderr, report
    if result.returncode == 2:
        assert last_line(result.stderr).startswith("error:"), report
        assert run_dirs(cwd) == [], report  # a refusal leaves no run folder behind
        return
    (run,) = run_dirs(cwd)
    saved = json.loads((run / "fuzz_spec.json").read_text())
    assert {"agent", "env", "meta"} <= set(saved) and (run / "fuzz_t0_spec.json").is_file()


@pytest.mark.slow
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(case=mutations())
def test_cli_runs_or_refuses_mutated_specs(tmp_path_factory: pytest.TempPathFactory, case):
    family, spec = case
    check_run(tmp_path_factory.mktemp(f"fuzz_{family}"), spec)


def check_refused(tmp_path: Path, spec: dict, key_path: str) -> None:
    """Exit 2 before any run folder, the one error line naming key_path."""
    result = run_cli("run", str(write_spec(tmp_path, {"r": spec})), "r", "train", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and run_dirs(tmp_path) == []
    assert last_line(result.stderr).startswith("error:")
    assert f"[r] {key_path}:" in last_line(result.stderr)


def test_q_learner_on_continuous_actions_is_refused(tmp_path: Path):
    """Found fuzzing the CLI: DQN on Pendulum passed preflight, then crashed in training (exit 1)."""
    spec = tiny("sac")  # Pendulum-v1: continuous actions
    spec["agent"]["algorithm"] = {"name": "DQN", "training_start_step": 100}
    del spec["agent"]["name"]
    check_refused(tmp_path, spec, "agent.algorithm.name")


def test_out_layer_activation_needs_one_per_head(tmp_path: Path):
    """Found fuzzing the CLI: a list longer than the net's heads crashed preflight (exit 1)."""
    spec = tiny("ppo")  # CartPole: the actor has one head
    spec["agent"]["net"]["out_layer_activation"] = ["tanh", None]
    check_refused(tmp_path, spec, "agent.net.out_layer_activation")


def test_cost_limits_name_keys_of_the_tiny_specs():
    keys = {p[-1] for family in FAMILIES for p in paths(tiny(family))}
    assert set(COST_LIMITS) <= keys
    assert costly(("env", "max_frame"), 10**12) and not costly(("env", "max_frame"), "x")
