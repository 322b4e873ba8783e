"""Ctrl-C and SIGTERM (what a cloud spot instance gets before it goes) as a request to stop.

Sessions check `requested()` between steps, save a resume checkpoint at that clean point and leave
with `Interrupted`; nothing is cut off mid-update. Repeated signals change nothing: the trial gives
its sessions STOP_GRACE_S to save, then kills what is left.
"""

import multiprocessing
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import connection
from pathlib import Path

SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_BASE = 128  # a process stopped by signal n exits with 128 + n
_received: list[int] = []


class Interrupted(KeyboardInterrupt):
    """A run stopped on request, after saving what it needs to resume."""

    def __init__(self, signum: int, run_dir: Path | None = None, mode: str = "train") -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum, self.run_dir, self.mode = signum, run_dir, mode  # mode@run_dir resumes

    @property
    def exit_code(self) -> int:
        return EXIT_BASE + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def handle(signum: int, frame: object) -> None:
    _received.append(signum)


def request(signum: int) -> None:
    _received.append(signum)


def requested() -> int | None:
    """The first stop signal received, if any."""
    return _received[0] if _received else None


def install() -> None:
    """In a session's own process: signals only set the request."""
    for signum in SIGNALS:
        signal.signal(signum, handle)


@contextmanager
def catching() -> Iterator[None]:
    """Signals set the request while the block runs; the previous handlers come back after."""
    _received.clear()
    previous = {signum: signal.signal(signum, handle) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def clear() -> None:
    _received.clear()


def watch_parent() -> None:
    """In a session's own process: if the process that started it dies (a search trial's actor
    killed), stop as on SIGTERM, so an orphaned session saves and leaves instead of training on."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def wait_for_parent() -> None:
        connection.wait([parent.sentinel])
        request(signal.SIGTERM)

    threading.Thread(target=wait_for_parent, name="parent-watch", daemon=True).start()
