"""run-remote and the dstack task files. The cloud is out of reach: `dstack` is a stand-in
executable on PATH that records its argv, folder and environment; the task files are checked with
dstack's own configuration models; the remote job runs for real against the local Hub stand-in."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from dstack._internal.core.models.configurations import parse_run_configuration

from slm_lab.cli import remote
from test.conftest import CLI, REPO, run_cli, tiny_ppo, write_spec
from test.lib.hub_store import TOKEN, HubServer

DSTACK_DIR = REPO / ".dstack"
CARTPOLE = REPO / "slm_lab" / "spec" / "benchmark" / "ppo" / "ppo_cartpole.json"
ATARI = REPO / "slm_lab" / "spec" / "benchmark" / "ppo" / "ppo_atari.json"
LUNAR_SEARCH = REPO / "slm_lab" / "spec" / "benchmark" / "ppo" / "ppo_lunar_search.json"
PASSED = ["SPEC_FILE", "SPEC_NAME", "SPEC_VARS", "HF_REPO", "HF_TOKEN"]  # from run-remote's env
WAIT_S = 240
DROPPED = ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "UV_COMPILE_BYTECODE")  # not on the machine
STAND_IN = """#!{python}
import json, os, sys
record = {{"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}}
with open(os.environ["DSTACK_RECORD"], "w") as f:
    json.dump(record, f)
sys.exit(int(os.environ.get("DSTACK_EXIT", "0")))
"""


def task(kind: str, mode: str):
    return parse_run_configuration(
        yaml.safe_load((DSTACK_DIR / f"run-{kind}-{mode}.yml").read_text())
    )


@pytest.mark.parametrize("kind", ["cpu", "gpu"])
@pytest.mark.parametrize("mode", ["train", "search"])
def test_task_files_parse_with_dstacks_own_models(kind: str, mode: str):
    config = task(kind, mode)
    assert config.type == "task" and config.name == f"slm-lab-{kind}-{mode}"
    groups = " --group playground" if kind == "gpu" else ""  # JAX's CUDA build, for playground/
    assert config.commands == [
        "pip install --quiet uv",
        f"uv sync --frozen --quiet{groups}",
        "uv run slm-lab remote-job",
    ]
    env = dict(config.env)
    assert all(type(env[k]).__name__ == "EnvSentinel" for k in PASSED)  # taken from run-remote
    assert env["LAB_MODE"] == mode and float(env["UPLOAD_EVERY_S"]) > 0
    assert config.resources.gpu.count.min == (1 if kind == "gpu" else 0)
    assert config.spot_policy.value == "auto"
    assert {e.value for e in config.retry.on_events} == {"no-capacity", "interruption"}
    assert config.max_duration == config.retry.duration > 0


@pytest.fixture
def dstack(tmp_path: Path) -> dict[str, str]:
    """The environment of a user with the dstack stand-in on PATH and HF settings."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "dstack"
    stand_in.write_text(STAND_IN.format(python=sys.executable))
    stand_in.chmod(0o755)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "DSTACK_RECORD": str(tmp_path / "record.json"),
        "HF_REPO": "me/runs",
        "HF_TOKEN": TOKEN,
        "HF_HOME": str(tmp_path / "home"),
    }


def recorded(env: dict[str, str]) -> dict | None:
    path = Path(env["DSTACK_RECORD"])
    return json.loads(path.read_text()) if path.exists() else None


def test_run_remote_applies_the_task_file_with_the_spec(tmp_path: Path, dstack: dict):
    args = ("run-remote", str(ATARI), "ppo_atari", "train", "--gpu", "-s", "env=ALE/Pong-v5")
    result = run_cli(*args, "-n", "pong-lam95", cwd=tmp_path, **dstack)
    assert result.returncode == 0, result.stderr[-3000:]
    record = recorded(dstack)
    config = str(DSTACK_DIR / "run-gpu-train.yml")
    assert record["argv"] == ["apply", "-f", config, "-n", "pong-lam95", "-y", "-d"]
    assert record["cwd"] == str(REPO)  # dstack sends the repository it runs in
    env = record["env"]
    assert env["SPEC_FILE"] == "slm_lab/spec/benchmark/ppo/ppo_atari.json"
    assert (env["SPEC_NAME"], env["LAB_MODE"], env["SPEC_VARS"]) == (
        "ppo_atari",
        "train",
        "env=ALE/Pong-v5",
    )
    assert (env["HF_REPO"], env["HF_TOKEN"]) == ("me/runs", TOKEN)
    assert result.stdout.strip() == (
        "submitted pong-lam95: `dstack logs pong-lam95` follows it; when it ends, "
        "`slm-lab pull ppo_atari_pong` brings its run folder here"
    )


def test_run_remote_names_the_run_and_picks_the_cpu_search_file(tmp_path: Path, dstack: dict):
    result = run_cli(
        "run-remote", str(LUNAR_SEARCH), "ppo_lunar_search", "search", cwd=tmp_path, **dstack
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = recorded(dstack)
    assert record["argv"][2:5] == [
        str(DSTACK_DIR / "run-cpu-search.yml"),
        "-n",
        "ppo-lunar-search-search",
    ]
    assert record["env"]["LAB_MODE"] == "search" and record["env"]["SPEC_VARS"] == ""


def test_run_remote_dev_with_the_profiler(tmp_path: Path, dstack: dict):
    """The original's `run-remote ... dev --profile`: the train machine, PROFILE and the
    profiler's window (PROF_SKIP from the user's environment, PROF_ACTIVE by default)."""
    args = ("run-remote", str(CARTPOLE), "ppo_cartpole", "dev", "--profile")
    result = run_cli(*args, cwd=tmp_path, PROF_SKIP="50", **dstack)
    assert result.returncode == 0, result.stderr[-3000:]
    record = recorded(dstack)
    assert record["argv"][2] == str(DSTACK_DIR / "run-cpu-train.yml")
    env = record["env"]
    assert (env["LAB_MODE"], env["PROFILE"], env["PROF_SKIP"], env["PROF_ACTIVE"]) == (
        "dev",
        "true",
        "50",
        "20",
    )
    assert task("cpu", "train").env["PROFILE"].__class__.__name__ == "EnvSentinel"


def test_a_dev_job_resumes_as_train():
    env = {"LAB_MODE": "dev", "SPEC_FILE": "s.json", "SPEC_NAME": "s"}
    assert remote.job_argv(env, None)[-1] == "dev"
    assert remote.job_argv(env, Path("data/s_1"))[-1] == "train@data/s_1"


def adamm_spec(tmp_path: Path) -> Path:
    spec = tiny_ppo()
    spec["agent"]["net"]["optim_spec"]["name"] = "Adamm"
    return write_spec(tmp_path, {"bad": spec})


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        (
            "no_dstack",
            2,
            "run-remote needs the dstack CLI: install it with `uv tool install dstack`",
        ),
        ("no_repo", 2, "no dataset repo: set HF_REPO=owner/name"),
        ("adamm", 2, "agent.net.optim_spec.name: unknown optimizer 'Adamm'"),
        ("outside", 2, "is outside the repository"),
        ("enjoy", 2, "run-remote runs train, search or dev, not 'enjoy@latest'"),
        ("bad_name", 2, "'Pong_1' is not a dstack run name"),
        ("bad_search", 2, "search.agent.algorithm.gamma__uniform: uniform needs low < high"),
        ("bad_env", 2, "env.name: unknown environment 'CartPole-v7' (did you mean 'CartPole-v1'?)"),
        ("dstack_fails", 1, "dstack apply failed (exit 3)"),
    ],
)
def test_run_remote_refusals(tmp_path: Path, dstack: dict, case: str, code: int, message: str):
    args = [str(CARTPOLE), "ppo_cartpole", "train"]
    env = dict(dstack)
    if case == "no_dstack":
        env["PATH"] = os.pathsep.join(
            p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "dstack").exists()
        )
    elif case == "no_repo":
        env["HF_REPO"] = ""
    elif case == "adamm":
        args[:2] = [str(adamm_spec(tmp_path)), "bad"]
    elif case == "outside":
        args[:2] = [str(write_spec(tmp_path, {"tiny": tiny_ppo()})), "tiny"]
    elif case == "enjoy":
        args[2] = "enjoy@latest"
    elif case == "bad_name":
        args += ["-n", "Pong_1"]
    elif case == "bad_search":
        spec = json.loads(CARTPOLE.read_text())["ppo_cartpole"]
        spec["search"] = {"agent.algorithm.gamma__uniform": [0.99, 0.9]}
        args[:3] = [str(write_spec(tmp_path, {"s": spec})), "s", "search"]
    elif case == "bad_env":
        spec = json.loads(CARTPOLE.read_text())["ppo_cartpole"]
        spec["env"]["name"] = "CartPole-v7"
        args[:2] = [str(write_spec(tmp_path, {"s": spec})), "s"]
    elif case == "dstack_fails":
        env["DSTACK_EXIT"] = "3"
    result = run_cli("run-remote", *args, cwd=tmp_path, **env)
    assert result.returncode == code, result.stderr[-3000:]
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert message in line
    assert (recorded(dstack) is not None) == (case == "dstack_fails")  # dstack ran last or never


