"""Snapshots of live objects for resume checkpoints, in a form `torch.load(weights_only=True)` reads.

`capture(value)` turns numpy arrays, numpy generators and deques (inside dicts, lists and tuples)
into tensors and builtins, and objects with a `state_dict` into their state dict. `restore(current,
saved)` puts a snapshot back: into the live object where it can (arrays and tensors in place, so
views of them stay valid; `load_state_dict` on objects), else it returns the value to assign.
The snapshot shares memory with the live arrays: save it at once.

Classes list the attributes that make up their state in `state_attrs` and inherit `Stateful`.
"""

from collections import deque
from typing import Any

import numpy as np
import torch

ARRAY, DTYPE, GENERATOR, DEQUE, STATE = (
    "__array__",
    "__dtype__",
    "__rng__",
    "__deque__",
    "__state__",
)
PLAIN = (bool, int, float, str, type(None))


def capture(value: Any) -> Any:
    if isinstance(value, np.generic):  # before PLAIN: np.float64 is a float
        return value.item()
    if isinstance(value, PLAIN):
        return value
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, np.ndarray):
        return capture_array(value)
    if isinstance(value, np.random.Generator):
        return {GENERATOR: value.bit_generator.state}
    if isinstance(value, deque):
        return {DEQUE: [capture(v) for v in value]}
    if isinstance(value, dict):
        return {key(k): capture(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(capture(v) for v in value)
    if callable(getattr(value, "state_dict", None)):
        return {STATE: capture(value.state_dict())}
    raise TypeError(f"cannot checkpoint a {type(value).__name__}")


def key(k: Any) -> Any:
    """Dict keys as builtins (numpy ints index the replay's side tables)."""
    return k.item() if isinstance(k, np.generic) else k


def capture_array(a: np.ndarray) -> dict:
    """Unsigned ints wider than a byte travel as int64 (torch has no full uint32/uint64)."""
    dtype = str(a.dtype)
    if a.dtype.kind == "u" and a.dtype != np.uint8:
        a = a.astype(np.int64)
    elif not a.flags.writeable:
        a = a.copy()
    return {ARRAY: torch.from_numpy(np.ascontiguousarray(a)), DTYPE: dtype}


def restore(current: Any, saved: Any, path: str = "state", strict: bool = False) -> Any:
    """The restored value of `current` (the same object where it was restored in place).
    An array or tensor of another shape replaces the current one, or with `strict` (an
    attribute of a Stateful, such as a replay's storage) is an error."""
    if isinstance(saved, dict):
        return restore_dict(current, saved, path, strict)
    if isinstance(saved, torch.Tensor):
        return restore_tensor(current, saved, path, strict)
    if isinstance(saved, list | tuple):
        return restore_list(current, saved, path)
    return saved


def restore_list(current: Any, saved: list | tuple, path: str) -> list | tuple:
    olds = list(current) if isinstance(current, list | tuple) else []
    if any(stateful(o) for o in olds) and len(olds) != len(saved):
        raise ValueError(f"{path}: {len(saved)} in the checkpoint, {len(olds)} here")
    if len(olds) != len(saved):
        olds = [None] * len(saved)
    values = [
        restore(o, s, f"{path}[{i}]") for i, (o, s) in enumerate(zip(olds, saved, strict=True))
    ]
    return type(saved)(values)


def stateful(value: Any) -> bool:
    return callable(getattr(value, "load_state_dict", None))


def restore_dict(current: Any, saved: dict, path: str, strict: bool) -> Any:
    if STATE in saved:
        if current is None:
            raise ValueError(f"{path}: the checkpoint has a state here, this run has none")
        inner = saved[STATE]  # a Stateful restores against its live attributes, others take values
        current.load_state_dict(
            inner if isinstance(current, Stateful) else restore(None, inner, path)
        )
        return current
    if ARRAY in saved:
        return restore_array(current, saved, path, strict)
    if GENERATOR in saved:
        rng = current if isinstance(current, np.random.Generator) else np.random.default_rng()
        rng.bit_generator.state = saved[GENERATOR]
        return rng
    if DEQUE in saved:
        maxlen = current.maxlen if isinstance(current, deque) else None
        return deque((restore(None, v, path) for v in saved[DEQUE]), maxlen=maxlen)
    old = current if isinstance(current, dict) else {}
    if any(stateful(v) for v in old.values()):
        check_keys(old, saved, path)  # e.g. the nets: every one of them, no other
    return {k: restore(old.get(k), v, f"{path}.{k}") for k, v in saved.items()}


def check_keys(current: dict, saved: dict, path: str) -> None:
    if set(current) != set(saved):
        raise ValueError(f"{path}: {sorted(saved)} in the checkpoint, {sorted(current)} here")


def restore_array(current: Any, saved: dict, path: str, strict: bool) -> np.ndarray:
    value = saved[ARRAY].numpy().astype(saved[DTYPE], copy=False)
    same = isinstance(current, np.ndarray) and current.shape == value.shape
    if not same and not (strict and isinstance(current, np.ndarray)):
        return value.copy()
    if not same:
        raise ValueError(f"{path}: shape {value.shape} in the checkpoint, {current.shape} here")
    current[...] = value
    return current


def restore_tensor(current: Any, saved: torch.Tensor, path: str, strict: bool) -> torch.Tensor:
    same = isinstance(current, torch.Tensor) and current.shape == saved.shape
    if not same and not (strict and isinstance(current, torch.Tensor)):
        return saved.clone()
    if not same:
        raise ValueError(
            f"{path}: shape {tuple(saved.shape)} in the checkpoint, {tuple(current.shape)} here"
        )
    with torch.no_grad():
        current.copy_(saved)
    return current


class Stateful:
    """state_dict / load_state_dict over the attributes named in `state_attrs`."""

    state_attrs: tuple[str, ...] = ()

    def state_dict(self) -> dict:
        return {name: capture(getattr(self, name)) for name in self.state_attrs}

    def load_state_dict(self, state: dict) -> None:
        missing = set(self.state_attrs) - set(state)
        if missing:
            raise ValueError(f"{type(self).__name__}: the checkpoint lacks {sorted(missing)}")
        for name in self.state_attrs:
            path = f"{type(self).__name__}.{name}"
            setattr(self, name, restore(getattr(self, name), state[name], path, strict=True))
