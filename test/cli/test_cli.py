"""The CLI as users type it, each form a real subprocess call."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from slm_lab.experiment.records import COLUMNS
from test.conftest import REPO, run_cli, run_dirs, tiny_ppo, write_spec

METRICS_LINE = re.compile(
    r"trial_metrics: frame:2\.00e\+03 \| total_reward_ma:[-\d.]+ \| strength:[-\d.]+ \| "
    r"max_strength:[-\d.]+ \| final_strength:[-\d.]+ \| sample_efficiency:\S+ \| "
    r"training_efficiency:\S+ \| stability:\S+ \| consistency:\S+"
)


def test_help_without_torch():
    code = (
        "import sys; from typer.testing import CliRunner; from slm_lab.cli.main import app; "
        "r = CliRunner().invoke(app, ['run', '--help']); "
        "print(r.exit_code, 'torch' in sys.modules, 'gymnasium' in sys.modules, '--set' in r.output)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False", "False", "True"]
    result = run_cli("--help", cwd=REPO)
    assert result.returncode == 0 and "run" in result.stdout


def test_train_run_writes_the_run_folder(tmp_path: Path, tiny_spec_file: Path):
    result = run_cli("run", str(tiny_spec_file), "tiny", "train", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert METRICS_LINE.search(result.stderr), result.stderr
    assert "s0 frame 2,000/2,000 |" in result.stderr  # plain progress lines off a terminal
    (run,) = run_dirs(tmp_path)
    assert re.fullmatch(r"tiny_\d{4}_\d{2}_\d{2}_\d{6}", run.name)
    spec = json.loads((run / "tiny_spec.json").read_text())
    meta = spec["meta"]
    assert meta["random_seed"] == 7 and meta["session_seeds"] == [7]
    assert set(meta["versions"]) >= {"python", "torch", "gymnasium", "ale-py", "mujoco"}
    assert "git_sha" in meta and "git_dirty" in meta
    assert (run / "tiny_t0_spec.json").is_file()
    df = pd.read_csv(run / "info" / "tiny_t0_s0_session_df_train.csv")
    assert tuple(df.columns) == COLUMNS
    assert df["frame"].tolist() == [500, 1000, 1500, 2000]
    assert df["opt_step"].tolist() == [12, 28, 44, 60]  # 4 steps per full 128-frame rollout
    eval_df = pd.read_csv(run / "info" / "tiny_t0_s0_session_df_eval.csv")
    assert eval_df["total_reward"].equals(df["total_reward"])  # no rigorous eval: same table
    metrics = json.loads((run / "tiny_t0_trial_metrics_scalar.json").read_text())
    assert metrics["frame"] == 2000 and metrics["sessions"] == 1
    models = sorted(p.name for p in (run / "model").iterdir())
    assert models == [
        "tiny_t0_s0_actor_model.pt",
        "tiny_t0_s0_ckpt-best_actor_model.pt",
        "tiny_t0_s0_ckpt-best_critic_model.pt",
        "tiny_t0_s0_critic_model.pt",
        "tiny_t0_s0_resume.pt",
    ]
    import torch

    state = torch.load(run / "model" / "tiny_t0_s0_actor_model.pt", weights_only=True)
    assert state["heads.0.weight"].shape == (2, 32)
    assert "trial_metrics:" in (run / "log" / "tiny_t0.log").read_text()
    assert list((run / "log" / "tensorboard" / "tiny_t0_s0").iterdir())  # on by default
    graphs = {p.name for p in (run / "graph").iterdir()}
    assert {"tiny_t0_s0_session_graph.html", "tiny_t0_trial_graph.html", "plotly.min.js"} <= graphs


def test_short_form_set_dev_mode(tmp_path: Path):
    spec = tiny_ppo(max_session=3)
    spec["env"]["name"] = "${env}"
    path = write_spec(tmp_path, {"tiny": spec})
    result = run_cli(str(path), "tiny", "dev", "-s", "env=Acrobot-v1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run,) = run_dirs(tmp_path)
    assert run.name.startswith("tiny_acrobot_")
    saved = json.loads((run / "tiny_acrobot_spec.json").read_text())
    assert saved["env"]["name"] == "Acrobot-v1"
    assert saved["meta"]["max_session"] == 1  # dev: one session


@pytest.mark.parametrize("before", [True, False])
def test_render_before_or_after_run(tmp_path: Path, before: bool):
    path = write_spec(tmp_path, {"tiny": tiny_ppo(max_frame=40)})  # human rendering runs at 50 fps
    args = ["--render", "run"] if before else ["run", "--render"]
    result = run_cli(*args, str(path), "tiny", "train", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "rendering env 0 of CartPole-v1" in result.stderr


@pytest.mark.slow  # a full CLI run: the slow step, to keep the default run well under 10 minutes
def test_parallel_sessions_with_rigorous_eval(tmp_path: Path):
    spec = tiny_ppo(max_frame=2500, max_session=2, rigorous_eval=1, eval_frequency=1000)
    path = write_spec(tmp_path, {"two": spec})
    result = run_cli("run", str(path), "two", "train", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run,) = run_dirs(tmp_path)
    seeds = json.loads((run / "two_spec.json").read_text())["meta"]["session_seeds"]
    assert seeds == [7, 8]
    tables = [pd.read_csv(run / "info" / f"two_t0_s{i}_session_df_train.csv") for i in (0, 1)]
    assert not tables[0]["total_reward"].equals(tables[1]["total_reward"])  # distinct seeds
    eval_df = pd.read_csv(run / "info" / "two_t0_s0_session_df_eval.csv")
    assert eval_df["frame"].tolist() == [1000, 2000, 2500]  # and one at the end
    assert (eval_df["epi"] >= 8).all()  # greedy episodes on the separate env
    metrics = json.loads((run / "two_t0_trial_metrics_scalar.json").read_text())
    assert metrics["sessions"] == 2 and metrics["consistency"] <= 1.0
    assert (run / "log" / "two_t0_s1.log").is_file()


def assert_refused(result: subprocess.CompletedProcess, cwd: Path, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert run_dirs(cwd) == []


def test_bad_spec_exit_2_one_line_no_folder(tmp_path: Path):
    spec = tiny_ppo()
    spec["agent"]["algorithm"]["name"] = "PPOO"
    path = write_spec(tmp_path, {"bad": spec})
    assert_refused(
        run_cli("run", str(path), "bad", "train", cwd=tmp_path),
        tmp_path,
        "[bad] agent.algorithm.name",
        "did you mean 'PPO'",
    )


def test_build_error_refused_before_folder(tmp_path: Path):
    spec = tiny_ppo()
    spec["agent"]["net"]["optim_spec"] = {"name": "Adam", "lr": 0.001, "betas": [2.0, 0.999]}
    path = write_spec(tmp_path, {"bad": spec})
    assert_refused(
        run_cli(str(path), "bad", "train", cwd=tmp_path),
        tmp_path,
        "agent.net.optim_spec",
        "Adam refused",
    )


def test_conv_net_on_vector_observations_refused(tmp_path: Path):
    spec = tiny_ppo()
    spec["agent"]["net"]["type"] = "ConvNet"
    path = write_spec(tmp_path, {"conv": spec})
    assert_refused(
        run_cli(str(path), "conv", "train", cwd=tmp_path),
        tmp_path,
        "agent.net.type: ConvNet takes image observations",
        "(4,): use MLPNet",
    )


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("tiny", "fly"), ("unknown mode 'fly'", "allowed: dev, train, search, enjoy")),
        (("tiny", "search"), ("search mode needs a search block",)),
        (("tiny", "train@latest"), ("no run of tiny in data/ to resume",)),
        (("tiny", "dev@latest"), ("dev cannot resume a run",)),
        (("nope", "train"), ("spec 'nope' is not in the file; allowed: tiny",)),
        (("tiny", "train", "--log-level", "LOUD"), ("unknown log level 'LOUD'",)),
        (("tiny", "train", "-s", "novalue"), ("-s/--set expects key=value",)),
        ((), ("give the spec name after the spec file",)),
    ],
)
def test_refusals(tmp_path: Path, tiny_spec_file: Path, args, fragments):
    assert_refused(run_cli("run", str(tiny_spec_file), *args, cwd=tmp_path), tmp_path, *fragments)


def test_strict_refuses_typo(tmp_path: Path):
    spec = tiny_ppo()
    spec["agent"]["algorithm"]["clip_val_loss"] = True
    path = write_spec(tmp_path, {"typo": spec})
    assert_refused(
        run_cli("run", str(path), "typo", "--strict", cwd=tmp_path),
        tmp_path,
        "did you mean clip_vloss?",
    )


def test_env_refusing_its_arguments(tmp_path: Path):
    spec = tiny_ppo()
    spec["env"].update(name="LunarLander-v3", gravity=5.0)  # the env asserts -12 < gravity < 0
    path = write_spec(tmp_path, {"lunar": spec})
    assert_refused(
        run_cli(str(path), "lunar", cwd=tmp_path),
        tmp_path,
        "[lunar] env: gymnasium could not make LunarLander-v3",
    )


def test_replay_too_large_for_memory_refused(tmp_path: Path):
    spec = tiny_ppo()
    spec["agent"]["algorithm"] = {"name": "DQN"}
    spec["agent"]["memory"] = {"name": "Replay", "max_size": 10**12}
    path = write_spec(tmp_path, {"big": spec})
    assert_refused(
        run_cli(str(path), "big", "train", cwd=tmp_path),
        tmp_path,
        "[big] agent.memory.max_size: a replay of 1000000000000 transitions needs",
        "GiB of memory",
    )
