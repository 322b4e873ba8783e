"""Faults of the machine through the real CLI: a session process killed (as by the out-of-memory
killer), a terminal piped into `head`, and (slow, as root) a disk that fills up mid-run."""

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

from slm_lab.experiment import checkpoint
from test.conftest import CLI, TEST_DIR, run_cli, run_dirs, tiny_ppo, write_spec

WAIT_S = 180
POLL_S = 0.1
FIXTURE_RUN = TEST_DIR / "fixtures" / "runs" / "tiny_2026_11_26_171159"
LOG_FREQUENCY = 250
DISK_SIZE = "32m"  # plotly.js alone takes 4.6 MB of a run folder
SLACK_KB = 8  # left free when the disk is shrunk mid-run: a few more writes fit


def rows(csv: Path) -> int:
    return max(0, len(csv.read_text().splitlines()) - 1) if csv.exists() else 0


def table(run: Path, name: str, session: int) -> Path:
    return run / "info" / f"{name}_t0_s{session}_session_df_train.csv"


def wait_for(proc: subprocess.Popen, cwd: Path, ready) -> Path:
    """The run folder, once `ready(run folder)`; the run must still be going."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and proc.poll() is None:
        runs = run_dirs(cwd)
        if runs and ready(runs[0]):
            return runs[0]
        time.sleep(POLL_S)
    raise AssertionError(f"the run ended or stalled first: {proc.poll()}")


def session_pid(trial_pid: int, log_name: str) -> int:
    """The child process of the trial that holds this session's log file open."""
    children = Path(f"/proc/{trial_pid}/task/{trial_pid}/children").read_text().split()
    for child in children:
        fds = Path(f"/proc/{child}/fd")
        try:
            targets = [os.readlink(fd) for fd in fds.iterdir()]
        except OSError:
            continue
        if any(t.endswith(log_name) for t in targets):
            return int(child)
    raise AssertionError(f"no child of {trial_pid} holds {log_name}")


def resume_argv(stderr: str) -> list[str]:
    last = stderr.strip().splitlines()[-1]
    assert " with: slm-lab " in last, stderr[-3000:]
    return shlex.split(last.split(" with: slm-lab ", 1)[1])


def test_a_killed_session_is_named_the_others_finish_and_train_at_resumes_it(tmp_path: Path):
    max_frame = 4000
    raw = tiny_ppo(max_frame=max_frame, max_session=2, log_frequency=LOG_FREQUENCY, random_seed=3)
    path = write_spec(tmp_path, {"k": raw})
    proc = subprocess.Popen(
        [str(CLI), "run", str(path), "k", "train"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    run = wait_for(proc, tmp_path, lambda r: rows(table(r, "k", 1)) >= 2)
    os.kill(session_pid(proc.pid, "k_t0_s1.log"), signal.SIGKILL)
    _, stderr = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 1, stderr[-3000:]
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: 1 of 2 sessions failed (s1 killed by SIGKILL at a peak of ")
    assert last.endswith(f"resume with: slm-lab run {path} k train@{run.relative_to(tmp_path)}")
    metrics = json.loads((run / "k_t0_trial_metrics_scalar.json").read_text())
    assert (metrics["sessions"], metrics["max_session"], metrics["frame"]) == (1, 2, max_frame)

    resumed = run_cli(*resume_argv(stderr), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "sessions [0] had finished" in resumed.stderr
    assert "Session 1 resumes at frame" in resumed.stderr
    frames = pd.read_csv(table(run, "k", 1))["frame"].tolist()
    assert frames == list(range(LOG_FREQUENCY, max_frame + 1, LOG_FREQUENCY))
    metrics = json.loads((run / "k_t0_trial_metrics_scalar.json").read_text())
    assert (metrics["sessions"], metrics["max_session"]) == (2, 2)


def test_plot_list_into_a_pipe_closed_early_leaves_no_traceback(tmp_path: Path):
    shutil.copytree(FIXTURE_RUN, tmp_path / "data" / FIXTURE_RUN.name)
    piped = subprocess.run(
        f"{shlex.quote(str(CLI))} plot-list | head -n 1",
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert piped.stdout.split() == [
        "run",
        "trials",
        "sessions",
        "frames",
        "total_reward_ma",
        "status",
    ]
    assert "Traceback" not in piped.stderr and "Exception ignored" not in piped.stderr
    proc = subprocess.Popen(
        [str(CLI), "plot-list"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.close()  # the reader is gone before the first line: a broken pipe for sure
    _, stderr = proc.communicate(timeout=WAIT_S)
    assert "Traceback" not in stderr and "Exception ignored" not in stderr


def mount(folder: Path, size: str, remount: bool = False) -> None:
    options = f"remount,size={size}" if remount else f"size={size}"
    argv = ["mount", "-o", options, str(folder)]
    if not remount:
        argv = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)]
    subprocess.run(argv, check=True, capture_output=True, timeout=WAIT_S)


@pytest.fixture
def small_disk(tmp_path: Path):
    """data/ on its own tmpfs (the tests run as root in CI; elsewhere they are skipped)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    data = tmp_path / "data"
    data.mkdir()
    mount(data, DISK_SIZE)
    try:
        yield data
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False, timeout=WAIT_S)


@pytest.mark.slow
def test_a_disk_that_fills_up_mid_run_stops_in_one_line_and_resumes(small_disk: Path):
    """The disk is shrunk to what the run uses (+ a little) once it has written a few rows:
    exit 1, one line naming the file and the checkpoint's frame, no traceback, no temp file,
    the checkpoint loads; enlarged again, the printed command finishes the run without a gap."""
    cwd, max_frame = small_disk.parent, 30_000
    raw = tiny_ppo(max_frame=max_frame, log_frequency=LOG_FREQUENCY, random_seed=6)
    path = write_spec(cwd, {"f": raw})
    proc = subprocess.Popen(
        [str(CLI), "run", str(path), "f", "train"], cwd=cwd, stderr=subprocess.PIPE, text=True
    )
    ckpt = "model/f_t0_s0_resume.pt"
    run = wait_for(proc, cwd, lambda r: rows(table(r, "f", 0)) >= 4 and (r / ckpt).exists())
    used_kb = shutil.disk_usage(small_disk).used // 1024
    mount(small_disk, f"{used_kb + SLACK_KB}k", remount=True)
    _, stderr = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 1, stderr[-3000:]
    assert "Traceback" not in stderr and "Logging error" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: no space left on device: could not write data/{run.name}/")
    assert "free, " in last and "needed)" in last
    frame = int(last.split("intact, at frame ", 1)[1].split(";", 1)[0].replace(",", ""))
    assert 0 < frame < max_frame
    assert [p for p in run.rglob("*") if p.name.startswith(".") or ".tmp" in p.name] == []
    assert checkpoint.load(run / ckpt)["frame"] == frame

    mount(small_disk, DISK_SIZE, remount=True)
    resumed = run_cli(*resume_argv(stderr), cwd=cwd)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Session 0 resumes at frame {frame}" in resumed.stderr
    frames = pd.read_csv(table(run, "f", 0))["frame"].tolist()
    assert frames == list(range(LOG_FREQUENCY, max_frame + 1, LOG_FREQUENCY))
