"""Every refusal names the file, the spec, the key path and what is allowed."""

from pathlib import Path

import pytest

from slm_lab.lib.errors import LabError
from slm_lab.spec import SpecError, load_spec
from test.conftest import tiny_dqn, tiny_ppo, tiny_sac, write_spec


def refuse(tmp_path: Path, mutate) -> str:
    spec = tiny_ppo()
    mutate(spec)
    path = write_spec(tmp_path, {"bad": spec})
    with pytest.raises(SpecError) as err:
        load_spec(path, "bad")
    message = str(err.value)
    assert message.startswith(f"{path} [bad]")
    assert "\n" not in message
    return message


def test_unknown_algorithm(tmp_path: Path):
    msg = refuse(tmp_path, lambda s: s["agent"]["algorithm"].update(name="PPOO"))
    assert "agent.algorithm.name: unknown algorithm 'PPOO' (did you mean 'PPO'?)" in msg
    assert "allowed: Random, Reinforce" in msg


@pytest.mark.parametrize(
    ("path", "value", "expect"),
    [
        (("agent", "net", "type"), "MLPNett", "agent.net.type: unknown net type 'MLPNett'"),
        (("agent", "memory", "name"), "Replayy", "agent.memory.name: unknown memory 'Replayy'"),
        (
            ("agent", "net", "optim_spec", "name"),
            "Adamm",
            "agent.net.optim_spec.name: unknown optimizer 'Adamm' (did you mean 'Adam'?)",
        ),
        (
            ("agent", "net", "loss_spec"),
            {"name": "MSE"},
            "agent.net.loss_spec.name: unknown loss 'MSE'",
        ),
        (
            ("agent", "net", "hid_layers_activation"),
            "tanhh",
            "agent.net.hid_layers_activation: unknown value 'tanhh' (did you mean 'tanh'?)",
        ),
        (("env", "name"), "CartPol-v1", "env.name: unknown environment 'CartPol-v1'"),
    ],
)
def test_unknown_names(tmp_path: Path, path, value, expect):
    def mutate(spec):
        node = spec
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    msg = refuse(tmp_path, mutate)
    assert expect in msg and "allowed:" in msg


@pytest.mark.parametrize(
    ("section", "key", "value", "expect"),
    [
        (
            "algorithm",
            "gamma",
            "high",
            "agent.algorithm.gamma: expected a number, got 'high' (str)",
        ),
        ("algorithm", "gamma", 1.5, "agent.algorithm.gamma: must be <= 1.0, got 1.5"),
        (
            "algorithm",
            "training_epoch",
            2.5,
            "agent.algorithm.training_epoch: expected an integer, got 2.5",
        ),
        ("algorithm", "clip_vloss", "yes", "agent.algorithm.clip_vloss: expected true or false"),
        ("env", "max_frame", -5, "env.max_frame: must be >= 1, got -5"),
        ("env", "num_envs", 0, "env.num_envs: must be >= 1, got 0"),
        ("meta", "max_session", "4", "meta.max_session: expected an integer, got '4' (str)"),
        ("net", "hid_layers", [64, "a"], "agent.net.hid_layers[1]: expected an integer"),
        ("net", "clip_grad_val", -1, "agent.net.clip_grad_val: must be > 0.0"),
    ],
)
def test_wrong_types_and_impossible_values(tmp_path: Path, section, key, value, expect):
    def mutate(spec):
        node = spec["agent"][section] if section in ("algorithm", "net") else spec[section]
        node[key] = value

    assert expect in refuse(tmp_path, mutate)


def test_missing_required(tmp_path: Path):
    assert "agent.algorithm: missing required key 'name'" in refuse(
        tmp_path, lambda s: s["agent"]["algorithm"].pop("name")
    )
    assert "env: missing required key 'max_frame'" in refuse(
        tmp_path, lambda s: s["env"].pop("max_frame")
    )
    assert "missing required section 'meta'" in refuse(tmp_path, lambda s: s.pop("meta"))


def test_incompatible_memory(tmp_path: Path):
    msg = refuse(tmp_path, lambda s: s["agent"]["memory"].update(name="Replay"))
    assert "agent.memory.name: PPO cannot learn from Replay; allowed: OnPolicyBatchReplay" in msg


def test_schedule_checked(tmp_path: Path):
    msg = refuse(
        tmp_path,
        lambda s: s["agent"]["algorithm"].update(
            entropy_coef_spec={"name": "cosine", "start_val": 1}
        ),
    )
    assert "agent.algorithm.entropy_coef_spec.name: unknown value 'cosine'" in msg
    assert "no_decay, linear_decay" in msg


