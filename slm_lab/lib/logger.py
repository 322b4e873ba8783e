"""One loguru setup for the CLI, sessions and tests. Secrets from the environment are redacted.

A sink that cannot be written (a full disk, a closed terminal, a broken pipe) is switched off,
the other one says so once, and the run goes on: logging never stops training by itself, and
loguru never prints its "Logging error" blocks."""

import sys
import threading
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import TextIO

from loguru import logger

from slm_lab.lib.redact import redact
from slm_lab.lib.util import no_space

FORMAT = "{time:YYYY-MM-DD HH:mm:ss} | {level} | {message}"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # FORMAT's time, for the lines a sink writes itself
LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
FILE_ONLY = "file_only"  # logger.bind(file_only=True): for the log file alone (a traceback)
TERMINAL = "the terminal"


class Sink:
    """A loguru sink writing a text stream, redacted, that never raises: the first write that
    fails turns it off and is said once on the other sinks (`peers`)."""

    def __init__(self, stream: TextIO, name: str, owned: bool = False) -> None:
        self.stream, self.name, self.owned = stream, name, owned
        self.peers: list[Sink] = []
        self.failed = False

    def write(self, text: str) -> None:
        if self.failed:
            return
        try:
            self.stream.write(redact(text))
            self.stream.flush()
        except (OSError, ValueError) as e:  # ValueError: a stream closed under us
            self.fail(e)

    def fail(self, error: Exception) -> None:
        self.failed = True
        say_lost(self.name, error, self.peers)

    def stop(self) -> None:
        if self.owned:
            with suppress(OSError, ValueError):
                self.stream.close()


def say_lost(name: str, error: Exception, peers: list[Sink]) -> None:
    """One line on the sinks still working: `name` cannot be written, and why."""
    alive = [peer for peer in peers if not peer.failed]
    if not alive:
        return
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    where = " and ".join(peer.name for peer in alive)
    stamp = datetime.now().strftime(TIME_FORMAT)
    for peer in alive:
        peer.write(
            f"{stamp} | WARNING | {name} cannot be written ({reason}): logs go to {where} only\n"
        )


def redact_record(record: dict) -> None:
    """loguru patcher: the message every sink sees holds no secret."""
    record["message"] = redact(record["message"])


def on_terminal(record: dict) -> bool:
    return not record["extra"].get(FILE_ONLY)


def open_log(log_file: Path) -> Sink | Exception:
    """The log file's sink, or why it cannot be opened."""
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        stream = open(log_file, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (the sink owns it)
    except OSError as e:
        return e
    return Sink(stream, str(log_file), owned=True)


def setup(level: str = "INFO", log_file: Path | None = None) -> None:
    """Send logs to stderr at `level`, and in full to `log_file` when given. Sinks redact the
    whole formatted line, tracebacks from logger.exception included."""
    logger.remove()
    logger.configure(patcher=redact_record)
    terminal = Sink(sys.stderr, TERMINAL)
    logger.add(terminal, level=level.upper(), format=FORMAT, colorize=False, filter=on_terminal)
    threading.excepthook = log_thread_error
    if log_file is None:
        return
    found = open_log(log_file)
    if isinstance(found, Exception):
        say_lost(str(log_file), found, [terminal])
        return
    found.peers, terminal.peers = [terminal], [found]
    logger.add(found, level="DEBUG", format=FORMAT, colorize=False)


def log_thread_error(args: threading.ExceptHookArgs) -> None:
    """An exception a thread let through, logged instead of printed: a full disk (TensorBoard's
    writer thread; the session stops on it at its next write) in the log file alone."""
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else "a thread"
    log = logger.bind(**{FILE_ONLY: True}) if no_space(args.exc_value) else logger
    error = (args.exc_type, args.exc_value, args.exc_traceback)
    log.opt(exception=error).error(f"{name} failed: {args.exc_value}")


__all__ = ["FILE_ONLY", "FORMAT", "LEVELS", "logger", "setup"]
