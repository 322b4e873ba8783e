"""A search joined to a Ray cluster started apart from the lab (`ray start --head`, as a user
runs it), stopped by SIGTERM and by Ctrl-C, and resumed on the same cluster by the printed
command. The test starts its head with its own temp dir and ports, and stops it through its own
process IDs alone (`ray stop` would stop every Ray on the machine)."""

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from test.cli.test_search import search_spec
from test.conftest import CLI, run_cli, run_dirs, write_spec

pytestmark = pytest.mark.xdist_group("ray")

WAIT_S = 240
POLL_S = 0.2
HEAD_CPUS = 2
STOP_S = 30  # the head's grace to stop its processes before they are killed
LOG_FREQUENCY = 1000
MAX_FRAME = 16_000
LRS = [3e-3, 1e-3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RayHead:
    """`ray start --head --block` in its own process group and temp dir."""

    def __init__(self) -> None:
        self.temp_dir = tempfile.mkdtemp(prefix="slmray")  # short: Ray's socket paths
        self.port = free_port()
        ray = Path(sys.executable).parent / "ray"
        argv = [str(ray), "start", "--head", "--block", "--node-ip-address", "127.0.0.1"]
        argv += ["--port", str(self.port), "--num-cpus", str(HEAD_CPUS)]
        argv += ["--temp-dir", self.temp_dir, "--include-dashboard", "false"]
        argv += ["--dashboard-agent-listen-port", str(free_port())]
        argv += ["--ray-client-server-port", str(free_port()), "--disable-usage-stats"]
        env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
        self.log = Path(self.temp_dir) / "head.out"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            if "Ray runtime started" in self.log.read_text():
                return
            time.sleep(POLL_S)
        raise AssertionError(f"the Ray head did not start: {self.log.read_text()[-3000:]}")

    def own_pids(self) -> list[int]:
        """Processes of this head: its process group, or its temp dir on their command line."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                group = os.getpgid(int(proc.name))
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except (OSError, ProcessLookupError):
                continue
            if group == self.proc.pid or self.temp_dir in cmdline:
                found.append(int(proc.name))
        return found

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(STOP_S)
        for pid in self.own_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(STOP_S)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


@pytest.fixture
def head():
    head = RayHead()
    try:
        head.wait_ready()
        yield head
    finally:
        head.stop()


def rows(csv: Path) -> int:
    return max(0, len(csv.read_text().splitlines()) - 1) if csv.exists() else 0


def tables(run: Path) -> list[Path]:
    return [run / "info" / f"c_t{t}_s0_session_df_train.csv" for t in range(len(LRS))]


def stop_mid_trial(argv: list[str], cwd: Path, sig: int, after: dict[Path, int]) -> str:
    """Run the lab; once each table has more than `after` says (0 if absent), send `sig` (to
    the lab alone for SIGTERM, as `kill` does; to its process group for SIGINT, as a terminal's
    Ctrl-C does); its stderr."""
    proc = subprocess.Popen(
        [str(CLI), *argv], cwd=cwd, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and proc.poll() is None:
        runs = run_dirs(cwd)
        if runs and all(rows(t) >= after.get(t, 0) + 2 for t in tables(runs[0])):
            break
        time.sleep(POLL_S)
    assert proc.poll() is None, "the search ended before it could be stopped"
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 128 + sig, stderr[-3000:]
    assert "Traceback" not in stderr and "SIGTERM received" not in stderr
    return stderr


def resume_argv(stderr: str, run: Path, path: Path, address: str, signame: str) -> list[str]:
    last = stderr.strip().splitlines()[-1]
    assert last == (
        f"error: interrupted by {signame}; checkpoints saved; resume with: "
        f"slm-lab run {path} c search@{run} --ray-address {address}"
    ), stderr[-3000:]
    return shlex.split(last.split("resume with: slm-lab ", 1)[1])


@pytest.mark.slow
def test_a_search_on_a_joined_cluster_stops_on_sigterm_and_ctrl_c_and_resumes(
    head: RayHead, tmp_path: Path
):
    spec = search_spec({"agent.net.optim_spec.lr__grid_search": LRS}, 1, log_frequency=1000)
    spec["env"]["max_frame"] = MAX_FRAME
    spec["meta"]["search_resources"] = {"cpu": 1, "gpu": 0}
    path = write_spec(tmp_path, {"c": spec})
    argv = ["run", str(path), "c", "search", "--ray-address", head.address]

    stderr = stop_mid_trial(argv, tmp_path, signal.SIGTERM, {})
    (run,) = run_dirs(tmp_path)
    run = run.relative_to(tmp_path)
    df = pd.read_csv(tmp_path / run / "c_experiment_df.csv")
    assert list(df["status"]) == ["unfinished", "unfinished"]
    assert all((tmp_path / run / "model" / f"c_t{t}_s0_resume.pt").is_file() for t in (0, 1))

    at_stop = {t: rows(t) for t in tables(tmp_path / run)}
    argv = resume_argv(stderr, run, path, head.address, "SIGTERM")
    stderr = stop_mid_trial(argv, tmp_path, signal.SIGINT, at_stop)
    argv = resume_argv(stderr, run, path, head.address, "SIGINT")

    resumed = run_cli(*argv, cwd=tmp_path, timeout=WAIT_S)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert run_dirs(tmp_path) == [tmp_path / run]
    df = pd.read_csv(tmp_path / run / "c_experiment_df.csv")
    assert sorted(df["agent.net.optim_spec.lr"]) == sorted(LRS)
    assert (df["status"] == "finished").all()
    for csv in tables(tmp_path / run):
        frames = pd.read_csv(csv)["frame"].tolist()
        assert frames == list(range(LOG_FREQUENCY, MAX_FRAME + 1, LOG_FREQUENCY))
