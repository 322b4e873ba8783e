"""Spec files: formats, lookup, substitution, names, leftovers."""

import json
from pathlib import Path

import pytest

from slm_lab.spec import SpecError, load_spec
from slm_lab.spec.loader import plain_number, short_env, substitute
from test.conftest import tiny_ppo, write_spec

YAML_SPEC = """
_net: &net
  type: MLPNet
  hid_layers: [16]
  hid_layers_activation: tanh
  optim_spec: {name: Adam, lr: 1e-3}

yaml_ppo:
  agent:
    name: PPO
    algorithm: {name: PPO, time_horizon: 32, minibatch_size: 32}
    memory: {name: OnPolicyBatchReplay}
    net:
      <<: *net
      hid_layers: [8, 8]
  env: {name: CartPole-v1, max_frame: 4e4, num_envs: 2}
  meta: {max_session: 1}
"""


def test_yaml_anchors_merge_and_underscore_keys(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text(YAML_SPEC)
    loaded = load_spec(path, "yaml_ppo")
    net = loaded.spec["agent"]["net"]
    assert net["hid_layers"] == [8, 8]  # merge, then override
    assert net["optim_spec"] == {"name": "Adam", "lr": 0.001}  # 1e-3 read as a float
    assert loaded.spec["env"]["max_frame"] == 40000  # 4e4 -> int
    with pytest.raises(SpecError, match=r"'_net' is not in the file; allowed: yaml_ppo"):
        load_spec(path, "_net")


def test_defaults_filled(tiny_spec_file: Path):
    spec = load_spec(tiny_spec_file, "tiny").spec
    algo, meta = spec["agent"]["algorithm"], spec["meta"]
    assert algo["gamma"] == 0.99 and algo["lam"] == 0.95 and algo["normalize_advantages"] is True
    assert algo["clip_eps_spec"]["start_val"] == 0.2
    assert spec["agent"]["net"]["gpu"] == "auto"
    assert meta["eval_frequency"] == meta["log_frequency"] == 500
    assert meta["distributed"] is False and spec["name"] == "tiny"


def test_path_relative_to_package(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    loaded = load_spec("slm_lab/spec/benchmark/ppo/ppo_cartpole.json", "ppo_cartpole")
    assert loaded.spec["env"]["name"] == "CartPole-v1"
    assert loaded.file.is_file()


def test_substitution_numbers_and_env_suffix(tmp_path: Path):
    spec = tiny_ppo()
    spec["env"]["name"] = "${env}"
    spec["env"]["max_frame"] = "${max_frame}"
    spec["agent"]["net"]["optim_spec"]["lr"] = "${lr}"
    path = write_spec(tmp_path, {"sub": spec})
    loaded = load_spec(path, "sub", ["env=Acrobot-v1", "max_frame=4e3", "lr=1e-3"])
    assert loaded.spec["env"]["max_frame"] == 4000
    assert loaded.spec["agent"]["net"]["optim_spec"]["lr"] == 0.001
    assert loaded.name == loaded.spec["name"] == "sub_acrobot"


def test_leftover_variables_listed(tmp_path: Path):
    spec = tiny_ppo()
    spec["env"]["name"] = "${env}"
    spec["env"]["max_frame"] = "${max_frame}"
    path = write_spec(tmp_path, {"sub": spec})
    with pytest.raises(SpecError) as err:
        load_spec(path, "sub")
    assert "unset variables env, max_frame" in str(err.value)
    assert str(path) in str(err.value) and "[sub]" in str(err.value)


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("4e6", "4000000"),
        ("1e-3", "0.001"),
        ("0.5", "0.5"),
        ("3", "3"),
        ("1.0e7", "10000000"),
        ("abc", None),
    ],
)
def test_plain_number(raw: str, plain: str | None):
    assert plain_number(raw) == plain


def test_quoted_number_becomes_bare():
    assert substitute('{"a": "${x}", "b": "n_${x}"}', {"x": "2e3"}) == '{"a": 2000, "b": "n_2000"}'
    assert json.loads(substitute('{"a": "${e}"}', {"e": "ALE/Pong-v5"})) == {"a": "ALE/Pong-v5"}


@pytest.mark.parametrize(
    ("env", "short"),
    [("ALE/Pong-v5", "pong"), ("HalfCheetah-v5", "halfcheetah"), ("CartPole-v1", "cartpole")],
)
def test_short_env(env: str, short: str):
    assert short_env(env) == short


def test_unknown_key_warns_with_suggestion_and_strict_refuses(tmp_path: Path):
    spec = tiny_ppo()
    spec["agent"]["algorithm"]["clip_val_loss"] = False
    path = write_spec(tmp_path, {"typo": spec})
    loaded = load_spec(path, "typo")
    assert loaded.warnings == [
        "agent.algorithm.clip_val_loss: unknown key, ignored; did you mean clip_vloss?"
    ]
    assert loaded.spec["agent"]["algorithm"]["clip_vloss"] is False
    with pytest.raises(SpecError, match=r"agent\.algorithm\.clip_val_loss: unknown key.*--strict"):
        load_spec(path, "typo", strict=True)


def test_legacy_lists_and_body_accepted_with_warning(tmp_path: Path):
    spec = tiny_ppo()
    spec["agent"] = [spec["agent"]]
    spec["env"] = [spec["env"]]
    spec["body"] = {"product": "outer", "num": 1}
    path = write_spec(tmp_path, {"old": spec})
    loaded = load_spec(path, "old")
    assert loaded.spec["agent"]["name"] == "PPO" and "body" not in loaded.spec
    assert len(loaded.warnings) == 3
    assert any("one-element list is the old format" in w for w in loaded.warnings)


def test_unused_set_warns(tiny_spec_file: Path):
    loaded = load_spec(tiny_spec_file, "tiny", ["nothing=1"])
    assert loaded.warnings == ["-s nothing: no ${nothing} in the file, ignored"]
