"""The original lab's spec corpus (test/corpus.py): every entry loads and builds here or is
refused in one line; a short run of each trains (slow); its keys mean what they meant there."""

from pathlib import Path

import pandas as pd
import pytest

from slm_lab.experiment.run import open_run, preflight, run_trial, start
from slm_lab.lib.errors import SpecError
from slm_lab.spec import load_spec, registry
from slm_lab.spec.loader import parse, read_text, spec_names
from test import corpus
from test.conftest import FIXTURES, make_agent, step_agent

FILES, ENTRIES = 119, 243  # the original's benchmark/ and benchmark_arc/ trees
KNOWN_WARNINGS = (
    "clip_val_loss: unknown key, ignored; did you mean clip_vloss?",  # its 13 typos
    "is a gym-era Atari id",  # VideoPinball-v0
    "meta.num_gpus: unknown key",
)
DQN_FILES = ("benchmark/dqn/dqn_cartpole.json", "benchmark_arc/dqn/dqn_classic_arc.yaml")
RUNNABLE = [
    ("benchmark/ppo/ppo_cartpole.json", "ppo_cartpole"),
    ("benchmark_arc/ppo/ppo_classic_arc.yaml", "ppo_cartpole_arc"),
    ("benchmark_arc/ppo/ppo_classic_arc.yaml", "ppo_acrobot_arc"),
    # every value-based spec, TorchArc blocks included
    *[
        (rel, n)
        for rel in DQN_FILES
        for n in spec_names(parse(read_text(FIXTURES / rel), FIXTURES / rel))
    ],
]

ALL = corpus.entries()


def test_fixture_files_present():
    assert len(corpus.files()) == FILES and len(ALL) == ENTRIES
    for name in ("LICENSE", "BENCHMARKS.md", "README.md"):
        assert (FIXTURES / name).is_file()


@pytest.mark.parametrize("entry", [e for e in ALL if not e.pybullet], ids=lambda e: e.id)
def test_every_entry_loads(entry: corpus.Entry):
    loaded = corpus.load(entry)
    spec = loaded.spec
    assert spec["agent"]["algorithm"]["name"] in registry.ALGORITHMS
    assert isinstance(spec["env"]["max_frame"], int)
    for warning in loaded.warnings:
        assert any(known in warning for known in KNOWN_WARNINGS), warning


@pytest.mark.parametrize("entry", [e for e in ALL if e.pybullet], ids=lambda e: e.id)
def test_pybullet_is_refused_naming_its_package(entry: corpus.Entry):
    with pytest.raises(SpecError) as err:
        corpus.load(entry)
    message = str(err.value)
    assert "env.name: HalfCheetahBulletEnv-v0 is a PyBullet env: it needs the pybullet" in message
    assert "\n" not in message


@pytest.mark.parametrize("entry", corpus.sample(ALL), ids=lambda e: e.id)
def test_a_sample_of_each_family_builds(entry: corpus.Entry):
    preflight(corpus.load(entry).spec)


@pytest.mark.slow
@pytest.mark.parametrize("entry", ALL, ids=lambda e: e.id)
def test_every_entry_builds_and_runs(tmp_path: Path, entry: corpus.Entry):
    """Every entry trains a shortened copy (corpus.shorten) to its trial metrics in dev mode
    (gradients and weights checked); playground/ entries build only; PyBullet is refused."""
    if entry.pybullet:
        assert corpus.build(entry)[0] == corpus.REFUSED
        return
    loaded = corpus.load(entry)
    if entry.playground:
        preflight(loaded.spec)
        return
    short = corpus.shorten(loaded.spec)
    spec, ctx = open_run(short, loaded.file, "dev", False, "WARNING", tmp_path)  # dev: + checks
    metrics = run_trial(spec, ctx)  # the session builds env and agent (preflight: the test above)
    assert metrics["frame"] == spec["env"]["max_frame"]
    (run,) = tmp_path.iterdir()
    df = pd.read_csv(next((run / "info").glob("*_session_df_train.csv")))
    trains = spec["agent"]["algorithm"]["name"] != "Random"
    assert df["opt_step"].iloc[-1] > 0 or not trains


@pytest.mark.parametrize(("rel", "name"), RUNNABLE)
def test_runnable_fixtures_train(tmp_path: Path, rel: str, name: str):
    loaded = load_spec(FIXTURES / rel, name)
    spec = loaded.spec
    spec["env"]["max_frame"] = 2048  # a shortened copy
    spec["meta"].update(max_session=1, random_seed=3)
    _, metrics = start(spec, loaded.file, "train", False, "WARNING", tmp_path)
    assert metrics["frame"] == 2048
    (run,) = tmp_path.iterdir()
    df = pd.read_csv(run / "info" / f"{name}_t0_s0_session_df_train.csv")
    assert df["opt_step"].iloc[-1] > 0 and df["total_reward"].notna().iloc[-1]


def original_rounds(frames: int, num_envs: int, start: int, frequency: int) -> int:
    """Training rounds the original lab takes in `frames` frames: its replay marks a vector step
    for training when it stores a transition t (from 0) with seen_size t + 1 > training_start_step
    and head t % training_frequency == 0 (its memory/replay.py)."""
    return sum(
        any(t + 1 > start and t % frequency == 0 for t in range(end - num_envs, end))
        for end in range(num_envs, frames + 1, num_envs)
    )


@pytest.mark.parametrize(
    ("rel", "name", "frames", "steps_per_round"),
    [
        # SAC: training_iter defaults to num_envs (8): one batch a frame once training starts
        ("benchmark/sac/sac_lunar.json", "sac_lunar", 1024, 8),
        # DQN: training_iter 4 x training_batch_iter 1 a vector step of 8 envs
        ("benchmark/dqn/dqn_lunar.json", "dqn_concat_lunar", 160, 4),
    ],
)
def test_gradient_steps_per_frame_are_the_originals(rel, name, frames, steps_per_round):
    spec = load_spec(FIXTURES / rel, name).spec
    algo = spec["agent"]["algorithm"]
    spec["env"]["max_frame"] = frames
    agent, env = make_agent(spec)
    trained = []
    train = agent.algorithm.train
    agent.algorithm.train = lambda batch: trained.append(1) or train(batch)
    obs = env.reset(seed=0)
    while agent.algorithm.clock.frame < frames:
        obs = step_agent(agent, env, obs, agent.act(obs))
    num_envs = spec["env"]["num_envs"]
    rounds = original_rounds(
        frames, num_envs, algo["training_start_step"], algo["training_frequency"]
    )
    assert algo["training_iter"] == steps_per_round and rounds > 0
    assert len(trained) == rounds * steps_per_round


def test_a_shared_net_trains_with_the_actors_optimizer():
    """The original's 61 shared-net entries give only actor_/critic_optim_spec: the net's one
    optimizer is the actor's (RMSprop here)."""
    entry = corpus.Entry(FIXTURES / "benchmark/a2c/a2c_gae_atari.json", "a2c_gae_atari")
    net = corpus.load(entry).spec["agent"]["net"]
    assert net["shared"] and net["optim_spec"] == net["actor_optim_spec"]
    assert net["optim_spec"] == {"name": "RMSprop", "lr": 7e-4, "alpha": 0.99, "eps": 1e-5}