def test_missing_spec_name_lists_names(tmp_path: Path):
    path = write_spec(tmp_path, {"a_spec": tiny_ppo(), "b_spec": tiny_ppo(), "_anchor": {}})
    with pytest.raises(
        SpecError, match=r"spec 'c_spec' is not in the file; allowed: a_spec, b_spec$"
    ):
        load_spec(path, "c_spec")


def test_invalid_json_names_line(tmp_path: Path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "a": {\n    "agent": 1,\n  }\n}\n')
    with pytest.raises(SpecError, match=r"broken\.json \[a\]: invalid JSON at line 4, column 3"):
        load_spec(path, "a")


def test_invalid_yaml_names_line(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text("a:\n  agent: [1, 2\n  env: x\n")
    with pytest.raises(SpecError, match=r"invalid YAML at line 3"):
        load_spec(path, "a")


def test_unreadable_and_missing_files(tmp_path: Path):
    with pytest.raises(SpecError, match=r"spec file not found: nowhere\.json"):
        load_spec("nowhere.json", "x")
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(SpecError, match="cannot read the spec file"):
        load_spec(path, "x")
    other = tmp_path / "spec.toml"
    other.write_text("a = 1")
    with pytest.raises(
        SpecError, match=r"unsupported spec file type '\.toml'; allowed: \.json, \.yaml, \.yml"
    ):
        load_spec(other, "a")


def test_search_block_checked(tmp_path: Path):
    msg = refuse(
        tmp_path, lambda s: s.update(search={"agent.algorithm.gamma__uniformm": [0.9, 0.99]})
    )
    assert "search.agent.algorithm.gamma__uniformm: unknown search sampler 'uniformm'" in msg
    spec = tiny_ppo()
    spec["search"] = {"agent": {"algorithm": {"gamma__uniform": [0.9, 0.99]}}}
    loaded = load_spec(write_spec(tmp_path, {"ok": spec}, "ok.json"), "ok")
    assert loaded.spec["search"] == {"agent.algorithm.gamma__uniform": [0.9, 0.99]}


def test_env_kwargs_checked_against_the_env(tmp_path: Path):
    spec = tiny_ppo()
    spec["env"].update(name="LunarLander-v3", continuous=False, gravitty=-5.0)
    path = write_spec(tmp_path, {"lunar": spec})
    loaded = load_spec(path, "lunar")
    assert loaded.warnings == ["env.gravitty: unknown key, ignored; did you mean gravity?"]
    from slm_lab.env.vec_env import gym_kwargs

    assert gym_kwargs(loaded.spec["env"]) == {"continuous": False}


@pytest.mark.parametrize(
    ("key", "value", "expect"),
    [
        ("hid_layers", [64, -5], "agent.net.hid_layers[1]: layer widths must be >= 1, got -5"),
        ("out_layer_activation", 5, "agent.net.out_layer_activation: unknown activation 5"),
        (
            "out_layer_activation",
            ["tanh", "nope"],
            "agent.net.out_layer_activation[1]: unknown activation 'nope'",
        ),
    ],
)
def test_net_values_checked(tmp_path: Path, key, value, expect):
    assert expect in refuse(tmp_path, lambda s: s["agent"]["net"].update({key: value}))


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (
            lambda s: s["agent"]["net"].update(loss_spec={"name": "MSELoss", "x": 1}),
            "agent.net.loss_spec.x: unknown argument of MSELoss 'x'",
        ),
        (
            lambda s: s["agent"]["net"].update(
                lr_scheduler_spec={"name": "LinearToZero", "frame": 0}
            ),
            "agent.net.lr_scheduler_spec.frame: LinearToZero needs frame > 0",
        ),
        (
            lambda s: s["agent"]["net"].update(lr_scheduler_spec={"name": "StepLR"}),
            "agent.net.lr_scheduler_spec: StepLR refused its arguments",
        ),
        (
            lambda s: s["agent"]["net"].update(optim_spec={"name": "Adam", "lr": -1}),
            "agent.net.optim_spec: Adam refused its arguments",
        ),
        (
            lambda s: s["agent"]["algorithm"].update(time_horizon=10**10, minibatch_size=4),
            "agent.algorithm.time_horizon: a rollout of 10000000000 x 2 steps needs",
        ),
        (
            lambda s: s["agent"]["algorithm"].update(action_pdtype="Normal"),
            "agent.algorithm.action_pdtype: 'Normal' does not fit action space Discrete(2)",
        ),
        (
            lambda s: s["agent"].update(algorithm={"name": "ActorCritic", "lam": None}),
            "agent.algorithm.lam: ActorCritic needs lam (GAE) or num_step_returns",
        ),
        (
            lambda s: s["agent"]["algorithm"].update(action_pdtype="Beta"),
            "agent.algorithm.action_pdtype: 'Beta' does not fit action space Discrete(2)",
        ),
        (
            lambda s: s["agent"]["algorithm"].update(action_policy="epsilon_greedy"),
            "agent.algorithm.action_policy: PPO samples its policy; allowed: default",
        ),
    ],
)
def test_build_errors_are_spec_errors(mutate, expect):
    assert expect in build_error(tiny_ppo(), mutate)


