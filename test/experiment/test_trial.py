"""Trials: a crashed session loses nothing of the others; Ctrl-C and a full disk stop a trial
cleanly."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from slm_lab.experiment import checkpoint, context, trial
from slm_lab.experiment.run import start
from slm_lab.lib.errors import DiskFull, SessionsFailed
from slm_lab.spec.validate import validate
from test.conftest import CLI, tiny_ppo, write_spec
from test.experiment.crash_env import CRASH_ID, FULL_ID, FULL_PATH, FULL_STEP

CHECKPOINT_WAIT_S = 120


@pytest.mark.slow  # a full CLI run: the slow step, to keep the default run well under 10 minutes
def test_crashed_session_keeps_the_others(tmp_path: Path):
    raw = tiny_ppo(max_frame=400, max_session=2, log_frequency=100)
    raw["env"].update(name=f"test.experiment.crash_env:{CRASH_ID}", num_envs=1)
    spec, _ = validate(raw)
    spec["name"] = "crash"
    with pytest.raises(SessionsFailed, match="1 of 2 sessions failed"):
        start(spec, Path("inline"), "train", False, "WARNING", tmp_path)
    (run,) = tmp_path.iterdir()
    metrics = json.loads((run / "crash_t0_trial_metrics_scalar.json").read_text())
    assert metrics["sessions"] == 1 and metrics["frame"] == 400
    assert "planted crash" in (run / "log" / "crash_t0_s1.log").read_text()
    assert (run / "model" / "crash_t0_s0_actor_model.pt").is_file()


@pytest.mark.slow
def test_ctrl_c_stops_the_trial_and_starts_no_new_session(tmp_path: Path):
    path = write_spec(tmp_path, {"long": tiny_ppo(max_frame=2_000_000, max_session=4)})
    proc = subprocess.Popen(
        [str(CLI), "run", str(path), "long", "train"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives it
    )
    info = tmp_path / "data"
    deadline = time.monotonic() + CHECKPOINT_WAIT_S
    while (
        not list(info.glob("*/info/long_t0_s1_session_df_train.csv"))
        and time.monotonic() < deadline
    ):
        time.sleep(0.5)
    time.sleep(3)  # a few checkpoints in
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=CHECKPOINT_WAIT_S)
    assert proc.returncode == 130, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: interrupted by SIGINT") and "train@data/long_" in last
    (run,) = info.iterdir()
    assert not (run / "info" / "long_t0_s2_session_df_train.csv").exists()  # never started
    models = {p.name for p in (run / "model").iterdir()}
    assert {"long_t0_s0_actor_model.pt", "long_t0_s1_critic_model.pt"} <= models


def test_a_session_with_its_final_metrics_is_done_whatever_ended_its_process(tmp_path: Path):
    """A stop request can reach a session while its process exits (SIGTERM after Python reset
    its handlers): its metrics say it finished, so it counts as done, not failed."""
    spec, _ = validate(tiny_ppo(max_frame=400, max_session=2))
    spec["name"] = "t"
    ctx = context.context(spec, tmp_path, "train", False, "WARNING")
    ctx.paths.make_dirs()
    (tmp_path / "info" / "t_t0_s0_session_metrics_scalar.json").write_text('{"frame": 400}')
    t = trial.Trial(spec, ctx)
    killed = -signal.SIGTERM
    assert t.outcome(0, killed) == "done"
    assert t.outcome(1, killed) == "failed"
    assert t.outcome(1, trial.EXIT_INTERRUPTED) == "interrupted"
    assert t.outcome(1, 0) == "done"


@pytest.mark.slow
def test_a_session_out_of_space_stops_the_trial_as_sigterm_does(tmp_path: Path, monkeypatch):
    """Session 1's process meets a full disk: its DiskFull reaches the trial through the queue,
    session 0 saves and stops, and the error names both checkpoints; no trial metrics."""
    raw = tiny_ppo(max_frame=200_000, max_session=2, log_frequency=100)
    raw["env"].update(name=f"test.experiment.crash_env:{FULL_ID}", num_envs=1)
    spec, _ = validate(raw)
    spec["name"] = "full"
    monkeypatch.setattr(trial, "cpu_count", lambda: 2)
    with pytest.raises(DiskFull) as caught:
        start(spec, Path("inline"), "train", False, "WARNING", tmp_path)
    e, (run,) = caught.value, tmp_path.iterdir()
    assert str(e.path) == FULL_PATH and e.run_dir == run
    assert sorted(e.checkpoints) == [0, 1] and 0 < e.checkpoints[1] < FULL_STEP
    frame = checkpoint.load(run / "model" / "full_t0_s0_resume.pt")["frame"]
    assert frame == e.checkpoints[0] > 0
    assert "Session 0 stopped by SIGTERM" in (run / "log" / "full_t0_s0.log").read_text()
    assert not (run / "full_t0_trial_metrics_scalar.json").exists()


@pytest.mark.parametrize(("omp", "small", "big"), [(None, 1, 2), ("1", 1, 1), ("0", 1, 2)])
def test_torch_threads_follow_net_size_capped_by_omp_num_threads(monkeypatch, omp, small, big):
    """One thread for a net under 100k parameters, the session's share of the cores above, no
    more than OMP_NUM_THREADS where it is set to a count."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    if omp is not None:
        monkeypatch.setenv("OMP_NUM_THREADS", omp)
    before = torch.get_num_threads()
    try:
        trial.set_threads({"net": torch.nn.Linear(10, 10)}, 2)
        assert torch.get_num_threads() == small
        trial.set_threads({"net": torch.nn.Linear(400, 400)}, 2)  # 160,400 parameters
        assert torch.get_num_threads() == big
    finally:
        torch.set_num_threads(before)
