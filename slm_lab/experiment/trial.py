"""Trial: max_session sessions with distinct seeds, each in its own process (at most one per
core), then the trial's metrics and graphs. A session process reports how it ended by its exit
code: 0 done, EXIT_INTERRUPTED stopped on request after saving, anything else failed; a session
whose final metrics are written is done whatever ended its process. Resuming, sessions that
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
from slm_lab.experiment import analysis, interrupt
from slm_lab.experiment.context import RunContext
from slm_lab.experiment.interrupt import Interrupted
from slm_lab.experiment.loop import Clock
from slm_lab.experiment.session import Session, make_env, seed_everything
from slm_lab.lib import logger as lab_logger
from slm_lab.lib.errors import LabError, SessionsFailed
from slm_lab.lib.util import cpu_count

SMALL_NET_PARAMS = 100_000  # below this, one torch thread is faster than several
EXIT_INTERRUPTED = 130  # a session process stopped by Ctrl-C or SIGTERM after saving
STOP_GRACE_S = 60.0  # time an interrupted session gets to save before it is killed
POLL_S = 0.5  # how often a trial waiting on its sessions looks for a stop request


def set_threads(agent_nets: dict, threads: int) -> None:
    params = sum(p.numel() for net in agent_nets.values() for p in net.parameters())
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
    seed = spec["meta"]["session_seeds"][index]
    session = Session(spec, ctx, index, seed, shared, reporter)
    set_threads(session.agent.nets, threads)
    return session.run()


def session_process(
    spec: dict, ctx: RunContext, index: int, threads: int, shared: dict | None
) -> None:
    """Entry point of a session's own process: its log file, and an exit code for the trial."""
    interrupt.install()
    interrupt.watch_parent()
    lab_logger.setup(ctx.log_level, ctx.paths.log_file(index))
    try:
        run_session(spec, ctx, index, threads, shared)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
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

    def run(self) -> dict:
        n, ctx = self.spec["meta"]["max_session"], self.ctx
        max_frame = self.spec["env"]["max_frame"]
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
        return self.finish(sorted(finished + run(todo, workers, threads)))

    def run_inline(self, todo: list[int], workers: int, threads: int) -> list[int]:
        """Sessions one after another in this process (one session, or one core)."""
        done = []
        for i in todo:
            try:
                run_session(self.spec, self.ctx, i, threads, self.shared, self.reporter)
                done.append(i)
            except (NonFiniteLoss, LabError) as e:
                logger.error(f"Session {i} failed: {e}")
            except Exception:  # a crashed session must not lose the others
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
        request reaches the sessions still training; one that has written its final metrics is
        done, whatever ended its process (a SIGTERM during its exit would read as a failure)."""
        total, failed = len(pending), []
        while pending or running:
            while pending and len(running) < workers and not interrupt.requested():
                i = pending.pop(0)
                args = (self.spec, self.ctx, i, threads, self.shared)
                running[i] = mp.Process(target=session_process, args=args, name=f"session-{i}")
                running[i].start()
            if interrupt.requested():
                stop(p for i, p in running.items() if not self.session_done(i))
            wait([p.sentinel for p in running.values()], timeout=POLL_S)
            for i, proc in list(running.items()):
                if proc.exitcode is None:
                    continue
                del running[i]
                outcome = self.outcome(i, proc.exitcode)
                if outcome == "done":
                    done.append(i)
                elif outcome == "interrupted":
                    interrupt.request(signal.SIGTERM)  # one session stopped: the trial stops
                else:
                    failed.append(i)
                    logger.error(f"Session {i} failed: see {self.ctx.paths.log_dir}")
            if self.reporter is not None:
                self.reporter()
            if interrupt.requested() and not running and len(done) + len(failed) < total:
                raise Interrupted(interrupt.requested())

    def session_done(self, index: int) -> bool:
        return analysis.finished(self.ctx.paths, index, self.spec["env"]["max_frame"])

    def outcome(self, index: int, exitcode: int) -> str:
        """done (exit 0, or its final metrics are written), interrupted (saved on a stop
        request) or failed."""
        if exitcode == 0 or self.session_done(index):
            return "done"
        return "interrupted" if exitcode == EXIT_INTERRUPTED else "failed"

    def finish(self, done: list[int]) -> dict:
        paths, n = self.ctx.paths, self.spec["meta"]["max_session"]
        if not done:
            raise SessionsFailed(
                f"every session of trial {paths.trial} failed: see {paths.log_dir}"
            )
        metrics = analysis.report_trial(paths, self.spec, done)
        logger.info(f"trial_metrics: {analysis.fmt_metrics(metrics)}")
        logger.info(f"Trial {paths.trial} done | {paths.run_dir}")
        if len(done) < n:
            raise SessionsFailed(f"{n - len(done)} of {n} sessions failed: see {paths.log_dir}")
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
