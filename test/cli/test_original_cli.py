"""The original lab's commands, flags and environment variables (kengz/SLM-Lab 5.3), each as a
real subprocess call: what its users type from habit works and means what it meant there."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from test.conftest import CLI, SPEC_DIR, run_cli, run_dirs, tiny_ppo, write_spec

pytestmark = pytest.mark.xdist_group("original_cli")

PHASES_SUMMED = 0.10  # the profile's phases add up to the loop's wall time within 10%


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A short finished run, its folder in <cwd>/data, no mode given; LOG_EXTRA, OPTIMIZE_PERF
    and PROFILE (a window of 5 steps after 100) from the environment."""
    cwd = tmp_path_factory.mktemp("trained")
    path = write_spec(cwd, {"tiny": tiny_ppo(max_frame=1000, max_session=2)})
    env = {"LOG_EXTRA": "true", "OPTIMIZE_PERF": "false", "PROFILE": "true"}
    window = {"PROF_SKIP": "100", "PROF_ACTIVE": "5"}
    result = run_cli("run", str(path), "tiny", cwd=cwd, **env, **window)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = run_dirs(cwd)
    (run / "stderr.txt").write_text(result.stderr)
    return run


def test_no_mode_runs_dev_and_says_so(trained: Path):
    stderr = (trained / "stderr.txt").read_text()
    assert "Running tiny (dev, no mode given: one session with dev checks; add `train` " in stderr
    spec = json.loads((trained / "tiny_spec.json").read_text())
    assert spec["meta"]["max_session"] == 1  # dev: one session whatever the spec says


def test_flags_from_environment_variables(trained: Path):
    stderr = (trained / "stderr.txt").read_text()
    extra = [line for line in stderr.splitlines() if "Session 0 [train metrics]" in line]
    assert len(extra) == 2 and "strength:" in extra[0]  # LOG_EXTRA: one line per log row
    assert "optimize-perf off (--no-optimize-perf)" in stderr  # OPTIMIZE_PERF=false


def test_log_level_from_environment(tmp_path: Path, tiny_spec_file: Path):
    result = run_cli("run", str(tiny_spec_file), "tiny", "fly", cwd=tmp_path, LOG_LEVEL="LOUD")
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        "--log-level: unknown log level 'LOUD'; allowed: "
        "TRACE, DEBUG, INFO, SUCCESS, WARNING, ERROR, CRITICAL"
    )


@pytest.mark.slow
def test_render_from_environment(tmp_path: Path):
    """RENDER=true is --render: refused for a playground env, which has no screen renderer."""
    spec = SPEC_DIR / "playground" / "ppo_playground.json"
    sets = ("-s", "env=playground/CartpoleBalance", "-s", "max_frame=1000")
    args = ("run", str(spec), "ppo_playground_rs10_cpu", "train", *sets)
    result = run_cli(*args, cwd=tmp_path, RENDER="true")
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        "--render: --render cannot show playground/CartpoleBalance on screen: "
        "record it with enjoy --video"
    )


