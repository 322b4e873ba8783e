"""Every shipped benchmark spec validates strictly (no unknown keys) and builds its env and agent."""

import json
import re
from pathlib import Path

import pydash
import pytest

from slm_lab.experiment.run import preflight
from slm_lab.spec.loader import load_spec
from slm_lab.spec.space import samplers
from test.conftest import FIXTURES

BENCHMARK = Path(__file__).parents[2] / "slm_lab" / "spec" / "benchmark"
FILES = sorted(BENCHMARK.glob("*/*.json"))
# a value for each ${var} the family specs take
VARS = {"env": {"ALE": "ALE/Pong-v5", "": "HalfCheetah-v5"}, "max_frame": "1000000"}
CASES = [(f, name) for f in FILES for name in json.loads(f.read_text())]


def sets_for(file: Path) -> list[str]:
    text = file.read_text()
    out = []
    for var in sorted(set(re.findall(r"\$\{(\w+)\}", text))):
        value = VARS[var]
        if isinstance(value, dict):  # Atari files take an ALE id, the others a MuJoCo one
            value = value["ALE" if "ConvNet" in text else ""]
        out.append(f"{var}={value}")
    return out


@pytest.mark.parametrize(("file", "name"), CASES, ids=[name for _, name in CASES])
def test_benchmark_spec_builds(file: Path, name: str):
    loaded = load_spec(str(file), name, sets_for(file), strict=True)
    preflight(loaded.spec)
    if "search" in loaded.spec:  # a search spec: its block samples, its trials take 2+ seeds
        assert samplers(loaded.spec) and loaded.spec["meta"]["max_session"] >= 2
    else:
        assert loaded.spec["meta"]["max_session"] == 4
    assert loaded.spec["env"]["max_frame"] >= 200_000


def test_atari_specs_record_the_literature_preprocessing():
    loaded = load_spec(str(BENCHMARK / "ppo" / "ppo_atari.json"), "ppo_atari", ["env=ALE/Pong-v5"])
    env = loaded.spec["env"]
    assert loaded.spec["name"] == "ppo_atari_pong"
    expected = {
        "num_envs": 16,
        "max_frame": 10_000_000,
        "frameskip": 4,
        "repeat_action_probability": 0.25,
        "noop_max": 30,
        "fire_reset": True,
        "life_loss_info": True,
        "frame_stack": 4,
        "clip_reward": 1.0,
        "vectorization_mode": "native",
    }
    assert {k: env[k] for k in expected} == expected


def both_specs(shipped: str, original: str) -> tuple[dict, dict]:
    """A shipped spec (named as the original's) and the original's `FILE:NAME`, both loaded."""
    file, name = original.split(":")
    ours = load_spec(str(BENCHMARK / shipped), Path(shipped).stem, strict=True).spec
    theirs = load_spec(str(FIXTURES / file), name).spec
    return {**ours, "name": name}, theirs


# shipped specs that are the original's, converted (their rows cite the original spec's run)
ADOPTED = [
    ("crossq/crossq_acrobot.json", "benchmark/crossq/crossq_classic.yaml:crossq_acrobot"),
    (
        "crossq/crossq_lunar_continuous.json",
        "benchmark/crossq/crossq_box2d.yaml:crossq_lunar_continuous",
    ),
    ("sac/sac_acrobot.json", "benchmark_arc/sac/sac_classic_arc.yaml:sac_acrobot_arc"),
    ("sac/sac_lunar.json", "benchmark_arc/sac/sac_box2d_arc.yaml:sac_lunar_arc"),
    ("sac/sac_pendulum.json", "benchmark_arc/sac/sac_classic_arc.yaml:sac_pendulum_arc"),
    (
        "sac/sac_lunar_continuous.json",
        "benchmark_arc/sac/sac_box2d_arc.yaml:sac_lunar_continuous_arc",
    ),
]


@pytest.mark.parametrize(("shipped", "original"), ADOPTED, ids=[s for s, _ in ADOPTED])
def test_adopted_spec_means_the_originals(shipped: str, original: str):
    ours, theirs = both_specs(shipped, original)
    assert ours == theirs


# shipped specs that are the original's but for the named keys (their rows say why; None: dropped)
CHANGED = [
    (
        "crossq/crossq_lunar.json",
        "benchmark/crossq/crossq_box2d.yaml:crossq_lunar",
        {
            "agent.algorithm.training_iter": 2,
            "agent.net.optim_spec.betas": [0.5, 0.999],
            "agent.critic_net.optim_spec.betas": [0.5, 0.999],
        },
    ),
    (  # the original's 256x128 ReLU arc as the MLPNet it equals, and a higher learning rate
        "dqn/ddqn_per_lunar.json",
        "benchmark_arc/dqn/dqn_box2d_arc.yaml:ddqn_per_concat_lunar_arc",
        {
            "agent.net.type": "MLPNet",
            "agent.net.hid_layers": [256, 128],
            "agent.net.arc": None,
            "agent.net.arc_file": None,
            "agent.net.optim_spec.lr": 0.0005,
        },
    ),
]


@pytest.mark.parametrize(("shipped", "original", "changes"), CHANGED, ids=[s for s, *_ in CHANGED])
def test_changed_spec_differs_from_the_originals_only_where_named(
    shipped: str, original: str, changes: dict
):
    ours, theirs = both_specs(shipped, original)
    for path, value in changes.items():  # None: ours has no such key
        if value is None:
            assert pydash.unset(theirs, path)
        else:
            assert pydash.get(theirs, path) != value
            pydash.set_(theirs, path, value)
    assert ours == theirs
