"""MuJoCo Playground envs (`playground/<Env>`): spec keys and ids without the package; with the
`playground` group, the DLPack handover; in slow tests (JAX compiles each env for about a
minute), the vector env's steps, resets and truncations, the refusals, the original's specs and
a resumed run."""

import importlib.util
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from slm_lab.env.normalize import ObsNorm, TorchObsNorm
from slm_lab.lib.errors import SpecError
from slm_lab.spec import env_ids
from test.conftest import REPO, env_spec, run_cli, run_dirs, write_spec

pytestmark = pytest.mark.xdist_group("playground")

HAS_PLAYGROUND = importlib.util.find_spec("mujoco_playground") is not None
needs_playground = pytest.mark.skipif(
    not HAS_PLAYGROUND, reason="needs the playground group: uv sync --group playground"
)
ENV = "playground/CartpoleBalance"
INSTALL = "uv sync --group playground"


def test_playground_env_section_gets_its_family_defaults():
    env = env_spec(name=ENV, num_envs=8)
    assert env["vectorization_mode"] == "jax"
    assert (env["reward_scale"], env["device"]) == (1.0, "auto")
    assert "reward_scale" not in env_spec(name="CartPole-v1")  # a Playground key only


@pytest.mark.parametrize("device", ["auto", None, "cpu", "cuda", "cuda:1"])
def test_device_settings_are_accepted(device):
    assert env_spec(name=ENV, device=device)["device"] == device


@pytest.mark.parametrize(
    ("env", "path", "words"),
    [
        ({"device": "gpu"}, "env.device", "unknown device 'gpu'"),
        ({"reward_scale": 0}, "env.reward_scale", "0"),
        ({"vectorization_mode": "sync"}, "env.vectorization_mode", "jax"),
        ({"name": "playground/CartpoleBalence"}, "env.name", "CartpoleBalance"),
    ],
)
def test_bad_playground_settings_are_refused(env, path, words):
    with pytest.raises(SpecError) as e:
        env_spec(**{"name": ENV, **env})
    assert e.value.path == path and words in str(e.value)


def test_playground_ids_are_in_the_torch_free_table():
    ids = [i for i in env_ids.env_ids() if i.startswith("playground/")]
    assert len(ids) == 54 and ENV in ids and "playground/Go1Getup" in ids
    env_ids.check_listed(ENV)  # what run-remote checks on the minimal install
    assert env_ids.check_env_id(ENV) == ()  # no gymnasium keyword arguments


def test_torch_obs_norm_matches_the_numpy_one():
    rng = np.random.default_rng(0)
    numpy_norm, torch_norm = ObsNorm((3,), 5.0), TorchObsNorm((3,), 5.0, torch.device("cpu"))
    for _ in range(3):
        batch = rng.normal(2.0, 3.0, (16, 3)).astype(np.float32)
        numpy_norm.update(batch)
        torch_norm.update(torch.from_numpy(batch))
    obs = rng.normal(2.0, 3.0, (4, 3)).astype(np.float32)
    out = torch_norm(torch.from_numpy(obs))
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), numpy_norm(obs), rtol=1e-5, atol=1e-6)
    state = torch_norm.state_dict()
    other = TorchObsNorm((3,), 5.0, torch.device("cpu"))
    other.load_state_dict(state)
    np.testing.assert_allclose(other(torch.from_numpy(obs)).numpy(), out.numpy())
    with pytest.raises(ValueError, match="shape"):
        TorchObsNorm((4,), 5.0, torch.device("cpu")).load_state_dict(state)