@pytest.mark.slow
def test_enjoy_at_a_saved_spec_file(trained: Path, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(trained, data / trained.name)
    saved = f"data/{trained.name}/tiny_t0_spec.json"  # the original's enjoy@ form
    result = run_cli(
        "run", "ignored.json", "tiny", f"enjoy@{saved}", "--episodes", "1", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (metrics,) = data.glob("tiny_enjoy_*/tiny_enjoy_metrics.json")
    assert json.loads(metrics.read_text())["episodes"] == 1


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        pytest.param(
            ["--cuda-offset", "1"],
            {},
            "--cuda-offset: 1 is past the GPUs present (torch sees ",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            [],
            {"CUDA_OFFSET": "3"},
            "--cuda-offset: 3 is past the GPUs present (torch sees ",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            ["--keep", "0"],
            {},
            "--keep: 0 trials: keep at least 1, or -1 for every trial",
            marks=pytest.mark.slow,
        ),
        ([], {"KEEP_TRIALS": "x"}, "--keep: KEEP_TRIALS='x' is not a whole number"),
    ],
)
def test_bad_flag_values_are_one_line(
    tmp_path: Path, tiny_spec_file: Path, args: list, env: dict, message: str
):
    mode = "search" if "--keep" in args or "KEEP_TRIALS" in env else "train"
    spec = tiny_ppo()
    spec["search"] = {"agent.algorithm.gamma__uniform": [0.9, 0.99]}
    path = write_spec(tmp_path, {"tiny": spec})
    result = run_cli("run", str(path), "tiny", mode, *args, cwd=tmp_path, **env)
    assert result.returncode == 2, result.stderr[-3000:]
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("argv", "flag", "where"),
    [
        (["pull", "ppo", "--gpu"], "--gpu", "(an option of `slm-lab run-remote`); allowed: --repo"),
        pytest.param(
            ["run", "x.json", "x", "train", "--bogus"],
            "--bogus",
            "`slm-lab run`; allowed: --set",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            ["plot", "-f", "a", "--render"],
            "--render",
            "(an option of `slm-lab run`)",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            ["--profile", "plot-list"],
            "--profile",
            "(an option of `slm-lab run`, `slm-lab run-remote`)",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_unknown_or_misplaced_flag_is_one_line(tmp_path: Path, argv: list, flag: str, where: str):
    result = run_cli(*argv, cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {flag}: not an option of ") and where in line


def test_stop_ray(tmp_path: Path):
    """`ray stop --force` (a stand-in here: the real one would stop every Ray on the machine)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ray = bin_dir / "ray"
    ray.write_text(
        f"#!{sys.executable}\nimport sys; open('called', 'w').write(' '.join(sys.argv[1:]))\n"
    )
    ray.chmod(0o755)
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    result = run_cli("run", "--stop-ray", cwd=tmp_path, PATH=path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "stopped this machine's Ray processes"
    assert (tmp_path / "called").read_text() == "stop --force"


def test_slm_retro_is_analyze(trained: Path, tmp_path: Path):
    copy = tmp_path / trained.name
    shutil.copytree(trained, copy)
    (copy / "tiny_t0_trial_metrics_scalar.json").unlink()
    result = run_cli("analyze", str(copy), cwd=tmp_path)  # our spelling
    retro = CLI.parent / "slm-retro"
    out = subprocess.run([str(retro), str(copy)], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == f"1 trial(s) analyzed; graphs in {copy / 'graph'}"
    assert (copy / "tiny_t0_trial_metrics_scalar.json").is_file()


def test_table_columns_t_and_grad_norm(trained: Path):
    df = pd.read_csv(trained / "info" / "tiny_t0_s0_session_df_train.csv")
    assert list(df.columns[-2:]) == ["t", "grad_norm"]
    assert (df["t"] >= 0).all() and (df["t"] <= 500).all()  # CartPole's episode step of env 0
    assert (df["grad_norm"] > 0).all()  # PPO has stepped before the first row


def test_trial_metrics_series_beside_the_scalar_file(trained: Path):
    scalar = json.loads((trained / "tiny_t0_trial_metrics_scalar.json").read_text())
    series = json.loads((trained / "info" / "tiny_t0_trial_metrics.json").read_text())
    assert series["scalar"] == scalar
    local = series["local"]
    assert local["frames"] == [500, 1000]
    df = pd.read_csv(trained / "info" / "tiny_t0_s0_session_df_eval.csv")
    assert local["mean_returns"] == [df["total_reward"].tolist()]  # one list per session
    strengths = local["strengths"][0]
    assert sum(strengths) / len(strengths) == pytest.approx(scalar["strength"])
    assert local["sample_efficiencies"][0][-1] == pytest.approx(scalar["sample_efficiency"])
    assert len(local["stabilities"][0]) == 1 and len(local["consistencies"]) == 2


ORIGINAL_RUN_FLAGS = (
    "--set",
    "--render",
    "--log-level",
    "--optimize-perf",
    "--no-optimize-perf",
    "--cuda-offset",
    "--profile",
    "--log-extra",
    "--stop-ray",
    "--upload-hf",
    "--keep",
)


def test_run_help_lists_the_originals_flags(tmp_path: Path):
    result = run_cli("run", "--help", cwd=tmp_path, COLUMNS="200")
    assert result.returncode == 0
    missing = [flag for flag in ORIGINAL_RUN_FLAGS if flag not in result.stdout]
    assert not missing


def test_profile_writes_a_trace_and_a_summary(trained: Path):
    """PROFILE with a window of 5 steps after 100: the trace in traces/, the summary in info/
    and the log, the phases adding up to the loop's time."""
    (trace,) = (trained / "traces").iterdir()
    assert trace.name == "tiny_t0_s0.pt.trace.json"
    events = json.loads(trace.read_text())["traceEvents"]
    steps = {e["name"] for e in events if e.get("name", "").startswith("ProfilerStep#")}
    assert len(steps) == 5  # PROF_ACTIVE steps recorded
    summary = json.loads((trained / "info" / "tiny_t0_s0_profile.json").read_text())
    assert summary["loop_steps"] == 500 and summary["frames"] == 1000
    phases = {name: p["seconds"] for name, p in summary["phases"].items()}
    assert set(phases) >= {"act", "env step", "memory", "learn", "log rows", "checkpoints"}
    assert summary["phases"]["log rows"]["calls"] == 2  # log_frequency 500 of 1000 frames
    loop = summary["loop_seconds"]
    assert sum(phases.values()) == pytest.approx(loop, rel=PHASES_SUMMED)
    assert summary["fps"] == pytest.approx(1000 / loop)
    assert summary["peak_ram_mib"] > 0 and summary["cpu_percent"] > 0
    stderr = (trained / "stderr.txt").read_text()
    table = stderr[stderr.index("profile: 500 loop steps in") :]
    assert "env step" in table and "frames/s" in table
    assert "profile: 500 loop steps" in (trained / "log" / "tiny_t0.log").read_text()
