"""The original lab's spec files: every one loads; those this version can run, run."""

from pathlib import Path

import pandas as pd
import pytest

from slm_lab.experiment.run import start
from slm_lab.spec import load_spec
from slm_lab.spec.loader import parse, read_text, spec_names
from test.conftest import FIXTURES

SETS = {"env": "ALE/Pong-v5", "max_frame": "1e6"}
PLAYGROUND_SETS = {**SETS, "env": "playground/CartpoleBalance"}
FILES = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))
CASES = [(f, n) for f in FILES for n in spec_names(parse(read_text(f), f))]
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


def test_fixture_files_present():
    assert len(FILES) == 8 and len(CASES) >= 30
    assert (FIXTURES / "LICENSE").is_file()


@pytest.mark.parametrize(("file", "name"), CASES, ids=[f"{f.name}:{n}" for f, n in CASES])
def test_every_fixture_spec_loads(file: Path, name: str):
    text = read_text(file)
    given = PLAYGROUND_SETS if "playground" in file.name else SETS
    sets = [f"{k}={v}" for k, v in given.items() if f"${{{k}}}" in text]
    loaded = load_spec(file, name, sets)
    assert loaded.spec["agent"]["algorithm"]["name"] == loaded.spec["agent"]["name"]
    assert isinstance(loaded.spec["env"]["max_frame"], int)
    for warning in loaded.warnings:
        assert "clip_val_loss: unknown key, ignored; did you mean clip_vloss?" in warning


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
