"""Every policy-gradient and actor-critic family trains end to end through the real CLI."""

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from test.conftest import run_cli, run_dirs, tiny_a2c, tiny_ppo, tiny_sac, write_spec


def reinforce() -> dict:
    raw = tiny_a2c()
    raw["agent"]["algorithm"] = {"name": "Reinforce", "training_frequency": 2}
    raw["agent"]["memory"] = {"name": "OnPolicyReplay"}
    return raw


def a2c_nstep_beta() -> dict:
    raw = tiny_a2c(max_frame=1000)
    raw["env"]["name"] = "Pendulum-v1"
    raw["agent"]["algorithm"].update(lam=None, num_step_returns=4, action_pdtype="Beta")
    return raw


def sac_discrete() -> dict:
    return tiny_sac(env="CartPole-v1")


def crossq() -> dict:
    raw = tiny_sac()
    raw["agent"]["algorithm"]["name"] = "CrossQ"
    raw["agent"]["critic_net"] = {"type": "MLPNet", "hid_layers": [32]}
    return raw


def ppo_sil_rnn() -> dict:
    raw = tiny_ppo()
    raw["agent"]["algorithm"].update(name="PPOSIL", training_iter=2)
    raw["agent"]["memory"].update(batch_size=16, max_size=500)
    raw["agent"]["net"] = {"type": "RecurrentNet", "fc_hid_layers": [16], "seq_len": 3}
    return raw


def a3c() -> dict:
    raw = tiny_a2c(max_session=2, distributed="synced")
    raw["agent"]["net"]["optim_spec"] = {"name": "GlobalAdam", "lr": 0.001}
    return raw


FAMILIES = {
    "reinforce": (reinforce, ["net"]),
    "a2c_nstep_beta": (a2c_nstep_beta, ["actor", "critic"]),
    "sac": (tiny_sac, ["actor", "q1", "q2"]),
    "sac_discrete": (sac_discrete, ["actor", "q1", "q2"]),
    "crossq": (crossq, ["actor", "q1", "q2"]),
    "ppo_sil_rnn": (ppo_sil_rnn, ["actor", "critic"]),
    "a3c": (a3c, ["actor", "critic"]),
}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n == "a3c" else n for n in FAMILIES]
)  # A3C's two distributed sessions (about 15 s) run in the slow suite
def test_family_trains_through_the_cli(tmp_path: Path, name: str):
    build, nets = FAMILIES[name]
    raw = build()
    path = write_spec(tmp_path, {name: raw})
    result = run_cli("run", str(path), name, "train", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = run_dirs(tmp_path)
    sessions = raw["meta"]["max_session"]
    metrics = json.loads((run / f"{name}_t0_trial_metrics_scalar.json").read_text())
    # a distributed trial's sessions share max_frame, as the original lab splits it
    share = sessions if raw["meta"].get("distributed") else 1
    assert metrics["frame"] == raw["env"]["max_frame"] // share and metrics["sessions"] == sessions
    df = pd.read_csv(run / "info" / f"{name}_t0_s0_session_df_train.csv")
    assert df["opt_step"].iloc[-1] > 0 and df["loss"].notna().any()
    for net in nets:
        state = torch.load(run / "model" / f"{name}_t0_s0_{net}_model.pt", weights_only=True)
        assert all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point())
