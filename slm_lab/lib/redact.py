"""Keep secrets from the environment (HF_TOKEN, *_API_KEY...) out of logs and written files."""

import json
import os
from typing import TextIO

MASK = "***"
SECRET_NAMES = ("HF_TOKEN",)
SECRET_SUFFIXES = ("_TOKEN", "_SECRET", "_API_KEY", "_PASSWORD")
MIN_LEN = 8  # shorter values are too likely to be ordinary words or numbers


def is_secret_name(name: str) -> bool:
    name = name.upper()
    return name in SECRET_NAMES or name.endswith(SECRET_SUFFIXES)


def secret_values() -> list[str]:
    """Secret values in os.environ now, and their JSON-escaped forms; longest first."""
    values = {v for k, v in os.environ.items() if is_secret_name(k) and len(v) >= MIN_LEN}
    forms = values | {json.dumps(v)[1:-1] for v in values}
    return sorted(forms, key=len, reverse=True)


def redact(text: str) -> str:
    """text with every secret value from the environment replaced by ***."""
    for value in secret_values():
        text = text.replace(value, MASK)
    return text


class RedactedStream:
    """A text stream that redacts what it writes; a loguru sink (it closes the stream if owned)."""

    def __init__(self, stream: TextIO, owned: bool = False) -> None:
        self.stream = stream
        self.owned = owned

    def write(self, text: str) -> None:
        self.stream.write(redact(text))

    def flush(self) -> None:
        self.stream.flush()

    def stop(self) -> None:
        if self.owned:
            self.stream.close()


__all__ = ["MASK", "RedactedStream", "is_secret_name", "redact", "secret_values"]
