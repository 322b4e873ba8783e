"""A full disk at any write of a run: the run stops with DiskFull naming the file, no temp file is
left, the last complete checkpoint is whole, and train@ continues the tables without a gap. The
disk fills at the n-th opening of one kind of file (test/full_disk.py); TensorBoard's writer
fails at its n-th record."""

import errno
import os
from pathlib import Path

import pandas as pd
import pytest
from tensorboard.summary.writer.record_writer import RecordWriter

from slm_lab.experiment import analysis, checkpoint, footprint, run, session
from slm_lab.lib import util
from slm_lab.lib.errors import DiskFull, ResourceError
from slm_lab.spec.validate import validate
from test.conftest import tiny_dqn, tiny_ppo
from test.full_disk import FullAfter

MAX_FRAME = 1200
LOG_FREQUENCY = 100


def spec_of(raw: dict) -> dict:
    spec, _ = validate(raw)
    spec["name"] = "full"
    return spec


def small_run() -> dict:
    return spec_of(tiny_ppo(max_frame=MAX_FRAME, log_frequency=LOG_FREQUENCY, random_seed=4))


def start(spec: dict, data: Path) -> tuple[Path, dict]:
    return run.start(spec, Path("spec.json"), "train", False, "WARNING", data)


def fill_at(monkeypatch, picks, nth: int) -> FullAfter:
    """The disk fills at the nth opening for writing of a file whose name `picks`: tables,
    graphs and JSON go through util.open; checkpoints and model files through checkpoint.open."""
    full = FullAfter(picks, nth)
    monkeypatch.setattr(util, "open", full.open, raising=False)
    monkeypatch.setattr(checkpoint, "open", full.open, raising=False)
    return full


def fill_tensorboard_at(monkeypatch, nth: int) -> None:
    """TensorBoard's writer thread gets ENOSPC at its nth record."""
    real, count = RecordWriter.write, [0]

    def write(self, data: bytes) -> None:
        count[0] += 1
        if count[0] >= nth:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(self, data)

    monkeypatch.setattr(RecordWriter, "write", write)


def temp_files(run_dir: Path) -> list[str]:
    return [p.name for p in run_dir.rglob("*") if p.name.startswith(".") or ".tmp" in p.name]


def table_frames(run_dir: Path) -> list[int]:
    return pd.read_csv(run_dir / "info" / "full_t0_s0_session_df_train.csv")["frame"].tolist()


KINDS = {  # kind: (the file names it covers, the opening at which the disk is full)
    "table": (lambda name: "session_df_train" in name, 4),
    "checkpoint": (lambda name: "_resume.pt" in name, 2),
    "model file": (lambda name: name.endswith("_model.pt.tmp"), 1),
    "graph": (lambda name: "session_graph.html" in name, 2),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_full_disk_stops_the_run_and_keeps_its_last_checkpoint(
    kind: str, tmp_path: Path, monkeypatch, capfd
):
    picks, nth = KINDS[kind]
    monkeypatch.setattr(session, "GRAPH_FIRST_S", 0.0)  # graphs from the first row, as long runs
    fill_at(monkeypatch, picks, nth)
    with pytest.raises(DiskFull) as caught:
        start(small_run(), tmp_path)
    e = caught.value
    (run_dir,) = tmp_path.iterdir()
    assert e.run_dir == run_dir and picks(f"{e.path.name}.tmp") and e.free is not None
    assert temp_files(run_dir) == []
    frame = e.checkpoints[0]
    assert checkpoint.load(run_dir / "model" / "full_t0_s0_resume.pt")["frame"] == frame
    assert "Traceback" not in capfd.readouterr().err
    assert str(e).endswith(f"the last checkpoint is intact, at frame {frame:,}")


def test_a_full_disk_at_tensorboard_stops_the_run_without_a_traceback(
    tmp_path: Path, monkeypatch, capfd
):
    fill_tensorboard_at(monkeypatch, 6)
    with pytest.raises(DiskFull) as caught:
        start(small_run(), tmp_path)
    (run_dir,) = tmp_path.iterdir()
    assert caught.value.path == run_dir / "log" / "tensorboard" / "full_t0_s0"
    assert "Traceback" not in capfd.readouterr().err


def test_after_a_full_disk_train_at_continues_the_tables_without_a_gap(tmp_path: Path, monkeypatch):
    """The disk fills at a table write: the rows after the checkpoint are redone on resume."""
    fill_at(monkeypatch, KINDS["table"][0], 6)
    spec = small_run()
    with pytest.raises(DiskFull) as caught:
        start(spec, tmp_path)
    (run_dir,) = tmp_path.iterdir()
    frame = caught.value.checkpoints[0]
    assert 0 < frame < MAX_FRAME and max(table_frames(run_dir)) >= frame
    monkeypatch.undo()  # space freed
    run.resume(spec, run_dir, "WARNING", force=False)
    frames = table_frames(run_dir)
    assert frames == list(range(LOG_FREQUENCY, MAX_FRAME + 1, LOG_FREQUENCY))


def test_the_sessions_at_once_must_fit_together(monkeypatch):
    one = footprint.Footprint(replay=900, envs=80, nets=20, num_envs=4)
    monkeypatch.setattr(footprint, "available_memory", lambda: int(1.5 * one.total))
    footprint.check_fits(one, 1)
    with pytest.raises(ResourceError, match=r"2 sessions at once x 1000 B each \(replay 900 B"):
        footprint.check_fits(one, 2)


def test_a_run_that_cannot_fit_in_memory_is_refused_before_any_folder(tmp_path: Path, monkeypatch):
    spec = spec_of(tiny_dqn(max_session=2))
    monkeypatch.setattr(run, "cpu_count", lambda: 2)
    monkeypatch.setattr(footprint, "available_memory", lambda: 1)
    with pytest.raises(ResourceError) as caught:
        start(spec, tmp_path / "data")
    message = str(caught.value)
    assert message.startswith("meta.max_session: the run needs about")
    assert "and 1 B are available: 2 sessions at once x" in message
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("first_s", [session.GRAPH_FIRST_S, 0.0])
def test_a_short_run_writes_its_graphs_at_its_end(first_s: float, tmp_path: Path, monkeypatch):
    """The first HTML graph waits for GRAPH_FIRST_S of training: a run shorter than that gets
    its graphs at its end only (with 0, from the first row on: the check can fail)."""
    monkeypatch.setattr(session, "GRAPH_FIRST_S", first_s)
    rows_at_graph = []
    real = analysis.write_session_graph

    def spy(paths, spec, index):
        rows_at_graph.append(len(pd.read_csv(paths.table(index, "train"))))
        return real(paths, spec, index)

    monkeypatch.setattr(analysis, "write_session_graph", spy)
    run_dir, _ = start(small_run(), tmp_path)
    rows = len(table_frames(run_dir))
    assert rows == MAX_FRAME // LOG_FREQUENCY and rows_at_graph[-1] == rows
    assert (min(rows_at_graph) == rows) == (first_s > 0)
