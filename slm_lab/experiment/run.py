"""A run: `start` (validate by building, then a new run folder and its trial), `resume`
(train@DIR: the unfinished sessions continue from their checkpoints), and what both need:
the preflight build, the provenance recorded into the saved spec, the spec comparison that
decides whether a run may resume."""

import json
import secrets
from collections.abc import Callable
from functools import partial
from pathlib import Path

import gymnasium as gym
from loguru import logger

from slm_lab.agent import Agent
from slm_lab.experiment import analysis, checkpoint, footprint, interrupt, perf
from slm_lab.experiment.context import DEFAULT_FLAGS, RunContext, RunFlags, context
from slm_lab.experiment.interrupt import Interrupted
from slm_lab.experiment.loop import Clock
from slm_lab.experiment.session import make_env
from slm_lab.experiment.trial import Trial, worker_count
from slm_lab.lib import logger as lab_logger
from slm_lab.lib.errors import DiskFull, LabError, SessionsFailed, SpecError, UsageError
from slm_lab.lib.redact import redact
from slm_lab.lib.run_paths import RunPaths, new_folder
from slm_lab.lib.util import cpu_count, git_info, space_checked, versions, write_json
from slm_lab.spec import schema

SEED_RANGE = 2**31 - 1
MAX_SHOWN = 5  # changed keys named when a resume is refused


def record(spec: dict, spec_file: Path) -> dict:
    """Seeds, provenance and versions, written into the run's saved spec."""
    meta = spec["meta"]
    n = meta["max_session"]
    base = meta["random_seed"]
    if base is None:
        base = secrets.randbelow(SEED_RANGE - n)
    meta.update(
        random_seed=base,
        session_seeds=[base + i for i in range(n)],
        spec_file=str(spec_file),
        versions=versions(),
        **git_info(),
    )
    return spec


def preflight(
    spec: dict, check: Callable[[Agent], None] | None = None, sessions: int | None = None
) -> None:
    """Build a one-env copy of the env and the agent, so build errors surface before any file;
    `check` then looks at the agent (resume: do the checkpoints fit it?); with `sessions` (that
    train at once), the run's memory is checked against what is available."""
    clock = Clock(spec["env"]["max_frame"], 1)
    before = footprint.resident()
    try:
        env = make_env(spec, num_envs=1)
    except LabError:
        raise  # the lab's own refusal (a missing install): already one line
    except (TypeError, ValueError, AssertionError, gym.error.Error) as e:  # envs assert on args
        raise SpecError(f"gymnasium could not make {spec['env']['name']}: {e}", "env") from e
    one_env = footprint.resident() - before
    try:
        agent = Agent(spec, env, clock)
        if check is not None:
            check(agent)
        if sessions:
            num_envs = spec["env"]["num_envs"]
            found = footprint.session_footprint(agent, num_envs, one_env)
            footprint.check_fits(found, sessions)
    finally:
        env.close()


def sessions_at_once(spec: dict, cores: int) -> int:
    """How many of the spec's sessions train at the same time on `cores` cores."""
    meta = spec["meta"]
    return worker_count(meta["max_session"], bool(meta["distributed"]), cores)


def start(
    spec: dict,
    spec_file: Path,
    mode: str,
    render: bool,
    log_level: str,
    data_root: Path,
    flags: RunFlags = DEFAULT_FLAGS,
    mode_note: str = "",
) -> tuple[Path, dict]:
    """Validate by building, then write the run folder and run the trial. Returns the run folder
    and the trial metrics. `mode_note` follows the mode in the first line of the run's log."""
    if mode == "dev":
        spec["meta"]["max_session"] = 1
    if render and schema.is_playground(spec["env"]["name"]):
        raise UsageError(
            f"--render cannot show {spec['env']['name']} on screen: record it with enjoy --video",
            "--render",
        )
    perf.check_offset(flags.cuda_offset)
    preflight(spec, sessions=sessions_at_once(spec, cpu_count()))
    spec, ctx = open_run(spec, spec_file, mode, render, log_level, data_root, flags)
    lab_logger.setup(log_level, ctx.paths.log_file())
    write_specs(spec, ctx.paths)
    logger.info(f"Running {spec['name']} ({mode}{mode_note}): {ctx.paths.run_dir}")
    logger.info(perf.describe(flags))
    return ctx.paths.run_dir, run_trial(spec, ctx)


def open_run(
    spec: dict,
    spec_file: Path,
    mode: str,
    render: bool,
    log_level: str,
    data_root: Path,
    flags: RunFlags = DEFAULT_FLAGS,
) -> tuple[dict, RunContext]:
    """Seeds and provenance recorded into the spec, and a new run folder with its subfolders."""
    spec = record(spec, spec_file)
    with space_checked(data_root):
        run_dir, spec["meta"]["timestamp"] = new_folder(data_root, spec["name"])
        ctx = context(spec, run_dir, mode, render, log_level, flags=flags)
        ctx.paths.make_dirs()
    return spec, ctx


