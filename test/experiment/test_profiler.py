"""--profile through the CLI: a trace of the window in traces/, the phase summary in the log and
in info/, the phases adding up to the loop's time; a run too short for the window says so."""

import json
from pathlib import Path

import pytest

from test.conftest import run_cli, run_dirs, tiny_ppo, write_spec

SUMMED = 0.10  # the phases' sum is within 10% of the loop's wall time


def test_profile_writes_a_trace_and_a_summary(tmp_path: Path):
    path = write_spec(tmp_path, {"tiny": tiny_ppo(max_frame=1000)})
    window = {"PROF_SKIP": "100", "PROF_ACTIVE": "5"}
    result = run_cli("run", str(path), "tiny", "train", "--profile", cwd=tmp_path, **window)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = run_dirs(tmp_path)
    (trace,) = (run / "traces").iterdir()
    assert trace.name == "tiny_t0_s0.pt.trace.json"
    events = json.loads(trace.read_text())["traceEvents"]
    steps = {e["name"] for e in events if e.get("name", "").startswith("ProfilerStep#")}
    assert len(steps) == 5  # PROF_ACTIVE steps recorded
    summary = json.loads((run / "info" / "tiny_t0_s0_profile.json").read_text())
    assert summary["loop_steps"] == 500 and summary["frames"] == 1000
    phases = {name: p["seconds"] for name, p in summary["phases"].items()}
    assert set(phases) >= {"act", "env step", "memory", "learn", "log rows", "checkpoints"}
    assert summary["phases"]["log rows"]["calls"] == 2  # log_frequency 500 of 1000 frames
    loop = summary["loop_seconds"]
    assert sum(phases.values()) == pytest.approx(loop, rel=SUMMED)
    assert summary["fps"] == pytest.approx(1000 / loop)
    assert summary["peak_ram_mib"] > 0 and summary["cpu_percent"] > 0
    table = result.stderr[result.stderr.index("profile: 500 loop steps in") :]
    assert "env step" in table and "frames/s" in table
    assert "profile: 500 loop steps" in (run / "log" / "tiny_t0.log").read_text()


def test_a_run_ending_before_the_window_says_no_trace_was_taken(tmp_path: Path):
    path = write_spec(tmp_path, {"tiny": tiny_ppo(max_frame=1000)})
    result = run_cli("run", str(path), "tiny", "train", cwd=tmp_path, PROFILE="true")
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [li for li in result.stderr.splitlines() if "no trace was taken" in li]
    assert "the run ended after 500 loop steps, before the trace window (PROF_SKIP=500" in line
    (run,) = run_dirs(tmp_path)
    assert not (run / "traces").exists() and (run / "info" / "tiny_t0_s0_profile.json").is_file()


def test_a_bad_window_is_one_line(tmp_path: Path):
    path = write_spec(tmp_path, {"tiny": tiny_ppo()})
    result = run_cli("run", str(path), "tiny", "--profile", cwd=tmp_path, PROF_ACTIVE="0")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --profile: PROF_ACTIVE='0' is not a count of loop steps"
    )
