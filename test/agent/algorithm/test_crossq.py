"""CrossQ from the original lab's spec files: arc critics with its batch renorm layers, the
warm-up read from the spec, Atari; and our MLPNet critics' warm-up key."""

from pathlib import Path

import pandas as pd
import pytest

from slm_lab.agent.net.batch_renorm import BatchRenorm1d
from slm_lab.experiment.run import preflight, start
from slm_lab.spec.loader import load_spec
from test.conftest import make_agent, tiny_sac

ORIGINAL = Path(__file__).parents[2] / "fixtures" / "original-specs" / "benchmark" / "crossq"
CLASSIC = [
    ("crossq_classic.yaml", n) for n in ("crossq_cartpole", "crossq_acrobot", "crossq_pendulum")
]
BOX2D = [("crossq_box2d.yaml", n) for n in ("crossq_lunar", "crossq_lunar_continuous")]
SHORT_FRAMES = 300


def brn_layers(net) -> list[BatchRenorm1d]:
    return [m for m in net.modules() if isinstance(m, BatchRenorm1d)]


@pytest.mark.parametrize(("file", "name"), CLASSIC + BOX2D)
def test_original_crossq_specs_build_with_arc_critics(file: str, name: str):
    spec = load_spec(str(ORIGINAL / file), name).spec
    preflight(spec)
    agent, _ = make_agent(spec)
    layers = brn_layers(agent.algorithm.nets["q1"])
    assert len(layers) == 2
    assert all((b.warmup_steps, b.eps, b.momentum) == (5000, 0.001, 0.01) for b in layers)
    assert layers[0].num_features == 256 and layers[0].count == 0  # the dummy pass counts none


def test_mlp_critics_read_the_warmup_key():
    raw = tiny_sac()
    raw["agent"]["name"] = raw["agent"]["algorithm"]["name"] = "CrossQ"
    raw["agent"]["critic_net"] = {"type": "MLPNet", "hid_layers": [16, 16]}
    layers = brn_layers(make_agent(raw)[0].algorithm.nets["q1"])
    assert [b.warmup_steps for b in layers] == [5000] * 3  # the original's specs' value
    raw["agent"]["algorithm"]["brn_warmup_steps"] = 7
    layers = brn_layers(make_agent(raw)[0].algorithm.nets["q1"])
    assert [b.warmup_steps for b in layers] == [7] * 3


def train_briefly(tmp_path: Path, file: str, name: str, sets: list[str]) -> pd.DataFrame:
    loaded = load_spec(str(ORIGINAL / file), name, sets)
    spec = loaded.spec
    spec["env"]["max_frame"] = SHORT_FRAMES
    spec["agent"]["algorithm"]["training_start_step"] = SHORT_FRAMES // 3
    spec["meta"].update(max_session=1, log_frequency=SHORT_FRAMES // 2)
    start(spec, loaded.file, "train", False, "WARNING", tmp_path)
    (run,) = tmp_path.iterdir()
    return pd.read_csv(run / "info" / f"{spec['name']}_t0_s0_session_df_train.csv")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("file", "name", "sets"),
    [
        ("crossq_classic.yaml", "crossq_cartpole", []),
        ("crossq_classic.yaml", "crossq_pendulum", []),
        ("crossq_box2d.yaml", "crossq_lunar_continuous", []),
        ("crossq_atari.yaml", "crossq_atari", ["env=ALE/Pong-v5"]),
    ],
)
def test_original_crossq_specs_train(tmp_path: Path, file: str, name: str, sets: list[str]):
    df = train_briefly(tmp_path, file, name, sets)
    assert df["frame"].iloc[-1] >= SHORT_FRAMES
    assert df["loss"].notna().any()  # the critics trained