@pytest.fixture
def hub(tmp_path: Path):
    with HubServer(tmp_path / "store") as server:
        yield server


def job_env(hub: HubServer, tmp_path: Path, spec: Path, name: str, **extra: str) -> dict:
    """What the task file and dstack give the remote job."""
    return {
        "SPEC_FILE": str(spec),
        "SPEC_NAME": name,
        "LAB_MODE": "train",
        "SPEC_VARS": "",
        "HF_ENDPOINT": hub.endpoint,
        "HF_TOKEN": TOKEN,
        "HF_REPO": "me/runs",
        "HF_HOME": str(tmp_path / "home"),
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "DSTACK_RUN_NAME": "spot-1",
        "SDL_VIDEODRIVER": "dummy",
        **extra,
    }


def pushed_resume(hub: HubServer) -> bool:
    return any(p.endswith("_resume.pt") for c in hub.store.commits for p in c["paths"])


@pytest.mark.slow
def test_a_preempted_spot_run_resumes_from_its_last_upload(tmp_path: Path, hub: HubServer):
    """The remote job pushes its run with the resume state every second; the machine goes
    (SIGKILL to the job and the lab) after the first such push; the job started again in an
    empty folder pulls the run and resumes it: its first new row's frame is above 0."""
    spec = write_spec(tmp_path, {"spot": tiny_ppo(max_frame=30_000, log_frequency=500)})
    env = job_env(hub, tmp_path, spec, "spot", UPLOAD_EVERY_S="1")
    first = tmp_path / "machine1"
    first.mkdir()
    proc = subprocess.Popen(
        [str(CLI), "remote-job"],
        cwd=first,
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and proc.poll() is None and not pushed_resume(hub):
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before its first upload"
    os.killpg(proc.pid, signal.SIGKILL)  # no notice: the spot machine is gone
    proc.communicate(timeout=WAIT_S)
    (folder,) = {p.split("/")[1] for c in hub.store.commits for p in c["paths"]}

    second = tmp_path / "machine2"
    second.mkdir()
    result = run_cli("remote-job", cwd=second, **env)
    assert result.returncode == 0, result.stderr[-3000:]
    run = second / "data" / folder
    assert json.loads((run / "remote.json").read_text())["dstack_run"] == "spot-1"
    log = (run / "log" / "spot_t0.log").read_text()  # one session: it runs in the trial
    (frame,) = re.findall(r"Session 0 resumes at frame (\d+)", log)
    frames = pd.read_csv(run / "info" / "spot_t0_s0_session_df_train.csv")["frame"]
    resumed = frames[frames > int(frame)]
    assert int(frame) > 0 and resumed.iloc[0] > 0 and frames.is_unique and frames.iloc[-1] == 30_000
    stored = hub.store.repo("me/runs") / "data" / folder
    assert (stored / "spot_t0_trial_metrics_scalar.json").is_file()  # the final push


@pytest.mark.slow
def test_task_file_commands_run_under_bash(tmp_path: Path, hub: HubServer):
    """Each command of run-cpu-train.yml and run-cpu-search.yml (the GPU files run the same
    ones) under bash, in a copy of the repository with its own environment, as dstack runs them
    with the variables it injects: each leaves a run folder, pushed to the Hub stand-in."""
    copy = tmp_path / "repo"
    copy.mkdir()
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    for rel in files.stdout.decode().split("\0"):
        if rel and (REPO / rel).is_file():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, copy / rel)
    train = tiny_ppo(max_frame=2000)
    search = tiny_ppo(max_frame=2000, max_trial=1)
    search["search"] = {"agent.algorithm.gamma__grid_search": [0.99]}
    spec = write_spec(copy, {"remote_tiny": train, "remote_search": search}, "remote_specs.json")
    base = {k: v for k, v in os.environ.items() if k not in DROPPED}
    for mode, name in (("train", "remote_tiny"), ("search", "remote_search")):
        config = task("cpu", mode)
        env = {**base, **job_env(hub, tmp_path, spec.relative_to(copy), name)}
        env.update(
            {k: v for k, v in dict(config.env).items() if isinstance(v, str)}, UPLOAD_EVERY_S="900"
        )
        env["DSTACK_RUN_NAME"] = f"yaml-{mode}"
        for command in config.commands:
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=copy,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.returncode == 0, f"{command}: {done.stderr[-3000:]}"
        (run,) = (copy / "data").glob(f"{name}_*")
        assert json.loads((run / "remote.json").read_text())["LAB_MODE"] == mode
        assert (hub.store.repo("me/runs") / "data" / run.name / "README.md").is_file()