def hidden_package(tmp_path: Path) -> dict[str, str]:
    """An environment in which `import mujoco_playground` fails, as on an install without the
    group."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "mujoco_playground.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'mujoco_playground'\", "
        "name='mujoco_playground')\n"
    )
    return {"PYTHONPATH": f"{shadow}{os.pathsep}{REPO}"}


def playground_spec(env: str = ENV, max_frame: int = 2000, **meta) -> dict:
    return {
        "agent": {
            "name": "PPO",
            "algorithm": {"name": "PPO", "time_horizon": 16, "minibatch_size": 32},
            "memory": {"name": "OnPolicyBatchReplay"},
            "net": {"type": "MLPNet", "hid_layers": [16], "optim_spec": {"name": "Adam"}},
        },
        "env": {"name": env, "num_envs": 4, "max_frame": max_frame, "normalize_obs": True},
        "meta": {"max_session": 1, "log_frequency": 256, "random_seed": 3, **meta},
    }


def refused(result: subprocess.CompletedProcess, cwd: Path) -> str:
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert run_dirs(cwd) == []  # refused before any folder
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ")
    return lines[-1]


@pytest.mark.slow  # a CLI run with the package hidden, about 10 s: slow step
def test_without_the_group_a_playground_spec_is_refused_naming_the_install(tmp_path: Path):
    path = write_spec(tmp_path, {"pg": playground_spec()})
    result = run_cli("run", str(path), "pg", "train", cwd=tmp_path, **hidden_package(tmp_path))
    last = refused(result, tmp_path)
    assert ENV in last and f"`{INSTALL}`" in last


@needs_playground
def test_dlpack_handover_shares_memory_with_jax():
    from slm_lab.env.playground import handover, load_jax

    jnp = load_jax().numpy
    x = jnp.arange(12.0, dtype=jnp.float32).reshape(3, 4)
    tensor = handover(x, torch.device("cpu"))
    assert isinstance(tensor, torch.Tensor) and tensor.device.type == "cpu"
    assert tensor.data_ptr() == x.unsafe_buffer_pointer()  # no copy
    array = handover(x, None)
    assert isinstance(array, np.ndarray) and array.ctypes.data == x.unsafe_buffer_pointer()
    np.testing.assert_array_equal(array, np.asarray(x))


@needs_playground
def test_jax_is_told_not_to_preallocate_the_gpu():
    from slm_lab.env.playground import load_jax

    jax = load_jax()
    if "XLA_PYTHON_CLIENT_PREALLOCATE" not in os.environ:  # the user's setting wins
        assert jax.config.jax_pjrt_client_create_options == {"preallocate": False}
    if "JAX_PLATFORMS" not in os.environ:
        assert jax.config.jax_platforms == ("cuda,cpu" if torch.cuda.is_available() else "cpu")


# slow: JAX compiles each env, batch size and episode length on first use (about a minute on two
# cores): the tests share two, CartpoleBalance with 4 envs and episodes of 5 or 1000 steps. With
# JAX_COMPILATION_CACHE_DIR set (.ci/run does), the CLI runs load them from there.

ORIGINAL = REPO / "test" / "fixtures" / "original-specs" / "benchmark_arc" / "ppo"
ORIGINAL_FILE = ORIGINAL / "ppo_playground.yaml"
SHORT_ENVS, SHORT_STEPS = 4, 5


def vec_env(**env):
    from slm_lab.env.vec_env import VecEnv

    spec = env_spec(**{"name": ENV, "num_envs": SHORT_ENVS, "device": None, **env})
    return VecEnv(spec, gamma=0.99)


def actions(seed: int, steps: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (steps, SHORT_ENVS, 1)).astype(np.float32)


@pytest.fixture(scope="module")
def short_env():
    """CartpoleBalance, 4 envs, episodes of 5 steps, observations as numpy."""
    env = vec_env(max_t=SHORT_STEPS)
    yield env
    env.close()


@pytest.mark.slow
@needs_playground
def test_reset_and_step_shapes_and_dtypes(short_env):
    obs = short_env.reset(seed=1)
    assert short_env.observation_space.shape == (5,)
    assert short_env.action_space.shape == (1,) and short_env.action_space.high[0] == 1.0
    assert isinstance(obs, np.ndarray) and obs.shape == (SHORT_ENVS, 5)
    assert obs.dtype == np.float32
    step = short_env.step(actions(0, 1)[0])
    assert step.obs.shape == step.next_obs.shape == (SHORT_ENVS, 5)
    assert step.reward.dtype == step.score.dtype == np.float32
    assert step.terminated.dtype == step.truncated.dtype == np.bool_
    assert step.ended is None and (step.obs == step.next_obs).all()
    assert ((step.score >= 0) & (step.score <= 1)).all()  # DM Control's rewards are in [0, 1]


@pytest.mark.slow
@needs_playground
def test_same_seed_same_first_observations(short_env):
    first = short_env.reset(seed=3).copy()
    np.testing.assert_array_equal(short_env.reset(seed=3), first)
    assert not np.array_equal(short_env.reset(seed=4), first)
    assert len({tuple(o) for o in first}) == SHORT_ENVS  # each env its own start


@pytest.mark.slow
@needs_playground
def test_truncation_hands_over_the_real_last_observation(short_env):
    """At max_t every env is truncated: next_obs is where the episode got to (as an env with
    longer episodes shows after the same actions), obs the new episode's start."""
    moves = actions(5, SHORT_STEPS + 1)
    long_env = vec_env(max_t=None)
    start = short_env.reset(seed=7)
    np.testing.assert_array_equal(long_env.reset(seed=7), start)
    for t in range(SHORT_STEPS):
        step, reference = short_env.step(moves[t]), long_env.step(moves[t])
    assert step.truncated.all() and not step.terminated.any()
    assert step.ended.all()
    np.testing.assert_allclose(step.next_obs, reference.obs, rtol=1e-5, atol=1e-6)
    assert not np.allclose(step.obs, step.next_obs)  # the new episode's first observation
    nxt = short_env.step(moves[SHORT_STEPS])
    assert not nxt.truncated.any() and nxt.ended is None  # the new episodes go on
    long_env.close()


