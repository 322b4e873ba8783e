"""Stop requests: an orphaned session process (its trial's process killed) stops as on SIGTERM."""

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

from slm_lab.experiment import interrupt

WAIT_S = 60.0
POLL_S = 0.05


def session_like(folder: str) -> None:
    """Stands for a session process: waits for a stop request, then writes which one it got."""
    interrupt.install()
    interrupt.watch_parent()
    Path(folder, "started").touch()
    deadline = time.monotonic() + WAIT_S
    while not interrupt.requested() and time.monotonic() < deadline:
        time.sleep(POLL_S)
    Path(folder, "stopped").write_text(str(interrupt.requested()))


def trial_like(folder: str) -> None:
    """Stands for a search trial's actor: starts the session, then waits to be killed."""
    multiprocessing.get_context("spawn").Process(target=session_like, args=(folder,)).start()
    time.sleep(WAIT_S)


def wait_for(path: Path) -> bool:
    deadline = time.monotonic() + WAIT_S
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(POLL_S)
    return path.exists()


def test_a_session_whose_parent_dies_stops_as_on_sigterm(tmp_path: Path):
    parent = multiprocessing.get_context("spawn").Process(target=trial_like, args=(str(tmp_path),))
    parent.start()
    assert wait_for(tmp_path / "started")
    assert not (tmp_path / "stopped").exists()
    os.kill(parent.pid, signal.SIGKILL)
    parent.join()
    assert wait_for(tmp_path / "stopped")
    assert (tmp_path / "stopped").read_text() == str(int(signal.SIGTERM))


def test_the_main_process_has_no_parent_to_watch():
    interrupt.clear()
    interrupt.watch_parent()  # pytest's own process: not started by multiprocessing
    assert "parent-watch" not in {t.name for t in threading.enumerate()}
    assert interrupt.requested() is None
