"""Files a session writes to survive a crash, and reading them back safely.

Everything goes through `save` (temp file + rename, so a file is whole or absent; a full disk
raises DiskFull and leaves the old file) and `load`
(`torch.load(weights_only=True)`: tensors and builtins only, never code), whose errors name the
file. A session's checkpoint (the resume file), `model/<name>_t<i>_s<j>_resume.pt`, holds:
format, frame/opt_step/wall_t, algorithm (nets, optimizers, LR schedulers, step counters,
temperature, target nets), memory (the replay, when `meta.checkpoint_replay` allows), env
(normalisers, returns so far, mid-episode env state where restorable), obs (what the agent acts
on next), rng (python, numpy, torch, cuda) and session (best score and weights, counters).
The periodic table rows are log rows (records.py), not checkpoints.
"""

import os
import pickle
import random
import re
import zipfile
from pathlib import Path

import numpy as np
import torch

from slm_lab.lib.errors import CheckpointError
from slm_lab.lib.state import capture, restore
from slm_lab.lib.util import GIB, space_checked
from slm_lab.spec import schema

FORMAT = 1  # version of the checkpoint's layout
UNSAFE = re.compile(r"Unsupported global: GLOBAL (\S+)")
KEYS = ("format", "frame", "opt_step", "wall_t", "algorithm", "memory", "env", "obs", "rng")


def save(obj: object, path: Path) -> None:
    """Write through a hidden temp file and rename: readers (and a push listing the folder) see
    the old file or the new one, never a part; a failed write leaves no temp file. torch writes
    through a Python file, so a full disk surfaces as its OSError (DiskFull), not a C++ error."""
    tmp = path.with_name(f".{path.name}.tmp")
    with space_checked(path, lambda: nbytes(obj)):
        try:
            with open(tmp, "wb") as f:
                torch.save(obj, f)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def nbytes(obj: object) -> int:
    """The bytes of the tensors and arrays in obj (nested dicts, lists and tuples): about what
    saving it takes."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, dict):
        return sum(nbytes(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(nbytes(v) for v in obj)
    return 0


def saved_frame(path: Path) -> int | None:
    """The frame of the checkpoint at path (read lazily); None when there is none to read."""
    try:
        return int(load(path, mmap=True)["frame"])
    except (CheckpointError, KeyError, TypeError, ValueError):
        return None


def load(path: Path, mmap: bool = False) -> dict:
    """A checkpoint or model file, read without running any code it may hold."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except FileNotFoundError:
        raise CheckpointError(path, "file not found") from None
    except pickle.UnpicklingError as e:
        found = UNSAFE.search(str(e))
        if found:
            raise CheckpointError(
                path, f"holds {found.group(1)}, which loading would run as code: refused"
            ) from None
        raise CheckpointError(path, "unreadable, truncated or not a torch file") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            path, f"unreadable, truncated or not a torch file ({first})"
        ) from None


def check(state: object, path: Path) -> dict:
    """The keys a checkpoint must have, at the format this lab writes."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(path, f"not a resume checkpoint of format {FORMAT}")
    missing = [k for k in KEYS if k not in state]
    if missing:
        raise CheckpointError(path, f"lacks {', '.join(missing)}")
    return state


def load_into(obj, state: dict, path: Path, what: str) -> None:
    """obj.load_state_dict(state), with any mismatch reported against the file."""
    try:
        obj.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(path, f"{what} does not match this spec: {first}") from None


def rng_state() -> dict:
    state = {
        "python": random.getstate(),
        "numpy": capture(np.random.get_state(legacy=False)),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(restore(None, state["numpy"]))
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def keeps_replay(memory, meta: dict) -> bool:
    """Whether the checkpoint holds this memory: on-policy buffers always; a replay when
    `checkpoint_replay` is true, or null and the replay is under REPLAY_CHECKPOINT_GIB."""
    if memory is None:
        return False
    size = getattr(memory, "stored_bytes", 0)
    switch = meta["checkpoint_replay"]
    if switch is None:
        return size < schema.REPLAY_CHECKPOINT_GIB * GIB
    return bool(switch) or not size
