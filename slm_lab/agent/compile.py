"""`agent.net.compile: true`: the acting forward and the learn step's loss functions (each
algorithm's `compiled_steps`: forward and backward) run through `torch.compile`: inductor on the
CPU, CUDA graphs (`reduce-overhead`) on a GPU. Only functions are compiled, never the modules, so
the nets, their state dicts and checkpoints are the plain ones. The first call of each function
compiles it (its time is logged); a compile failure logs one warning line and that function runs
eagerly from then on.

Integer attributes of modules are traced as symbols, not constants
(`allow_unspec_int_on_nn_module`): batch renorm counts its warm-up steps in one, and a constant
would recompile the critics' step at every step."""

import time
from collections.abc import Callable

import torch
from loguru import logger


class Compiled:
    """`fn` through torch.compile, falling back to `fn` itself if compiling fails."""

    def __init__(self, fn: Callable, name: str, mode: str | None) -> None:
        self.eager, self.name = fn, name
        self.fn: Callable | None = torch.compile(fn, mode=mode)
        # CUDA graphs replay into the same output memory: a caller keeping an output past the
        # next call (PPO's per-minibatch losses) would read the later one, so each is copied
        self.copies = mode == "reduce-overhead"
        self.seconds: float | None = None  # the first call's compile time

    def __call__(self, *args):
        if self.fn is None:
            return self.eager(*args)
        if self.seconds is None:
            return self.first(*args)
        return self.run(*args)

    def first(self, *args):
        """The compiling call, timed (later calls are not: the step loop pays no clock read)."""
        start = time.perf_counter()
        out = self.run(*args)
        if self.fn is not None:
            self.seconds = time.perf_counter() - start
            logger.info(f"torch.compile: {self.name} compiled in {self.seconds:.1f} s")
        return out

    def run(self, *args):
        try:
            out = self.fn(*args)
        except Exception as e:  # a compile's or recompile's error: the eager function decides
            self.fall_back(e)
            return self.eager(*args)
        return copied(out) if self.copies else out

    def fall_back(self, e: Exception) -> None:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        logger.warning(
            f"torch.compile failed on {self.name} ({type(e).__name__}: {first[:200]}); "
            "it runs eagerly from now on"
        )
        self.fn = None


def copied(out):
    """Tensors (alone or in a tuple) copied out of the memory a CUDA graph replays into."""
    if isinstance(out, torch.Tensor):
        return out.clone()
    if isinstance(out, tuple):
        return tuple(copied(o) for o in out)
    return out


def compile_algorithm(algo) -> list[Compiled]:
    """Replace the algorithm's acting forward and `compiled_steps` by their compiled versions."""
    torch._dynamo.config.allow_unspec_int_on_nn_module = True
    mode = "reduce-overhead" if algo.device.type == "cuda" else None
    names = ("acting", *algo.compiled_steps)
    wrapped = [
        Compiled(getattr(algo, name), f"{type(algo).__name__}.{name}", mode) for name in names
    ]
    for name, fn in zip(names, wrapped, strict=True):
        setattr(algo, name, fn)
    return wrapped
