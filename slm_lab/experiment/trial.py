"""Trial: max_session sessions with distinct seeds, each in its own process (at most one per
core), then the trial's metrics and graphs. A session process reports how it ended by its exit
code: 0 done, EXIT_INTERRUPTED stopped on request after saving, EXIT_DISK_FULL stopped by a full
disk (its DiskFull comes through a queue), a signal (-n) killed, anything else failed; a session
whose final metrics are written is done whatever ended its process. A full disk stops the trial
as SIGTERM does; a killed or crashed session does not stop the others. Resuming, sessions that
finished are left alone and the others continue."""

import os
import signal
import sys
from collections.abc import Callable
from multiprocessing.connection import wait

import torch
from loguru import logger

from slm_lab.agent import Agent
from slm_lab.agent.algorithm.base import NonFiniteLoss
from slm_lab.agent.distributed import share
from slm_lab.experiment import analysis, checkpoint, interrupt, perf
from slm_lab.experiment.context import RunContext
from slm_lab.experiment.interrupt import Interrupted
from slm_lab.experiment.loop import Clock
from slm_lab.experiment.session import Session, make_env, seed_everything
from slm_lab.lib import logger as lab_logger
from slm_lab.lib.errors import DiskFull, LabError, SessionsFailed, fmt_bytes
from slm_lab.lib.util import cpu_count, disk_free, peak_memory

SMALL_NET_PARAMS = 100_000  # below this, one torch thread is faster than several
EXIT_INTERRUPTED = 130  # a session process stopped by Ctrl-C or SIGTERM after saving
EXIT_DISK_FULL = 28  # a session process stopped by a full disk (ENOSPC's number)
STOP_GRACE_S = 60.0  # time an interrupted session gets to save before it is killed
POLL_S = 0.5  # how often a trial waiting on its sessions looks for a stop request