@pytest.mark.parametrize(
    ("key", "value", "expect"),
    [
        (
            "loss_spec",
            {"name": "NLLLoss"},
            "agent.net.loss_spec.name: NLLLoss needs integer class targets; the lab's targets "
            "are floats; allowed: BCELoss, BCEWithLogitsLoss, CrossEntropyLoss",
        ),
        (
            "loss_spec",
            {"name": "SmoothL1Loss", "betaa": 2.0},
            "agent.net.loss_spec.betaa: unknown argument of SmoothL1Loss 'betaa' (did you mean "
            "'beta'?); allowed: beta",
        ),
        (
            "critic_lr_scheduler_spec",
            {"name": "ReduceLROnPlateau"},
            "agent.net.critic_lr_scheduler_spec.name: ReduceLROnPlateau steps on a metric",
        ),
        (
            "lr_scheduler_spec",
            {"name": "StepLR", "step_size": 2, "gama": 0.5},
            "agent.net.lr_scheduler_spec.gama: unknown argument of StepLR 'gama' (did you mean "
            "'gamma'?); allowed: step_size, gamma",
        ),
        (
            "lr_scheduler_spec",
            {"name": "SequentialLR", "milestones": [2], "schedulers": {"name": "StepLR"}},
            "agent.net.lr_scheduler_spec.schedulers: expected a non-empty list of lr scheduler",
        ),
        (
            "lr_scheduler_spec",
            {"name": "ChainedScheduler", "schedulers": [{"name": "StepLR"}, {"name": "Step"}]},
            "agent.net.lr_scheduler_spec.schedulers[1].name: unknown lr scheduler 'Step'",
        ),
        (
            "lr_scheduler_spec",
            {"name": "ChainedScheduler", "schedulers": [{"name": "LambdaLR"}]},
            "agent.net.lr_scheduler_spec.schedulers[0].name: LambdaLR takes a Python function",
        ),
    ],
)
def test_losses_and_lr_schedulers_checked(tmp_path: Path, key, value, expect):
    assert expect in refuse(tmp_path, lambda s: s["agent"]["net"].update({key: value}))


def test_a_loss_reduction_and_extra_lab_scheduler_keys_warn(tmp_path: Path):
    spec = tiny_ppo()
    spec["agent"]["net"].update(
        loss_spec={"name": "HuberLoss", "reduction": "sum", "delta": 2.0},
        lr_scheduler_spec={"name": "LinearToZero", "frame": 1000, "min_factr": 0.1},
    )
    loaded = load_spec(write_spec(tmp_path, {"ok": spec}), "ok")
    assert loaded.warnings == [
        "agent.net.lr_scheduler_spec.min_factr: unknown key, ignored",
        "agent.net.loss_spec.reduction: ignored: the lab reduces losses itself (per element, "
        "then a mean)",
    ]


def build_error(raw: dict, mutate) -> str:
    """The one-line error of a mutated spec: from validation, or (rules that need the env)
    while its env and agent are built."""
    from slm_lab.experiment.run import preflight
    from slm_lab.spec.validate import validate

    mutate(raw)
    with pytest.raises(LabError) as err:
        spec, _ = validate(raw)
        preflight(spec)
    return str(err.value)


@pytest.mark.parametrize("flag", ["shared", "use_same_optim"])
def test_one_optimizer_is_the_actors(flag: str):
    """The original: a shared net (or use_same_optim) trains with the actor's optimizer spec."""
    from slm_lab.spec.validate import validate

    raw = tiny_ppo()
    net = raw["agent"]["net"]
    net["actor_optim_spec"] = {"name": "RMSprop", "lr": 7e-4}
    net["critic_optim_spec"] = {"name": "SGD", "lr": 0.1}
    net[flag] = True
    spec, _ = validate(raw)
    assert spec["agent"]["net"]["optim_spec"] == {"name": "RMSprop", "lr": 7e-4}