@pytest.mark.slow
@needs_playground
def test_device_path_hands_over_tensors_and_normalises_on_the_device():
    env = vec_env(max_t=SHORT_STEPS, device="cpu", normalize_obs=True)
    assert isinstance(env.obs_norm, TorchObsNorm)
    obs = env.reset(seed=1)
    assert isinstance(obs, torch.Tensor) and obs.dtype == torch.float32
    for move in actions(1, SHORT_STEPS):
        step = env.step(move)
        assert isinstance(step.obs, torch.Tensor) and isinstance(step.next_obs, torch.Tensor)
        assert isinstance(step.reward, np.ndarray) and isinstance(step.score, np.ndarray)
    assert step.ended.all() and not torch.equal(step.obs, step.next_obs)
    assert env.obs_norm.count > SHORT_ENVS * SHORT_STEPS
    env.close()


def original_entries() -> list[str]:
    import yaml

    return [k for k in yaml.safe_load(ORIGINAL_FILE.read_text()) if not k.startswith("_")]


# the env each of the original's playground specs was tuned for
OWN_ENV = {
    "ppo_playground_fingerspin": "FingerSpin",
    "ppo_playground_pendulum": "PendulumSwingup",
    "ppo_playground_humanoid": "HumanoidWalk",
    "ppo_playground_loco": "BarkourJoystick",
    "ppo_playground_loco_go1": "Go1Getup",
    "ppo_playground_loco_precise": "G1JoystickFlatTerrain",
    "ppo_playground_manip": "PandaPickCube",
    "ppo_playground_manip_aloha": "AlohaHandOver",
    "ppo_playground_manip_aloha_peg": "AlohaSinglePegInsertion",
    "ppo_playground_manip_dexterous": "LeapCubeReorient",
    "ppo_playground_manip_robotiq": "PandaRobotiqPushCube",
}
ROBOT_SPECS = [name for name in OWN_ENV if "_loco" in name or "_manip" in name]


