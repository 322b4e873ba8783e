"""A full disk on demand, in-process: the n-th file a module opens for writing (of those whose
name `picks`) takes a few bytes, then refuses further writes with ENOSPC, as a file system that
fills up does. Patch it in as the module's `open` (the narrowest place every write of that
module goes through)."""

import builtins
import errno
import os
from collections.abc import Callable

KEEP_BYTES = 64  # what the failing file takes before the disk is full


class FullFile:
    """A real file whose writes fail with ENOSPC past KEEP_BYTES."""

    def __init__(self, file) -> None:
        self.file, self.written = file, 0

    def write(self, data) -> int:
        room = KEEP_BYTES - self.written
        if len(data) > room:
            self.file.write(data[: max(0, room)])
            self.written = KEEP_BYTES
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.written += len(data)
        return self.file.write(data)

    def __getattr__(self, name: str):
        return getattr(self.file, name)

    def __enter__(self) -> "FullFile":
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()


class FullAfter:
    """`open` that hands back a FullFile at the nth picked opening for writing."""

    def __init__(self, picks: Callable[[str], bool], nth: int) -> None:
        self.picks, self.nth, self.count = picks, nth, 0

    def open(self, file, mode: str = "r", *args, **kwargs):
        real = builtins.open(file, mode, *args, **kwargs)  # noqa: SIM115 (the caller closes it)
        if not any(c in mode for c in "wa") or not self.picks(os.path.basename(str(file))):
            return real
        self.count += 1
        return FullFile(real) if self.count == self.nth else real