def test_no_optim_spec_is_torch_adam():
    from slm_lab.spec.validate import validate

    raw = tiny_ppo()
    del raw["agent"]["net"]["optim_spec"]
    spec, _ = validate(raw)
    assert spec["agent"]["net"]["optim_spec"] == {"name": "Adam", "lr": 1e-3}


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (
            lambda s: s["agent"]["memory"].update(max_size=10**11),
            "agent.memory.max_size: a replay of 100000000000 transitions needs",
        ),
        (
            lambda s: s["agent"]["memory"].update(batch_size=64, max_size=10),
            "agent.memory.batch_size: batch_size 64 exceeds max_size 10",
        ),
        (
            lambda s: s["agent"]["algorithm"].update(explore_var_spec=None),
            "agent.algorithm.explore_var_spec: epsilon_greedy needs explore_var_spec",
        ),
        (
            lambda s: s["agent"]["algorithm"].update(action_pdtype="Normal"),
            "agent.algorithm.action_pdtype: 'Normal' does not fit action space Discrete(2)",
        ),
    ],
)
def test_value_based_build_errors(mutate, expect):
    assert expect in build_error(tiny_dqn(), mutate)


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (
            lambda s: s["agent"]["algorithm"].update(target_entropy="high"),
            "agent.algorithm.target_entropy: target_entropy must be 'auto' or a number",
        ),
        (
            lambda s: s["agent"]["algorithm"].update(action_pdtype="MultivariateNormal"),
            "agent.algorithm.action_pdtype: SoftActorCritic acts with a tanh-squashed Normal",
        ),
        (
            lambda s: s["agent"]["net"].update(type="RecurrentNet", seq_len=2),
            "agent.net.type: RecurrentNet needs the env's observation window",
        ),
    ],
)
def test_soft_actor_critic_build_errors(mutate, expect):
    assert expect in build_error(tiny_sac(), mutate)


def test_dueling_net_is_for_q_learners():
    from slm_lab.spec.validate import validate

    raw = tiny_ppo()
    raw["agent"]["net"]["type"] = "DuelingMLPNet"
    with pytest.raises(SpecError, match=r"agent\.net\.type: DuelingMLPNet outputs Q-values"):
        validate(raw)


def test_memory_must_suit_the_algorithm():
    from slm_lab.spec.validate import validate

    raw = tiny_dqn()
    raw["agent"]["algorithm"]["name"] = "SARSA"
    raw["agent"]["memory"]["name"] = "Replay"
    with pytest.raises(SpecError, match="SARSA cannot learn from Replay; allowed: OnPolicyBatch"):
        validate(raw)


def test_minibatch_over_the_batch_is_the_batch():
    """The original caps minibatch_size at time_horizon x num_envs (one minibatch an epoch)."""
    from slm_lab.spec.validate import validate

    raw = tiny_ppo()
    raw["agent"]["algorithm"]["minibatch_size"] = 1000
    spec, warnings = validate(raw)
    assert spec["agent"]["algorithm"]["minibatch_size"] == 128
    assert warnings == [
        "agent.algorithm.minibatch_size: 1000 exceeds the batch time_horizon x num_envs = 128: "
        "128 used, as the original lab does"
    ]


def test_original_lab_specs_that_ran_there_validate():
    """Random with `net: {}`, a polyak `update_frequency` of 0.9, PER's `epsilon` 0."""
    from slm_lab.spec.validate import validate

    random = tiny_ppo()
    random["agent"].update(algorithm={"name": "Random"}, net={})
    assert validate(random)[0]["agent"]["net"]["type"] == "MLPNet"
    dqn = tiny_dqn()
    dqn["agent"]["net"].update(update_frequency=0.9)
    dqn["agent"]["memory"].update(epsilon=0.0)
    spec, _ = validate(dqn)
    assert spec["agent"]["net"]["update_frequency"] == 0.9
    assert spec["agent"]["memory"]["epsilon"] == 0.0


@pytest.mark.parametrize(
    ("name", "ale_id", "sticky"),
    [("VideoPinball-v0", "ALE/VideoPinball-v5", 0.25), ("PongNoFrameskip-v4", "ALE/Pong-v5", 0.0)],
)
def test_gym_era_atari_ids_run_as_ale_ids(name: str, ale_id: str, sticky: float):
    from slm_lab.spec.validate import validate

    raw = tiny_ppo()
    raw["env"]["name"] = name
    spec, warnings = validate(raw)
    assert spec["env"]["name"] == ale_id
    assert spec["env"]["repeat_action_probability"] == sticky
    assert spec["env"]["vectorization_mode"] == "native"
    assert warnings == [f"env.name: {name} is a gym-era Atari id: runs as {ale_id}, preprocessed"]


def test_pybullet_env_is_refused_naming_the_package():
    from slm_lab.spec.validate import validate

    raw = tiny_ppo()
    raw["env"]["name"] = "HopperBulletEnv-v0"
    with pytest.raises(
        SpecError, match=r"env\.name: HopperBulletEnv-v0 is a PyBullet env: it needs"
    ):
        validate(raw)
