"""Faults of the machine: a session process killed (as by the out-of-memory killer) and resumed
through the CLI, the CLI piped into `head`, and (slow, as root) a disk that fills up mid-run."""

import json
import multiprocessing
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from slm_lab.cli import train
from slm_lab.experiment import checkpoint, run, trial
from slm_lab.lib.errors import SessionsFailed
from slm_lab.spec import load_spec
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


def kill_when(ready, name: str) -> threading.Thread:
    """A thread that SIGKILLs this process's child `name` once `ready()`, as the out-of-memory
    killer would."""

    def watch() -> None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and not ready():
            time.sleep(POLL_S)
        for child in multiprocessing.active_children():
            if child.name == name:
                os.kill(child.pid, signal.SIGKILL)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def resume_argv(stderr: str) -> list[str]:
    last = stderr.strip().splitlines()[-1]
    assert " with: slm-lab " in last, stderr[-3000:]
    return shlex.split(last.split(" with: slm-lab ", 1)[1])


@pytest.mark.slow  # a full CLI run: the slow step, to keep the default run well under 10 minutes
def test_a_killed_session_is_named_the_others_finish_and_train_at_resumes_it(
    tmp_path: Path, monkeypatch
):
    """The trial runs in this process (so it has 2 cores for its 2 session processes whatever
    the machine), the resume through the CLI."""
    max_frame = 4000
    raw = tiny_ppo(max_frame=max_frame, max_session=2, log_frequency=LOG_FREQUENCY, random_seed=3)
    path = write_spec(tmp_path, {"k": raw})
    monkeypatch.setattr(trial, "cpu_count", lambda: 2)
    data = tmp_path / "data"

    def s1_rows() -> bool:
        runs = run_dirs(tmp_path)
        return bool(runs) and rows(table(runs[0], "k", 1)) >= 2

    killer = kill_when(s1_rows, "session-1")
    with pytest.raises(SessionsFailed) as caught:
        run.start(load_spec(path, "k").spec, path, "train", False, "WARNING", data)
    killer.join()
    e, (run_dir,) = caught.value, run_dirs(tmp_path)
    line = train.stopped(e, train.resume_command(e, str(path), "k", None, None))
    assert line.startswith("1 of 2 sessions failed (s1 killed by SIGKILL at a peak of ")
    assert line.endswith(f"resume with: slm-lab run {path} k train@{run_dir}")
    metrics = json.loads((run_dir / "k_t0_trial_metrics_scalar.json").read_text())
    assert (metrics["sessions"], metrics["max_session"], metrics["frame"]) == (1, 2, max_frame)

    resumed = run_cli(*resume_argv(line), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "sessions [0] had finished" in resumed.stderr
    assert "Session 1 resumes at frame" in resumed.stderr
    frames = pd.read_csv(table(run_dir, "k", 1))["frame"].tolist()
    assert frames == list(range(LOG_FREQUENCY, max_frame + 1, LOG_FREQUENCY))
    metrics = json.loads((run_dir / "k_t0_trial_metrics_scalar.json").read_text())
    assert (metrics["sessions"], metrics["max_session"]) == (2, 2)


def test_plot_list_into_a_pipe_closed_early_leaves_no_traceback(tmp_path: Path):
    """`slm-lab plot-list | head -n 1`, with head gone before the first line is written (a
    broken pipe for sure, where a real head may have read it all first)."""
    shutil.copytree(FIXTURE_RUN, tmp_path / "data" / FIXTURE_RUN.name)
    proc = subprocess.Popen(
        [str(CLI), "plot-list"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.close()
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
