"""Search mode through the CLI with a real local Ray (started and stopped by the search)."""

import json
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from test.conftest import CLI, REPO, run_cli, run_dirs, tiny_ppo, write_spec

pytestmark = pytest.mark.xdist_group("ray")

MAX_FRAME = 12_000
WAIT_S = 240


def search_spec(block: dict, max_trial: int, **meta) -> dict:
    spec = tiny_ppo(max_frame=MAX_FRAME, log_frequency=1000, random_seed=3, max_trial=max_trial)
    spec["env"]["num_envs"] = 4
    spec["agent"]["algorithm"].update(gamma=0.99, training_epoch=4)
    spec["meta"].update(meta)
    spec["search"] = block
    return spec


@pytest.mark.slow  # Ray and 4 trials: about 40 s
def test_asha_stops_trials_that_cannot_learn(tmp_path: Path):
    """4 trials, two of them with a learning rate that cannot learn: ASHA stops at least one
    early; the table, the graphs and a ready-to-run best spec are written."""
    block = {"agent.net.optim_spec.lr__choice": [1e-7, 3e-3, 1e-7, 1e-2]}
    scheduler = {"grace_period": 3000, "reduction_factor": 2}
    path = write_spec(tmp_path, {"s": search_spec(block, 4, search_scheduler=scheduler)})
    result = run_cli("run", str(path), "s", "search", "--keep", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = run_dirs(tmp_path)
    df = pd.read_csv(run / "s_experiment_df.csv")
    assert list(df.columns) == [
        "trial",
        "agent.net.optim_spec.lr",
        "total_reward_ma",
        "strength",
        "frames",
        "status",
    ]
    assert sorted(df["trial"]) == [0, 1, 2, 3]
    stopped = df[df["status"] == "stopped"]
    assert len(stopped) >= 1 and (stopped["frames"] < MAX_FRAME).all()
    assert (df.loc[df["status"] == "finished", "frames"] == MAX_FRAME).all()
    best = df.loc[df["total_reward_ma"].idxmax()]
    assert best["agent.net.optim_spec.lr"] > 1e-7 and best["status"] == "finished"
    models = {p.name.split("_")[1] for p in (run / "model").iterdir()}
    assert models == {f"t{best['trial']}"}  # --keep 1: the best trial's model files only
    assert (run / "graph" / "s_experiment_graph.html").is_file()
    best_file = run / "s_best_spec.json"
    saved = json.loads(best_file.read_text())["s"]
    assert saved["agent"]["net"]["optim_spec"]["lr"] == best["agent.net.optim_spec.lr"]
    assert "search" not in saved and "session_seeds" not in saved["meta"]
    rerun = run_cli("run", str(best_file), "s", "train", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "trial_metrics:" in rerun.stderr


@pytest.mark.slow
def test_grid_search_runs_exactly_the_grid(tmp_path: Path):
    """Run as users do, through `uv run` from a folder outside the project (Ray's uv hook
    would otherwise ship the working directory to its workers, and here fail)."""
    block = {"agent.algorithm.gamma__grid_search": [0.9, 0.95, 0.99]}
    spec = search_spec(block, 1)
    spec["env"]["max_frame"] = 2000
    path = write_spec(tmp_path, {"g": spec})
    uv = os.environ.get("UV")  # uv's own path, set by `uv run` (README's test command)
    assert uv is not None, "run the tests with `uv run pytest`"
    argv = [uv, "run", "--frozen", "--project", str(REPO), "slm-lab", "run", str(path), "g"]
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    result = subprocess.run(
        [*argv, "search"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=WAIT_S
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "basic variant generator" in result.stderr
    (run,) = run_dirs(tmp_path)
    df = pd.read_csv(run / "g_experiment_df.csv")
    assert sorted(df["agent.algorithm.gamma"]) == [0.9, 0.95, 0.99]
    assert (df["status"] == "finished").all() and (df["frames"] == 2000).all()


@pytest.mark.parametrize("form", ["run", "search", "short"])
def test_bad_search_block_is_refused_before_ray(tmp_path: Path, form: str):
    block = {"agent.net.optim_spec.lr__loguniform": [0.01, 0.001]}
    path = write_spec(tmp_path, {"s": search_spec(block, 2)})
    args = {
        "run": ("run", str(path), "s", "search"),
        "search": ("search", str(path), "s"),  # the shorthands users type
        "short": (str(path), "s", "search"),
    }[form]
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {path} [s] search.agent.net.optim_spec.lr__loguniform: "
        "loguniform needs low < high, got [0.01, 0.001]"
    ]
    assert not (tmp_path / "data").exists()


def test_keep_is_for_search_only(tmp_path: Path):
    path = write_spec(tmp_path, {"s": tiny_ppo()})
    result = run_cli("run", str(path), "s", "train", "--keep", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("--keep: --keep applies to search mode only")
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_asha_judges_the_mean_of_a_trials_sessions(tmp_path: Path):
    """2 sessions per trial in their own processes (search_resources.cpu 2): Tune receives the
    mean of both sessions' total_reward_ma, and a stopped trial stops both sessions."""
    block = {"agent.net.optim_spec.lr__grid_search": [3e-3, 1e-7]}  # in this order: t0, t1
    meta = {"max_session": 2, "search_resources": {"cpu": 2, "gpu": 0}}
    scheduler = {"grace_period": 3000, "reduction_factor": 2}
    spec = search_spec(block, 1, search_scheduler=scheduler, **meta)
    # long enough that one session cannot finish while the other starts (a few seconds apart)
    spec["env"]["max_frame"] = max_frame = 60_000
    path = write_spec(tmp_path, {"m": spec})
    result = run_cli("run", str(path), "m", "search", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = run_dirs(tmp_path)
    df = pd.read_csv(run / "m_experiment_df.csv").set_index("trial")
    assert df.loc[0, "status"] == "finished" and df.loc[1, "status"] == "stopped"
    tables = [pd.read_csv(run / "info" / f"m_t1_s{s}_session_df_eval.csv") for s in (0, 1)]
    assert all(t["frame"].max() < max_frame for t in tables)  # both sessions stopped
    params = {p: json.loads(p.read_text()) for p in (run / "ray" / "tune").glob("*/params.json")}
    (trial_dir,) = [p.parent for p, v in params.items() if v["agent.net.optim_spec.lr"] == 1e-7]
    reports = [json.loads(line) for line in (trial_dir / "result.json").read_text().splitlines()]
    first = reports[0]
    mean = sum(t.set_index("frame").loc[first["frame"], "total_reward_ma"] for t in tables) / 2
    assert first["total_reward_ma"] == pytest.approx(mean)


def rows(csv: Path) -> int:
    return max(0, len(csv.read_text().splitlines()) - 1) if csv.exists() else 0


@pytest.mark.slow
def test_ctrl_c_stops_the_search_and_search_at_resumes_it(tmp_path: Path):
    """Ctrl-C (SIGINT to the process group) while the second of 3 grid trials runs: exit 130
    naming search@DIR, its 2 sessions saved, the table says unfinished; the printed command
    resumes it: Tune restores the trial at its own index, its sessions continue from their
    checkpoints, and the grid ends with 3 finished trials."""
    block = {"agent.net.optim_spec.lr__grid_search": [3e-3, 1e-3, 1e-2]}
    meta = {"max_session": 2, "search_resources": {"cpu": 2, "gpu": 0}}
    spec = search_spec(block, 1, **meta)
    spec["env"]["max_frame"] = max_frame = 20_000
    path = write_spec(tmp_path, {"m": spec})
    proc = subprocess.Popen(
        [str(CLI), "run", str(path), "m", "search"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + WAIT_S
    tables = [f"m_t1_s{s}_session_df_train.csv" for s in (0, 1)]
    while time.monotonic() < deadline and proc.poll() is None:
        runs = run_dirs(tmp_path)
        if runs and all(rows(runs[0] / "info" / t) >= 2 for t in tables):
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the search ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 130, stderr[-3000:]
    (run,) = run_dirs(tmp_path)
    last = stderr.strip().splitlines()[-1]
    assert last == (
        "error: interrupted by SIGINT; checkpoints saved; resume with: "
        f"slm-lab run {path} m search@{run.relative_to(tmp_path)}"
    )
    df = pd.read_csv(run / "m_experiment_df.csv").set_index("trial")
    assert df.loc[0, "status"] == "finished" and df.loc[1, "status"] == "unfinished"
    assert not (run / "m_t1_trial_metrics_scalar.json").exists()
    assert all((run / "model" / f"m_t1_s{s}_resume.pt").is_file() for s in (0, 1))

    resumed = run_cli(*shlex.split(last.split("resume with: slm-lab ", 1)[1]), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert run_dirs(tmp_path) == [run]
    df = pd.read_csv(run / "m_experiment_df.csv").set_index("trial")
    assert sorted(df.index) == [0, 1, 2] and (df["status"] == "finished").all()
    assert sorted(df["agent.net.optim_spec.lr"]) == [1e-3, 3e-3, 1e-2]
    for s in (0, 1):
        log = (run / "log" / f"m_t1_s{s}.log").read_text()
        (frame,) = re.findall(rf"Session {s} resumes at frame (\d+)", log)
        frames = pd.read_csv(run / "info" / tables[s])["frame"]
        assert 0 < int(frame) < max_frame and frames.is_monotonic_increasing
        assert frames.is_unique and frames.iloc[-1] == max_frame
    claims = sorted(p.name for p in (run / "ray" / "trials").iterdir())
    assert claims == ["t0", "t1", "t2"]  # the restored trial kept its index
    assert (run / "m_best_spec.json").is_file() and not (run / "ray" / "interrupted").exists()


@pytest.mark.slow
@pytest.mark.parametrize(("keep", "kept"), [(None, 3), ("-1", 4)])
def test_keep_trials_default_and_every_trial(tmp_path: Path, keep: str | None, kept: int):
    """The original's --keep: 3 trials keep their model files by default (KEEP_TRIALS), -1
    keeps every trial's."""
    block = {"agent.net.optim_spec.lr__grid_search": [1e-7, 1e-3, 3e-3, 1e-2]}
    spec = search_spec(block, 1)
    spec["env"]["max_frame"] = 2000
    path = write_spec(tmp_path, {"k": spec})
    env = {"KEEP_TRIALS": keep} if keep else {}
    result = run_cli("run", str(path), "k", "search", cwd=tmp_path, **env)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = run_dirs(tmp_path)
    models = {p.name.split("_")[1] for p in (run / "model").iterdir()}
    df = pd.read_csv(run / "k_experiment_df.csv")
    ranked = df.sort_values("total_reward_ma", ascending=False)["trial"]
    assert models == {f"t{t}" for t in ranked[:kept]}
