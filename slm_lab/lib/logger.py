"""One loguru setup for the CLI, sessions and tests. Secrets from the environment are redacted."""

import sys
from pathlib import Path

from loguru import logger

from slm_lab.lib.redact import RedactedStream, redact

FORMAT = "{time:YYYY-MM-DD HH:mm:ss} | {level} | {message}"
LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")


def redact_record(record: dict) -> None:
    """loguru patcher: the message every sink sees holds no secret."""
    record["message"] = redact(record["message"])


def setup(level: str = "INFO", log_file: Path | None = None) -> None:
    """Send logs to stderr at `level`, and in full to `log_file` when given. Sinks redact the
    whole formatted line, tracebacks from logger.exception included."""
    logger.remove()
    logger.configure(patcher=redact_record)
    logger.add(RedactedStream(sys.stderr), level=level.upper(), format=FORMAT, colorize=False)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        stream = log_file.open("a", encoding="utf-8", buffering=1)
        logger.add(RedactedStream(stream, owned=True), level="DEBUG", format=FORMAT, colorize=False)


__all__ = ["FORMAT", "LEVELS", "logger", "setup"]
