"""The lab's errors, by kind. Each `LabError` is one line that names the file, the spec, the key
path and what is allowed; the CLI prints it after `error:` and exits with code 2:
- SpecError: a spec that cannot run (a wrong type, an unknown name, an impossible value);
- UsageError: a command-line argument or a run folder that cannot be used;
- ResourceError: the machine lacks what the run needs (memory);
- CheckpointError: a checkpoint or model file that cannot be read or does not fit the run.
SessionsFailed and DiskFull are not LabErrors: sessions crashed or were killed while training, or
a file could not be written for want of space (exit code 1).
"""

from collections.abc import Iterable
from difflib import get_close_matches
from pathlib import Path

from slm_lab.lib.redact import redact


def suggest(word: str, options: Iterable[str]) -> str | None:
    """The closest option to a misspelt word, if any is close."""
    matches = get_close_matches(word, [str(o) for o in options], n=1, cutoff=0.6)
    return matches[0] if matches else None


def fmt_allowed(allowed: Iterable[object]) -> str:
    return ", ".join(str(a) for a in allowed)


class LabError(ValueError):
    """An error the user can fix. str() is the one line the CLI prints (secrets redacted)."""

    def __init__(
        self,
        problem: str,
        path: str = "",
        allowed: Iterable[object] | None = None,
        file: str | None = None,
        spec_name: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = path
        self.allowed = None if allowed is None else list(allowed)
        self.file = file
        self.spec_name = spec_name
        super().__init__(str(self))

    def locate(self, file: str | None, spec_name: str | None) -> "LabError":
        self.file = self.file or file
        self.spec_name = self.spec_name or spec_name
        self.args = (str(self),)
        return self

    def __str__(self) -> str:
        where = " ".join(
            p for p in (self.file, f"[{self.spec_name}]" if self.spec_name else "") if p
        )
        head = f"{where} {self.path}:" if self.path else f"{where}:"
        msg = f"{head.strip()} {self.problem}" if where or self.path else self.problem
        if self.allowed:
            msg += f"; allowed: {fmt_allowed(self.allowed)}"
        return redact(msg)


class SpecError(LabError):
    """A spec that cannot run."""


class UsageError(LabError):
    """A command-line argument, a run folder or a setting of the environment that cannot be used."""


class ResourceError(LabError):
    """The machine lacks what the run needs (memory)."""


class CheckpointError(LabError):
    """A checkpoint or model file that cannot be read or does not fit the run."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"checkpoint {path}: {problem}", "MODE")


class SessionsFailed(RuntimeError):
    """Some sessions crashed or were killed; the trial's metrics were still written from the
    others. `run_dir`: the run folder train@ resumes (set once it is known)."""

    run_dir: Path | None = None


BYTE_UNITS = ("B", "KB", "MB", "GB", "TB")
UNIT_STEP = 1024


def fmt_bytes(n: int) -> str:
    """1536 -> '1.5 KB'."""
    size, unit = float(n), BYTE_UNITS[0]
    for unit in BYTE_UNITS:
        if size < UNIT_STEP or unit == BYTE_UNITS[-1]:
            break
        size /= UNIT_STEP
    return f"{size:.0f} {unit}" if unit == BYTE_UNITS[0] else f"{size:.1f} {unit}"


class DiskFull(Exception):
    """A file could not be written: no space left on its file system. The run stops as on
    SIGTERM; what is on disk is whole (the last complete checkpoints). The trial fills in
    `checkpoints` (session -> frame of its checkpoint, None: none yet), the run `run_dir` and
    `mode`, and the CLI prints str() with the command that resumes."""

    def __init__(self, path: Path, free: int | None = None, need: int | None = None) -> None:
        super().__init__(path, free, need)  # args: how the error crosses processes (pickle)
        self.path, self.free, self.need = Path(path), free, need
        self.checkpoints: dict[int, int | None] = {}
        self.run_dir: Path | None = None
        self.mode = "train"

    def __str__(self) -> str:
        sizes = [f"{fmt_bytes(self.free)} free" if self.free is not None else ""]
        sizes.append(f"{fmt_bytes(self.need)} needed" if self.need is not None else "")
        known = ", ".join(s for s in sizes if s)
        msg = f"no space left on device: could not write {self.path}"
        msg += f" ({known})" if known else ""
        return redact(msg + self.checkpoint_note())

    def checkpoint_note(self) -> str:
        """Which checkpoint each session resumes from."""
        frames = sorted(self.checkpoints.items())
        if len(frames) == 1:
            frame = frames[0][1]
            if frame is None:
                return "; no checkpoint was written yet: the session starts over"
            return f"; the last checkpoint is intact, at frame {frame:,}"
        notes = [f"s{i} at frame {f:,}" if f is not None else f"s{i} none yet" for i, f in frames]
        return f"; the last checkpoints are intact: {', '.join(notes)}" if notes else ""


def unknown_name(kind: str, value: object, path: str, allowed: Iterable[str]) -> SpecError:
    allowed = list(allowed)
    hint = suggest(str(value), allowed)
    problem = f"unknown {kind} {value!r}" + (f" (did you mean {hint!r}?)" if hint else "")
    return SpecError(problem, path, allowed)
