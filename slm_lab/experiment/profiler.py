"""`--profile` (or PROFILE=1): where a session's training loop spends its time.

The loop (loop.py) is not changed: the session hands it timed stand-ins for the agent, the env
and its own hooks, so a run without --profile runs exactly the same code as before. Each call is
timed into its phase (act, env step, memory, learn, log rows, evaluation, checkpoints); the
torch profiler runs only for a window of PROF_ACTIVE loop steps after PROF_SKIP steps of warm-up
(the original lab's variables and defaults) into `traces/` of the run folder, as Chrome trace
JSON that Perfetto (ui.perfetto.dev) and HTA open. At the end, a table of the phases, frames/s,
CPU and memory use (and the GPU's, on one) goes to the log and to `info/<prefix>_profile.json`.
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from loguru import logger

from slm_lab.lib.util import peak_memory, write_json

WARMUP = 1  # a step the profiler runs before recording (its own warm-up)
PHASES = (
    "act",
    "env step",
    "returns",
    "memory",
    "learn",
    "log rows",
    "evaluation",
    "checkpoints",
    "profiler",  # the torch profiler's own step, and its recording in the window
)
MIB = 2**20


@dataclass
class Phases:
    """Wall time and calls per phase."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    calls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PHASES, 0))

    def timed(self, phase: str, fn: Callable) -> Callable:
        def call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - start
                self.calls[phase] += 1

        return call


class Timed:
    """A stand-in for `target` whose methods in `phases` ({method: phase}) are timed; anything
    else is the target's own."""

    def __init__(self, target: object, phases: dict[str, str], book: Phases) -> None:
        self._target = target
        for method, phase in phases.items():
            setattr(self, method, book.timed(phase, getattr(target, method)))

    def __getattr__(self, name: str):
        return getattr(self._target, name)


class Profiler:
    """One session's profile: the timed stand-ins, the torch profiler's window, the summary."""

    def __init__(self, trace_dir: Path, info_file: Path, skip: int, active: int) -> None:
        self.trace_dir, self.info_file = trace_dir, info_file
        self.skip, self.active = skip, active
        self.book = Phases()
        self.steps = 0
        self.torch = torch.profiler.profile(
            activities=activities(),
            schedule=torch.profiler.schedule(wait=0, warmup=WARMUP, active=active, repeat=1),
            on_trace_ready=self.write_trace,
            record_shapes=True,
            profile_memory=True,
        )
        self.started = False
        self.traces: list[Path] = []

    def window_step(self) -> None:
        """The torch profiler started at step PROF_SKIP and stepped through its window only:
        before and after it, the loop pays nothing for it."""
        if self.steps == self.skip:
            self.torch.start()
            self.started = True
        elif self.skip < self.steps <= self.skip + WARMUP + self.active:
            self.torch.step()

    def wrap(self, agent, env, tracker, hooks) -> tuple[object, object, object, object]:
        """The agent, env, return tracker and hooks the loop gets: timed, and the env's step
        also moves the torch profiler's schedule on (one env step per loop step)."""
        book = self.book
        methods = {"act": "act", "to_env": "act", "store": "memory", "learn": "learn"}
        agent = Timed(agent, methods, book)
        env = Timed(env, {"step": "env step"}, book)
        step, profiler_step = env.step, book.timed("profiler", self.window_step)

        def stepped(action):
            out = step(action)
            self.steps += 1
            profiler_step()
            return out

        env.step = stepped
        tracker = Timed(tracker, {"add": "returns"}, book)
        hooks = Timed(
            hooks,
            {"log_row": "log rows", "evaluate": "evaluation", "checkpoint": "checkpoints"},
            book,
        )
        return agent, env, tracker, hooks

    def write_trace(self, prof) -> None:
        self.trace_dir.mkdir(parents=True, exist_ok=True)
        path = self.trace_dir / f"{self.info_file.stem.removesuffix('_profile')}.pt.trace.json"
        prof.export_chrome_trace(str(path))
        self.traces.append(path)

    def run(self, loop: Callable[[], object], clock) -> object:
        """Run the loop under the profiler; log and write the summary; returns what loop did."""
        cpu0, wall0, frame0 = cpu_seconds(), time.perf_counter(), clock.frame
        try:
            result = loop()
        finally:
            if self.started:
                self.torch.stop()
        wall = time.perf_counter() - wall0
        summary = self.summary(wall, cpu_seconds() - cpu0, clock.frame - frame0)
        write_json(self.info_file, summary)
        logger.info(table(summary))
        if not self.traces:
            logger.warning(
                f"profiler: the run ended after {self.steps} loop steps, before the trace window "
                f"(PROF_SKIP={self.skip} + {WARMUP} + PROF_ACTIVE={self.active}): no trace was "
                "taken; lower PROF_SKIP"
            )
        return result

    def summary(self, wall: float, cpu: float, frames: int) -> dict:
        phases = {
            p: {"seconds": s, "calls": self.book.calls[p]} for p, s in self.book.seconds.items()
        }
        out = {
            "loop_seconds": wall,
            "loop_steps": self.steps,
            "frames": frames,
            "fps": frames / wall if wall else 0.0,
            "phases": phases,
            "other_seconds": wall - sum(self.book.seconds.values()),
            "cpu_percent": 100.0 * cpu / wall if wall else 0.0,
            "peak_ram_mib": (peak_memory(os.getpid()) or 0) / MIB,
            "traces": [str(p) for p in self.traces],
            "window": {"skip": self.skip, "warmup": WARMUP, "active": self.active},
        }
        return {**out, **gpu_use()}


def activities() -> list:
    found = [torch.profiler.ProfilerActivity.CPU]
    if torch.cuda.is_available():
        found.append(torch.profiler.ProfilerActivity.CUDA)
    return found


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def gpu_use() -> dict:
    """Peak GPU memory and the GPU's utilisation now (needs pynvml), on a GPU machine."""
    if not torch.cuda.is_available():
        return {}
    try:
        util = float(torch.cuda.utilization())
    except (ModuleNotFoundError, RuntimeError):
        util = float("nan")
    return {"gpu_util_percent": util, "gpu_peak_mib": torch.cuda.max_memory_allocated() / MIB}


def table(summary: dict) -> str:
    """The summary as an aligned table for the log."""
    wall = summary["loop_seconds"]
    lines = [f"profile: {summary['loop_steps']} loop steps in {wall:.2f} s"]
    lines.append(f"  {'phase':<12} {'seconds':>9} {'share':>7} {'calls':>8} {'ms/call':>9}")
    rows = [(p, v["seconds"], v["calls"]) for p, v in summary["phases"].items()]
    rows.append(("other", summary["other_seconds"], 0))
    for name, seconds, calls in rows:
        per = f"{1000 * seconds / calls:.3f}" if calls else "-"
        share = 100 * seconds / wall if wall else 0.0
        lines.append(f"  {name:<12} {seconds:>9.3f} {share:>6.1f}% {calls:>8} {per:>9}")
    lines.append(
        f"  frames/s {summary['fps']:,.0f} | CPU {summary['cpu_percent']:.0f}% | "
        f"peak RAM {summary['peak_ram_mib']:.0f} MiB" + gpu_line(summary)
    )
    return "\n".join(lines)


def gpu_line(summary: dict) -> str:
    if "gpu_peak_mib" not in summary:
        return ""
    return f" | GPU {summary['gpu_util_percent']:.0f}% | GPU peak {summary['gpu_peak_mib']:.0f} MiB"
