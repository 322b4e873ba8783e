"""What a run needs besides its spec: the paths of its folder, its mode and its flags. They
travel in this object, never in global state."""

import os
from dataclasses import dataclass
from pathlib import Path

from slm_lab.lib.run_paths import RunPaths


@dataclass(frozen=True)
class RunFlags:
    """The original lab's performance and logging switches (`slm-lab run --help`)."""

    optimize_perf: bool = True  # TF32 and cudnn.benchmark on CUDA; torch threads on the CPU
    cuda_offset: int = 0  # the first GPU of the sessions' round-robin
    profile: bool = False  # the torch profiler window and the phase summary
    log_extra: bool = False  # the session's metrics at every log row
    prof_skip: int = 500  # loop steps before the torch profiler's window (PROF_SKIP)
    prof_active: int = 20  # loop steps the window records (PROF_ACTIVE)


DEFAULT_FLAGS = RunFlags()


@dataclass(frozen=True, kw_only=True)
class RunContext:
    paths: RunPaths  # the trial's files in the run folder
    mode: str
    render: bool = False
    log_level: str = "INFO"
    live: bool = False  # a progress bar on the terminal (one session, not searching)
    resume: bool = False  # continue sessions from their checkpoints
    cpus: int | None = None  # cores the trial may use (a search trial's share); None: all
    flags: RunFlags = DEFAULT_FLAGS


def context(
    spec: dict,
    run_dir: Path,
    mode: str,
    render: bool,
    log_level: str,
    trial: int = 0,
    **options,
) -> RunContext:
    """The context of trial `trial` of run_dir; options: resume, cpus, flags."""
    return RunContext(
        paths=RunPaths(run_dir=run_dir, name=spec["name"], trial=trial),
        mode=mode,
        render=render,
        log_level=log_level,
        live=os.isatty(2) and spec["meta"]["max_session"] == 1 and mode != "search",
        **options,
    )