def resume(
    spec: dict, run_dir: Path, log_level: str, force: bool, flags: RunFlags = DEFAULT_FLAGS
) -> tuple[Path, dict]:
    """Continue the unfinished sessions of run_dir from their checkpoints (train@DIR)."""
    perf.check_offset(flags.cuda_offset)
    saved = read_saved_spec(run_dir, spec["name"])
    spec = resumed_spec(spec, saved, force)
    ctx = context(spec, run_dir, "train", False, log_level, resume=True, flags=flags)
    check = partial(check_checkpoints, paths=ctx.paths, spec=spec)
    preflight(spec, check, sessions_at_once(spec, cpu_count()))
    ctx.paths.make_dirs()
    lab_logger.setup(log_level, ctx.paths.log_file())
    if spec != saved:
        write_specs(spec, ctx.paths)
    logger.info(f"Resuming {spec['name']}: {run_dir}")
    return run_dir, run_trial(spec, ctx)


def write_specs(spec: dict, paths: RunPaths) -> None:
    write_json(paths.run_spec_file, spec)
    write_json(paths.spec_file, spec)


def run_trial(spec: dict, ctx: RunContext) -> dict:
    """The trial, with Ctrl-C and SIGTERM turned into a clean stop, a full disk into a stop,
    and failed sessions, each naming the run folder that train@ resumes."""
    with interrupt.catching():
        try:
            return Trial(spec, ctx).run()
        except (Interrupted, DiskFull, SessionsFailed) as e:
            e.run_dir = ctx.paths.run_dir
            raise


def read_saved_spec(run_dir: Path, name: str) -> dict:
    path = RunPaths(run_dir=run_dir, name=name).run_spec_file
    if not path.is_file():
        raise UsageError(f"{run_dir} holds no {path.name}: not a run of spec {name!r}", "MODE")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {path}: {e}", "MODE") from None


def comparable(spec: dict) -> dict[str, object]:
    """The spec's leaves by dotted path, without what the lab records into a run."""
    flat = flatten(bare(json.loads(redact(json.dumps(spec, default=str)))))  # saved: ***
    recorded = tuple(f"meta.{k}" for k in schema.RUN_META)
    return {k: v for k, v in flat.items() if not k.startswith(recorded)}


def bare(node: object) -> object:
    """Empty mappings as None, at any depth: an arc's `- Tanh:` reads as None, and runs saved
    before arcs were built on a copy hold it as {} (torcharc filled it in)."""
    if isinstance(node, dict):
        return {k: bare(v) for k, v in node.items()} or None
    if isinstance(node, list):
        return [bare(v) for v in node]
    return node


def flatten(node: object, prefix: str = "") -> dict[str, object]:
    if not isinstance(node, dict) or not node:
        return {prefix: node}
    out: dict[str, object] = {}
    for key, value in node.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def resumed_spec(spec: dict, saved: dict, force: bool) -> dict:
    """The saved spec, or with --force the new one (seeds and provenance kept from the run)."""
    new, old = comparable(spec), comparable(saved)
    seed = spec["meta"]["random_seed"]
    if seed is not None and seed != saved["meta"].get("random_seed"):
        new["meta.random_seed"] = seed
    changed = sorted(k for k in new.keys() | old.keys() if new.get(k, None) != old.get(k, None))
    if not changed:
        return saved
    shown = ", ".join(f"{k} ({old.get(k)!r} -> {new.get(k)!r})" for k in changed[:MAX_SHOWN])
    if not force:
        raise SpecError(
            f"the spec differs from the run's saved spec at {shown}; "
            "resume with --force to continue under the new values",
            "MODE",
        )
    logger.warning(f"resuming with a changed spec: {shown}")
    meta = spec["meta"]
    for key in schema.RUN_META:
        meta[key] = saved["meta"].get(key)
    meta["session_seeds"] = [meta["random_seed"] + i for i in range(meta["max_session"])]
    return spec


def check_checkpoints(agent: Agent, paths: RunPaths, spec: dict) -> None:
    """Every unfinished session's checkpoint is readable and fits the spec's nets (read lazily:
    the replay in it is not loaded here)."""
    max_frame = analysis.session_frames(spec)
    for i in range(spec["meta"]["max_session"]):
        path = paths.checkpoint_file(i)
        if analysis.finished(paths, i, max_frame) or not path.exists():
            continue
        state = checkpoint.check(checkpoint.load(path, mmap=True), path)
        checkpoint.load_into(agent.algorithm, state["algorithm"], path, "the algorithm")
