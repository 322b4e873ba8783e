"""One loguru setup for the CLI, sessions and tests."""

import sys
from pathlib import Path

from loguru import logger

FORMAT = "{time:YYYY-MM-DD HH:mm:ss} | {level} | {message}"
LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")


def setup(level: str = "INFO", log_file: Path | None = None) -> None:
    """Send logs to stderr at `level`, and in full to `log_file` when given."""
    logger.remove()
    logger.add(sys.stderr, level=level.upper(), format=FORMAT, colorize=False)
    if log_file is not None:
        logger.add(log_file, level="DEBUG", format=FORMAT, enqueue=False)


__all__ = ["FORMAT", "LEVELS", "logger", "setup"]
