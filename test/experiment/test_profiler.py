"""--profile through the CLI: a run too short for the window says so; a bad window is refused.
(A profiled run's trace and summary: test/cli/test_original_cli.py.)"""

from pathlib import Path

import pytest

from test.conftest import run_cli, run_dirs, tiny_ppo, write_spec


@pytest.mark.slow
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
