"""enjoy@DIR through the real CLI: replays the best model, records a video into its own folder,
and leaves the training run untouched."""

import hashlib
import json
from pathlib import Path

import imageio.v3 as iio
import pytest

from test.conftest import run_cli, run_dirs, tiny_ppo, write_spec

pytestmark = pytest.mark.xdist_group("enjoy")


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A finished 2-session run (the tests on it are in the slow step)."""
    cwd = tmp_path_factory.mktemp("enjoy")
    path = write_spec(cwd, {"tiny": tiny_ppo(max_frame=3000, max_session=2)})
    result = run_cli("run", str(path), "tiny", "train", cwd=cwd)
    assert result.returncode == 0, result.stderr[-2000:]
    (run,) = run_dirs(cwd)
    return cwd, run


@pytest.mark.slow
def test_enjoy_records_a_video_and_leaves_the_run_alone(trained):
    cwd, run = trained
    before = digest(run)
    result = run_cli(
        "run", "spec.json", "tiny", f"enjoy@{run}", "--video", "--episodes", "2", cwd=cwd
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert digest(run) == before
    (out,) = [d for d in run_dirs(cwd) if "_enjoy_" in d.name]
    metrics = json.loads((out / "tiny_enjoy_metrics.json").read_text())
    assert metrics["episodes"] == 2 and len(metrics["returns"]) == 2
    assert metrics["mean"] == pytest.approx(sum(metrics["returns"]) / 2)
    assert all(
        name.startswith(f"tiny_t0_s{metrics['session']}_") for name in metrics["model_files"]
    )
    frames = iio.imread(out / metrics["video"])
    # CartPole draws 600x400; every step and the first observation are frames
    assert frames.shape == (metrics["video_frames"], 400, 600, 3)
    assert metrics["video_frames"] == sum(metrics["returns"]) + 1


@pytest.mark.slow
def test_enjoy_latest_picks_the_newest_training_run(trained):
    cwd, run = trained
    result = run_cli("run", "spec.json", "tiny", "enjoy@latest", "--episodes", "1", cwd=cwd)
    assert result.returncode == 0, result.stderr[-2000:]
    newest = max((d for d in run_dirs(cwd) if "_enjoy_" in d.name), key=lambda d: d.stat().st_mtime)
    metrics = json.loads((newest / "tiny_enjoy_metrics.json").read_text())
    assert Path(metrics["run"]).name == run.name and metrics["video"] is None


@pytest.mark.parametrize(
    ("mode", "fragment"),
    [
        ("enjoy", "give it as enjoy@data/<run> or enjoy@latest"),
        ("enjoy@data/nope", "run folder data/nope does not exist"),
    ],
)
def test_enjoy_without_a_run_is_refused(tmp_path: Path, mode: str, fragment: str):
    path = write_spec(tmp_path, {"tiny": tiny_ppo()})
    result = run_cli("run", str(path), "tiny", mode, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0]
    assert not (tmp_path / "data").exists()


def test_best_session_is_the_highest_score_and_nan_never_wins(tmp_path: Path):
    from slm_lab.experiment.enjoy import best_session
    from slm_lab.lib.run_paths import RunPaths

    paths = RunPaths(run_dir=tmp_path, name="x")
    info = tmp_path / "info"
    info.mkdir()
    for session, score in ((0, 12.5), (1, float("nan")), (2, 40.0), (3, 39.9)):
        path = info / f"x_t0_s{session}_session_metrics_scalar.json"
        path.write_text(json.dumps({"total_reward_ma": score}))
    assert best_session(paths) == 2
    (info / "x_t0_s2_session_metrics_scalar.json").unlink()
    assert best_session(paths) == 3


@pytest.mark.slow
def test_enjoy_refuses_a_corrupt_model_file_by_name(trained, tmp_path: Path):
    import shutil

    cwd, run = trained
    copy = shutil.copytree(run, tmp_path / "data" / run.name)
    shutil.copy(cwd / "spec.json", tmp_path / "spec.json")
    for model in (copy / "model").glob("*_model.pt"):
        model.write_bytes(b"\x00garbage")
    result = run_cli("run", "spec.json", "tiny", f"enjoy@{copy}", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and f"{copy}/model/tiny_t0_s" in last
    assert "unreadable" in last
    assert [d.name for d in run_dirs(tmp_path)] == [run.name]  # no enjoy folder left behind
