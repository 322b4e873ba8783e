"""The original lab's performance switches: `--optimize-perf` (TF32 matmuls and cudnn.benchmark
on CUDA; torch threads sized to the net on the CPU, trial.py) and `--cuda-offset` (sessions
placed round-robin over the visible GPUs, starting at the offset)."""

import torch

from slm_lab.experiment.context import RunFlags
from slm_lab.lib.errors import UsageError


def gpu_count() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def check_offset(offset: int, count: int | None = None) -> None:
    """--cuda-offset names a GPU torch sees (0 is always fine: no GPU means the CPU)."""
    count = gpu_count() if count is None else count
    if offset < 0 or (offset and offset >= count):
        seen = f"GPUs 0..{count - 1}" if count else "no GPU"
        raise UsageError(f"{offset} is past the GPUs present (torch sees {seen})", "--cuda-offset")


def session_gpu(job: int, offset: int, count: int) -> int | None:
    """The GPU of the job-th session of a run (trial x max_session + session), as the original
    lab spread them: round-robin from the offset; None without a GPU."""
    return (job + offset) % count if count else None


def setup(flags: RunFlags, job: int) -> int | None:
    """This process's CUDA settings before a session builds its nets; returns its GPU. A net
    with `gpu: auto/true` goes to this GPU (torch's current device)."""
    count = gpu_count()
    if flags.optimize_perf and count:
        torch.set_float32_matmul_precision("high")  # TF32 on Ampere and newer
        torch.backends.cudnn.benchmark = True
    gpu = session_gpu(job, flags.cuda_offset, count)
    if gpu is not None:
        torch.cuda.set_device(gpu)
    return gpu


def describe(flags: RunFlags) -> str:
    """The one log line of what --optimize-perf and --cuda-offset do on this machine."""
    count = gpu_count()
    if not flags.optimize_perf:
        done = "off (--no-optimize-perf): torch's own settings"
    elif count:
        done = "on: TF32 matmuls, cudnn.benchmark"
    else:
        done = "on: torch threads sized to the net (no GPU)"
    gpus = f"; sessions over GPUs from {flags.cuda_offset} of {count}" if count else ""
    return f"optimize-perf {done}{gpus}"
