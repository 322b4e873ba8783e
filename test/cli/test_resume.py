"""Interrupt a real CLI run (SIGINT, SIGTERM), resume it with train@, and compare it row for row
with the same seeded run left alone: every column but the clock's, as text."""

import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from test.conftest import CLI, run_cli, run_dirs, tiny_dqn, tiny_ppo, tiny_sac, write_spec

pytestmark = pytest.mark.xdist_group("resume")

CLOCK_COLUMNS = ["wall_t", "fps"]
WAIT_S = 180
ROWS_BEFORE_STOP = 4


def table(run: Path, name: str, session: int = 0) -> pd.DataFrame:
    csv = run / "info" / f"{name}_t0_s{session}_session_df_train.csv"
    return pd.read_csv(csv, dtype=str).fillna("nan").drop(columns=CLOCK_COLUMNS)


def rows(run: Path, name: str, session: int) -> int:
    csv = run / "info" / f"{name}_t0_s{session}_session_df_train.csv"
    return max(0, len(csv.read_text().splitlines()) - 1) if csv.exists() else 0


def interrupt(cwd: Path, path: Path, name: str, sig: int, group: bool, sessions: int = 1):
    """Start a run, wait until each session has a few rows, signal it (its process group, as a
    terminal's Ctrl-C does, or the trial process alone, as `kill` does); return stderr and rc."""
    proc = subprocess.Popen(
        [str(CLI), "run", str(path), name, "train"],
        cwd=cwd,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and proc.poll() is None:
        runs = run_dirs(cwd)
        if runs and all(rows(runs[0], name, s) >= ROWS_BEFORE_STOP for s in range(sessions)):
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    if group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=WAIT_S)
    return stderr, proc.returncode


def resume_command(stderr: str) -> list[str]:
    """The command the interrupted run printed, as argv without `slm-lab`."""
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: interrupted by") and "resume with: slm-lab " in last, stderr
    return shlex.split(last.split("resume with: slm-lab ", 1)[1])


def check_resume(
    tmp_path: Path, raw: dict, name: str, sig: int, group: bool, analyze: bool = False
) -> None:
    """Interrupt, (optionally analyze the interrupted run,) resume, and compare with a run
    left alone."""
    sessions = raw["meta"]["max_session"]
    path = write_spec(tmp_path, {name: raw})
    stderr, code = interrupt(tmp_path, path, name, sig, group, sessions)
    assert code == 128 + sig, stderr
    (run,) = run_dirs(tmp_path)
    stopped = [rows(run, name, s) for s in range(sessions)]
    for s in range(sessions):
        assert (run / "model" / f"{name}_t0_s{s}_resume.pt").is_file()
        assert not (run / "info" / f"{name}_t0_s{s}_session_metrics_scalar.json").exists()
        assert (run / "graph" / f"{name}_t0_s{s}_session_graph.html").is_file()
    if analyze:
        check_analyze(run, name, raw["env"]["max_frame"])
    result = run_cli(*resume_command(stderr), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumes at frame" in result.stderr
    assert run_dirs(tmp_path) == [run]  # into the same folder
    result = run_cli("run", str(path), name, "train", cwd=tmp_path)  # the run left alone
    assert result.returncode == 0, result.stderr[-3000:]
    alone = next(r for r in run_dirs(tmp_path) if r != run)
    log_frequency = raw["meta"]["log_frequency"]
    for s in range(sessions):
        resumed = table(run, name, s)
        assert len(resumed) > stopped[s] >= ROWS_BEFORE_STOP  # the curve went on past the stop
        frames = resumed["frame"].astype(int)
        assert (frames.diff().dropna() == log_frequency).all()  # no gap, no repeat
        pd.testing.assert_frame_equal(resumed, table(alone, name, s))
        check_tensorboard(run, name, s)


def check_analyze(run: Path, name: str, max_frame: int) -> None:
    """Retro analysis of an interrupted run writes its metrics and graphs so far; the sessions
    stay unfinished for the resume."""
    result = run_cli("analyze", str(run), cwd=run.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run / "info" / f"{name}_t0_s0_session_metrics_scalar.json").read_text())
    assert 0 < metrics["frame"] < max_frame
    assert (run / f"{name}_t0_trial_metrics_scalar.json").is_file()
    assert (run / "graph" / f"{name}_t0_trial_graph.html").is_file()