def load_original(name: str, env: str, max_frame: int = 100_000_000) -> dict:
    from slm_lab.spec.loader import load_spec

    sets = [f"env=playground/{env}", f"max_frame={max_frame}"]
    return load_spec(str(ORIGINAL_FILE), name, sets).spec


def menagerie_present() -> bool:
    from mujoco_playground._src import mjx_env

    return mjx_env.MENAGERIE_PATH.exists()


@pytest.mark.slow
@needs_playground
def test_the_originals_19_playground_specs_build():
    """Each entry builds unchanged (env and agent) on the env it was tuned for; the
    locomotion and manipulation ones, which need the Menagerie, on a DM Control env too."""
    from slm_lab.experiment.run import preflight
    from slm_lab.lib.errors import UsageError

    names = original_entries()
    assert len(names) == 19
    for name in names:
        own = OWN_ENV.get(name, "CartpoleBalance")
        if name in ROBOT_SPECS:
            preflight(load_original(name, "CartpoleBalance"))
            if not menagerie_present():
                with pytest.raises(UsageError, match="needs the MuJoCo Menagerie"):
                    preflight(load_original(name, own))
                continue
        preflight(load_original(name, own))


def shortened(spec: dict, num_envs: int = SHORT_ENVS) -> dict:
    """Fewer envs, one session, a minibatch that fits, one rollout (and its training)."""
    algo = spec["agent"]["algorithm"]
    batch = algo["time_horizon"] * num_envs
    algo["minibatch_size"] = min(algo["minibatch_size"], batch // 2)
    spec["env"]["num_envs"] = num_envs
    spec["env"]["max_frame"] = batch
    spec["meta"].update(max_session=1, log_frequency=batch, eval_frequency=batch)
    return spec


@pytest.mark.slow
@needs_playground
def test_dm_control_specs_train_a_short_budget(tmp_path: Path):
    from slm_lab.experiment import run

    dm_control = [n for n in original_entries() if n not in ROBOT_SPECS]
    assert len(dm_control) == 11
    for name in dm_control:
        spec = shortened(load_original(name, "CartpoleBalance"))
        run_dir, _ = run.start(spec, ORIGINAL_FILE, "train", False, "WARNING", tmp_path)
        table = run_dir / "info" / f"{spec['name']}_t0_s0_session_df_train.csv"
        assert len(table.read_text().splitlines()) == 2, name  # header and the row


@pytest.mark.slow
@needs_playground
def test_missing_menagerie_is_one_line_naming_env_and_place(tmp_path: Path):
    if menagerie_present():
        pytest.skip("the MuJoCo Menagerie is installed here")
    path = write_spec(tmp_path, {"go1": playground_spec("playground/Go1Getup")})
    last = refused(run_cli("run", str(path), "go1", "train", cwd=tmp_path), tmp_path)
    assert "playground/Go1Getup needs the MuJoCo Menagerie" in last
    assert "mujoco_menagerie" in last and "external_deps" in last


@pytest.mark.slow
@needs_playground
def test_resume_restores_the_learner_and_restarts_the_episodes(tmp_path: Path):
    from test.cli.test_resume import interrupt, resume_command, table

    raw = playground_spec(max_frame=12_800, log_frequency=640)
    path = write_spec(tmp_path, {"pg": raw})
    stderr, code = interrupt(tmp_path, path, "pg", 2, group=True)  # SIGINT, as Ctrl-C
    assert code == 130, stderr[-3000:]
    (run,) = run_dirs(tmp_path)
    stopped = len(table(run, "pg"))
    result = run_cli(*resume_command(stderr), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumes at frame" in result.stderr
    assert f"{ENV} cannot be restored mid-episode: its episodes restart" in result.stderr
    frames = table(run, "pg")["frame"].astype(int)
    assert len(frames) > stopped and frames.tolist() == list(range(640, 12_801, 640))