def thread_cap() -> int | None:
    """OMP_NUM_THREADS where it is set to a positive count: the most threads a session takes
    (for runs sharing the cores, as two trials side by side or parallel test workers)."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def set_threads(agent_nets: dict, threads: int) -> None:
    params = sum(p.numel() for net in agent_nets.values() for p in net.parameters())
    threads = min(threads, thread_cap() or threads)
    torch.set_num_threads(1 if params < SMALL_NET_PARAMS else threads)


def run_session(
    spec: dict,
    ctx: RunContext,
    index: int,
    threads: int,
    shared: dict | None = None,
    reporter: Callable[[], None] | None = None,
) -> dict:
    """One session in this process; returns its metrics."""
    meta = spec["meta"]
    seed = meta["session_seeds"][index]
    perf.setup(ctx.flags, ctx.paths.trial * meta["max_session"] + index)
    session = Session(spec, ctx, index, seed, shared, reporter)
    if ctx.flags.optimize_perf:
        set_threads(session.agent.nets, threads)
    return session.run()


def log_disk_full(index: int, e: DiskFull) -> None:
    """The traceback in the log file, if it can still be written; the terminal gets the CLI's
    one line."""
    log = logger.bind(**{lab_logger.FILE_ONLY: True})
    log.opt(exception=e).warning(f"Session {index} stopped: {e}")


def session_process(
    spec: dict, ctx: RunContext, index: int, threads: int, shared: dict | None, faults
) -> None:
    """Entry point of a session's own process: its log file, and an exit code for the trial
    (a DiskFull also goes to the `faults` queue, for the trial to name the file)."""
    interrupt.install()
    interrupt.watch_parent()
    lab_logger.setup(ctx.log_level, ctx.paths.log_file(index))
    try:
        run_session(spec, ctx, index, threads, shared)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except DiskFull as e:
        log_disk_full(index, e)
        faults.put(e)
        sys.exit(EXIT_DISK_FULL)
    except (NonFiniteLoss, LabError) as e:
        logger.error(f"Session {index} failed: {e}")
        sys.exit(1)
    except Exception:
        logger.exception(f"Session {index} failed")
        sys.exit(1)


class Trial:
    """max_session sessions with distinct seeds, each in its own process, at most one per core.
    Resuming, sessions that finished are left alone and the others continue."""

    def __init__(
        self, spec: dict, ctx: RunContext, reporter: Callable[[], None] | None = None
    ) -> None:
        self.spec, self.ctx, self.reporter = spec, ctx, reporter
        self.shared = global_nets(spec) if spec["meta"]["distributed"] else None
        self.failures: dict[int, str] = {}  # session -> how it failed

    def run(self) -> dict:
        n, ctx = self.spec["meta"]["max_session"], self.ctx
        max_frame = analysis.session_frames(self.spec)
        finished = [
            i for i in range(n) if ctx.resume and analysis.finished(ctx.paths, i, max_frame)
        ]
        todo = [i for i in range(n) if i not in finished]
        if finished:
            logger.info(f"sessions {finished} had finished: left as they are")
        cores = ctx.cpus or cpu_count()
        workers = worker_count(len(todo), self.shared is not None, cores)
        threads = max(1, cores // workers)
        run = self.run_inline if workers == 1 else self.run_parallel
        done = sorted(finished + run(todo, workers, threads))
        try:
            return self.finish(done)
        except DiskFull as e:  # the sessions are done: a resume writes what is missing
            raise self.disk_full(e, done) from e

    def run_inline(self, todo: list[int], workers: int, threads: int) -> list[int]:
        """Sessions one after another in this process (one session, or one core)."""
        done = []
        for i in todo:
            try:
                run_session(self.spec, self.ctx, i, threads, self.shared, self.reporter)
                done.append(i)
            except DiskFull as e:  # nothing more can be written: the trial stops here
                log_disk_full(i, e)
                raise self.disk_full(e, done) from e
            except (NonFiniteLoss, LabError) as e:
                self.failures[i] = f"s{i} crashed"
                logger.error(f"Session {i} failed: {e}")
            except Exception:  # a crashed session must not lose the others
                self.failures[i] = f"s{i} crashed"
                logger.exception(f"Session {i} failed")
        return done

    def run_parallel(self, todo: list[int], workers: int, threads: int) -> list[int]:
        """Up to `workers` session processes at a time; returns the sessions that finished.
        On a stop request, running sessions save and stop, and no new one starts."""
        mp = torch.multiprocessing.get_context("spawn")  # passes shared tensors by handle
        pending, running, done = list(todo), {}, []
        try:
            self.watch(pending, running, done, workers, threads, mp)
        except BaseException:  # a search scheduler stopping the trial, or a bug here
            stop(running.values())
            raise
        return done

    def watch(self, pending, running, done, workers, threads, mp) -> None:
        """Start sessions as workers free up, collect their exit codes, report to Tune. A stop
        request (or a session stopped by a full disk) reaches the sessions still training; one
        that has written its final metrics is done, whatever ended its process (a SIGTERM
        during its exit would read as a failure)."""
        total, failed, faults = len(pending), [], mp.SimpleQueue()
        peaks: dict[int, int | None] = {}  # session -> its peak memory when last looked at
        full: DiskFull | None = None
        while pending or running:
            while pending and len(running) < workers and not interrupt.requested():
                i = pending.pop(0)
                args = (self.spec, self.ctx, i, threads, self.shared, faults)
                running[i] = mp.Process(target=session_process, args=args, name=f"session-{i}")
                running[i].start()
            if interrupt.requested():
                stop(p for i, p in running.items() if not self.session_done(i))
            wait([p.sentinel for p in running.values()], timeout=POLL_S)
            for i, proc in list(running.items()):
                if proc.exitcode is None:
                    peaks[i] = peak_memory(proc.pid) or peaks.get(i)
                    continue
                del running[i]
                outcome = self.outcome(i, proc.exitcode)
                if outcome == "done":
                    done.append(i)
                elif outcome == "interrupted":
                    interrupt.request(signal.SIGTERM)  # one session stopped: the trial stops
                elif outcome == "disk full":
                    full = full or self.fault(faults)
                    interrupt.request(signal.SIGTERM)  # the others save where they can
                else:
                    failed.append(i)
                    self.note_failure(i, proc.exitcode, peaks.get(i))
            if self.reporter is not None:
                self.reporter()
            if interrupt.requested() and not running and len(done) + len(failed) < total:
                if full is not None:
                    raise self.disk_full(full, done)
                raise Interrupted(interrupt.requested())

    def session_done(self, index: int) -> bool:
        return analysis.finished(self.ctx.paths, index, analysis.session_frames(self.spec))

    def outcome(self, index: int, exitcode: int) -> str:
        """done (exit 0, or its final metrics are written), interrupted (saved on a stop
        request), disk full (stopped by a full disk) or failed."""
        if exitcode == 0 or self.session_done(index):
            return "done"
        if exitcode == EXIT_DISK_FULL:
            return "disk full"
        return "interrupted" if exitcode == EXIT_INTERRUPTED else "failed"

    def note_failure(self, index: int, exitcode: int, peak: int | None) -> None:
        """Say how session `index` failed: killed by a signal (with the memory it held at its
        peak, when known: the out-of-memory killer sends SIGKILL), or crashed."""
        log_dir = self.ctx.paths.log_dir
        if exitcode >= 0:
            self.failures[index] = f"s{index} crashed"
            logger.error(f"Session {index} failed: see {log_dir}")
            return
        how = f"killed by {signal.Signals(-exitcode).name}"
        if peak is not None:
            how += f" at a peak of {fmt_bytes(peak)} of memory"
        self.failures[index] = f"s{index} {how}"
        logger.error(f"Session {index} was {how}; the others go on: see {log_dir}")

    def fault(self, faults) -> DiskFull:
        """The DiskFull a session process sent (or, had none come, one for the run folder)."""
        if not faults.empty():
            return faults.get()
        run_dir = self.ctx.paths.run_dir
        return DiskFull(run_dir, disk_free(run_dir))

    def disk_full(self, error: DiskFull, done: list[int]) -> DiskFull:
        """The error, with the frame of each unfinished session's checkpoint on disk."""
        paths, n = self.ctx.paths, self.spec["meta"]["max_session"]
        unfinished = [i for i in range(n) if i not in done and not self.session_done(i)]
        error.checkpoints = {
            i: checkpoint.saved_frame(paths.checkpoint_file(i)) for i in unfinished
        }
        return error

    def finish(self, done: list[int]) -> dict:
        paths, n = self.ctx.paths, self.spec["meta"]["max_session"]
        why = f" ({', '.join(self.failures.values())})" if self.failures else ""
        if not done:
            raise SessionsFailed(
                f"every session of trial {paths.trial} failed{why}: see {paths.log_dir}"
            )
        metrics = analysis.report_trial(paths, self.spec, done)
        logger.info(f"trial_metrics: {analysis.fmt_metrics(metrics)}")
        logger.info(f"Trial {paths.trial} done ({len(done)} of {n} sessions) | {paths.run_dir}")
        if len(done) < n:
            raise SessionsFailed(
                f"{n - len(done)} of {n} sessions failed{why}: see {paths.log_dir}"
            )
        return metrics


def worker_count(sessions: int, distributed: bool, cores: int) -> int:
    """Session processes at a time: one per core, except distributed (A3C) sessions, which all
    train the shared net together (queued ones would start from a net the others trained)."""
    return max(1, sessions if distributed else min(sessions, cores))


def global_nets(spec: dict) -> dict:
    """The nets (and Global* optimizer states) all sessions of a distributed trial train, in
    shared memory."""
    clock = Clock(spec["env"]["max_frame"], 1)
    env = make_env(spec, num_envs=1)
    try:
        seed_everything(spec["meta"]["random_seed"])
        return share(Agent(spec, env, clock).algorithm)
    finally:
        env.close()


def stop(procs) -> None:
    """Pass the stop request on to running sessions (a SIGTERM to the trial reaches it alone),
    give them STOP_GRACE_S to save, then kill any still running."""
    procs = list(procs)
    for proc in procs:
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGTERM)
    for proc in procs:
        proc.join(STOP_GRACE_S)
        if proc.is_alive():
            logger.error(f"{proc.name} did not stop within {STOP_GRACE_S:.0f} s: killed")
            proc.kill()
            proc.join()