def check_tensorboard(run: Path, name: str, session: int) -> None:
    """The resumed session's TensorBoard curve has each table row once: the steps the first run
    logged after its checkpoint were purged."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "log" / "tensorboard" / f"{name}_t0_s{session}"))
    events.Reload()
    steps = [e.step for e in events.Scalars("return_ma")]
    df = pd.read_csv(run / "info" / f"{name}_t0_s{session}_session_df_train.csv")
    assert steps == df["frame"][df["total_reward_ma"].notna()].tolist()  # NaN rows: not logged


@pytest.mark.slow  # two full runs and an interrupted one: about 25 s
def test_sigint_then_resume_matches_an_uninterrupted_run(tmp_path: Path):
    raw = tiny_ppo(max_frame=60_000, random_seed=11)
    check_resume(tmp_path, raw, "ppo", signal.SIGINT, group=True, analyze=True)


@pytest.mark.slow
def test_sigterm_then_resume_with_prioritized_replay(tmp_path: Path):
    raw = tiny_dqn(max_frame=12_000, random_seed=5)
    check_resume(tmp_path, raw, "dqn", signal.SIGTERM, group=False)


@pytest.mark.slow
def test_sigterm_to_a_two_session_trial_then_resume(tmp_path: Path):
    raw = tiny_sac(max_frame=4000, random_seed=3, max_session=2, log_frequency=250)
    check_resume(tmp_path, raw, "sac", signal.SIGTERM, group=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a finished tiny seeded run and its spec file, trained once."""
    cwd = tmp_path_factory.mktemp("trained")
    path = write_spec(cwd, {"ppo": tiny_ppo(max_frame=1000, random_seed=2)})
    result = run_cli("run", str(path), "ppo", "train", cwd=cwd)
    assert result.returncode == 0, result.stderr[-2000:]
    return cwd


@pytest.fixture
def finished(trained: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the finished run for one test to change: its spec file and run folder."""
    work = tmp_path / "work"
    shutil.copytree(trained, work)
    (run,) = run_dirs(work)
    return work / "spec.json", run


def refusal(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ")
    return last


def test_resuming_a_finished_run_leaves_it_alone(finished: tuple[Path, Path]):
    path, run = finished
    csv = run / "info" / "ppo_t0_s0_session_df_train.csv"
    before = csv.read_bytes()
    result = run_cli("run", str(path), "ppo", "train@latest", cwd=path.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "sessions [0] had finished" in result.stderr
    assert csv.read_bytes() == before
    assert run_dirs(path.parent) == [run]


def test_corrupt_checkpoint_is_refused_by_name(finished: tuple[Path, Path]):
    path, run = finished
    (run / "info" / "ppo_t0_s0_session_metrics_scalar.json").unlink()  # unfinished again
    ckpt = run / "model" / "ppo_t0_s0_resume.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])  # truncated, as by a full disk
    last = refusal(run_cli("run", str(path), "ppo", f"train@{run}", cwd=path.parent))
    assert str(ckpt) in last and "unreadable" in last


class Payload:
    """Unpickling this would run code: writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_checkpoint_that_would_run_code_is_refused(finished: tuple[Path, Path]):
    path, run = finished
    (run / "info" / "ppo_t0_s0_session_metrics_scalar.json").unlink()
    ckpt = run / "model" / "ppo_t0_s0_resume.pt"
    marker = path.parent / "pwned"
    torch.save({"format": 1, "payload": Payload(marker)}, ckpt)
    last = refusal(run_cli("run", str(path), "ppo", f"train@{run}", cwd=path.parent))
    assert str(ckpt) in last and "refused" in last
    assert not marker.exists()


def test_changed_spec_is_refused_unless_forced(finished: tuple[Path, Path]):
    path, run = finished
    raw = tiny_ppo(max_frame=1000, random_seed=2)
    raw["agent"]["net"]["optim_spec"]["lr"] = 0.002
    write_spec(path.parent, {"ppo": raw})
    last = refusal(run_cli("run", str(path), "ppo", f"train@{run}", cwd=path.parent))
    assert "agent.net.optim_spec.lr (0.001 -> 0.002)" in last and "--force" in last
    result = run_cli("run", str(path), "ppo", f"train@{run}", "--force", cwd=path.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    saved = (run / "ppo_spec.json").read_text()
    assert '"lr": 0.002' in saved and '"random_seed": 2' in saved


def test_resume_of_a_missing_run_is_refused(tmp_path: Path):
    path = write_spec(tmp_path, {"ppo": tiny_ppo()})
    last = refusal(run_cli("run", str(path), "ppo", "train@latest", cwd=tmp_path))
    assert "no run of ppo" in last
    last = refusal(run_cli("run", str(path), "ppo", "train@data/nope", cwd=tmp_path))
    assert "data/nope does not exist" in last


@pytest.mark.slow
def test_box2d_resume_restarts_episodes_and_keeps_the_curve(tmp_path: Path):
    raw = tiny_ppo(max_frame=30_000, random_seed=4)
    raw["env"]["name"] = "LunarLander-v3"
    path = write_spec(tmp_path, {"lunar": raw})
    stderr, code = interrupt(tmp_path, path, "lunar", signal.SIGINT, group=True)
    assert code == 130, stderr
    result = run_cli(*resume_command(stderr), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "LunarLander-v3 cannot be restored mid-episode: its episodes restart" in result.stderr
    (run,) = run_dirs(tmp_path)
    frames = table(run, "lunar")["frame"].astype(int)
    assert frames.tolist() == list(range(500, 30_001, 500))
