"""Logging that cannot be written (a full disk, a broken pipe, a closed terminal) is switched off
and said once on the other sink; it never raises and never prints loguru's error blocks."""

import errno
import io
import os
import sys
from pathlib import Path

from slm_lab.lib import logger as lab_logger
from slm_lab.lib.logger import logger
from test.full_disk import FullAfter

LINES = 50


class BrokenPipe(io.StringIO):
    """A terminal piped into `head`, which has exited."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def test_a_log_file_on_a_full_disk_is_dropped_and_said_once(tmp_path: Path, monkeypatch, capfd):
    log_file = tmp_path / "run.log"
    monkeypatch.setattr(lab_logger, "open", FullAfter(lambda name: True, 1).open, raising=False)
    lab_logger.setup("INFO", log_file)
    for i in range(LINES):
        logger.info(f"row {i}")
    lab_logger.setup()
    err = capfd.readouterr().err
    assert f"row {LINES - 1}" in err and "Logging error" not in err and "Traceback" not in err
    note = f"{log_file} cannot be written (No space left on device): logs go to the terminal only"
    assert err.count(note) == 1


def test_a_broken_terminal_is_dropped_and_said_once_in_the_log_file(tmp_path: Path, monkeypatch):
    log_file = tmp_path / "run.log"
    monkeypatch.setattr(sys, "stderr", BrokenPipe())
    lab_logger.setup("INFO", log_file)
    for i in range(LINES):
        logger.info(f"row {i}")
    monkeypatch.undo()
    lab_logger.setup()
    text = log_file.read_text()
    assert f"row {LINES - 1}" in text
    assert text.count(f"the terminal cannot be written (Broken pipe): logs go to {log_file}") == 1


def test_a_log_file_that_cannot_be_opened_leaves_the_terminal(tmp_path: Path, capfd):
    blocker = tmp_path / "file"
    blocker.write_text("")
    lab_logger.setup("INFO", blocker / "log" / "run.log")  # a folder under a file
    logger.info("still here")
    lab_logger.setup()
    err = capfd.readouterr().err
    assert "run.log cannot be written (Not a directory): logs go to the terminal only" in err
    assert "still here" in err


def test_file_only_records_stay_off_the_terminal(tmp_path: Path, capfd):
    log_file = tmp_path / "run.log"
    lab_logger.setup("DEBUG", log_file)
    logger.bind(**{lab_logger.FILE_ONLY: True}).warning("details for the file")
    lab_logger.setup()
    assert "details for the file" not in capfd.readouterr().err
    assert "details for the file" in log_file.read_text()
