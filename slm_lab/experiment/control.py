"""Session (one seed: env + agent + loop + checkpoints) and Trial (max_session seeds, then metrics)."""

import csv
import io
import json
import math
import os
import random
import secrets
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from loguru import logger

from slm_lab.agent import Agent
from slm_lab.agent.algorithm.base import NonFiniteLoss
from slm_lab.agent.distributed import attach, check_distributed, share
from slm_lab.env.normalize import to_tensors
from slm_lab.env.vec_env import DEFAULT_GAMMA, Clock, ReturnTracker, VecEnv, obs_window
from slm_lab.experiment import SessionsFailed, analysis, checkpoint, interrupt
from slm_lab.experiment.interrupt import Interrupted
from slm_lab.lib import logger as lab_logger
from slm_lab.lib.progress import Progress
from slm_lab.lib.redact import redact
from slm_lab.lib.state import Stateful, capture, restore
from slm_lab.lib.util import cpu_count, git_info, new_folder, versions, write_atomic, write_json
from slm_lab.spec import schema
from slm_lab.spec.errors import SpecError

COLUMNS = (
    "frame",
    "wall_t",
    "opt_step",
    "epi",
    "fps",
    "total_reward",
    "total_reward_ma",
    "loss",
    "lr",
    "entropy",
    "clip_eps",
    "explore_var",
)
MA_WINDOW = 100  # checkpoints averaged into total_reward_ma
EVAL_EPISODES = 8  # episodes per rigorous evaluation
EVAL_SEED_OFFSET = 1_000_003  # eval envs draw seeds apart from the training envs'
MODEL_WRITE_INTERVAL_S = 60.0  # model files are rewritten at most this often, and at the end
SMALL_NET_PARAMS = 100_000  # below this, one torch thread is faster than several
SEED_RANGE = 2**31 - 1
EXIT_INTERRUPTED = 130  # a session process stopped by Ctrl-C or SIGTERM after saving
STOP_GRACE_S = 60.0  # time an interrupted session gets to save before it is killed
POLL_S = 0.5  # how often a trial waiting on its sessions looks for a stop request
ENV_STATE = "env_state"  # model files of the env normalisers' statistics
MAX_SHOWN = 5  # changed keys named when a resume is refused
CKPT_COST_RATIO = 50  # a resume checkpoint waits 50x its last write time: under 2% of the run
GRAPH_COST_RATIO = 50  # so do the HTML graphs
TB_TAGS = {  # TensorBoard scalar per table column
    "total_reward": "return",
    "total_reward_ma": "return_ma",
    "loss": "loss",
    "entropy": "entropy",
    "lr": "lr",
    "fps": "fps",
    "explore_var": "explore_var",
}
TB_FLUSH_S = 30  # TensorBoard's writer thread flushes this often (and at every checkpoint)


@dataclass(frozen=True, kw_only=True)
class RunContext(analysis.RunPaths):
    """Everything a run needs besides its spec: mode, paths, flags. No global state."""

    mode: str
    render: bool = False
    log_level: str = "INFO"
    live: bool = False
    resume: bool = False  # continue sessions from their resume checkpoints
    cpus: int | None = None  # cores the trial may use (a search trial's share); None: all

    def resume_file(self, session: int) -> Path:
        return self.model_dir / f"{self.prefix(session)}_{checkpoint.RESUME}.pt"

    def make_dirs(self) -> None:
        for sub in ("info", "model", "log", "graph"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Table:
    """A session table, rewritten whole and atomically at every row (a reader, or a crash, never
    sees half a line). On resume it starts from the rows up to the checkpoint's frame."""

    def __init__(self, path: Path, upto: int | None = None) -> None:
        self.path = path
        self.lines = self.read(upto) if upto is not None else []
        self.rewards = [float(line[COLUMNS.index("total_reward")]) for line in self.lines]
        self.write()  # a run stopped before its first checkpoint still has a readable table

    def read(self, upto: int) -> list[list[str]]:
        """The saved lines with frame <= upto (later ones are redone by the resumed session)."""
        if not self.path.exists():
            return []
        with self.path.open(newline="") as f:
            rows = list(csv.reader(f))
        if not rows or tuple(rows[0]) != COLUMNS:
            raise checkpoint.CheckpointError(self.path, "the session table has other columns")
        return [line for line in rows[1:] if line and int(line[0]) <= upto]

    def moving_average(self) -> float:
        window = [r for r in self.rewards[-MA_WINDOW:] if not math.isnan(r)]
        return sum(window) / len(window) if window else float("nan")

    def append(self, row: dict) -> dict:
        """Fill total_reward_ma from this table's history, write the table, return the row."""
        self.rewards.append(row["total_reward"])
        row = {**row, "total_reward_ma": self.moving_average()}
        self.lines.append([str(row[c]) for c in COLUMNS])
        self.write()
        return row

    def write(self) -> None:
        out = io.StringIO()
        csv.writer(out).writerows([COLUMNS, *self.lines])
        write_atomic(self.path, out.getvalue())


class Session(Stateful):
    """One seed: builds env and agent, runs the loop to max_frame, checkpoints every log_frequency.

    With `ctx.resume` and a resume checkpoint on disk, it continues from there: same weights,
    optimizer moments, replay, RNG states, envs mid-episode (where restorable) and table rows.
    """

    # besides algorithm, memory, env and RNG: what a resume checkpoint holds of the session
    state_attrs = (
        "best_ma",
        "best",
        "best_env",
        "evals",
        "last_eval",
        "last",
        "next_log",
        "next_eval",
    )

    def __init__(
        self,
        spec: dict,
        ctx: RunContext,
        index: int,
        seed: int,
        shared: dict | None = None,
        reporter: Callable[[], None] | None = None,
    ) -> None:
        self.spec, self.ctx, self.index, self.seed = spec, ctx, index, seed
        self.reporter = reporter  # a search trial's report to Tune, when it runs in this process
        self.prefix = ctx.prefix(index)
        seed_everything(seed)
        env_spec, meta = spec["env"], spec["meta"]
        self.clock = Clock(env_spec["max_frame"], env_spec["num_envs"])
        window = obs_window(spec)
        gamma = spec["agent"]["algorithm"].get("gamma", DEFAULT_GAMMA)
        render_mode = "human" if ctx.render else None
        self.env = VecEnv(env_spec, self.clock, render_mode=render_mode, window=window, gamma=gamma)
        if ctx.render:
            logger.info(f"rendering env 0 of {env_spec['name']} on screen")
        self.eval_env = (
            VecEnv(
                env_spec,
                Clock(0, env_spec["num_envs"]),
                window=window,
                obs_norm=self.env.obs_norm,
            )
            if meta["rigorous_eval"]
            else None
        )
        self.agent = Agent(spec, self.env, self.clock, dev_checks=ctx.mode == "dev")
        if shared is not None:
            attach(self.agent.algorithm, shared, meta["distributed"])
        self.log_freq, self.eval_freq = meta["log_frequency"], meta["eval_frequency"]
        self.next_log, self.next_eval = self.log_freq, self.eval_freq
        self.best_ma = -math.inf
        self.best: dict[str, dict] = {}
        self.best_env: dict[str, torch.Tensor] = {}
        self.last_write = 0.0
        self.last = {"frame": 0, "wall_t": 0.0}
        self.evals, self.last_eval = 0, 0
        self.stats: dict[str, float] = {}  # the algorithm's report at the last checkpoint
        self.keep_replay = checkpoint.keeps_replay(self.agent.memory, meta)
        self.next_ckpt_t = self.next_graph_t = 0.0
        self.saved = self.load_resume() if ctx.resume else None
        upto = self.clock.frame if self.saved is not None else None
        self.train_table = Table(ctx.info_dir / f"{self.prefix}_session_df_train.csv", upto)
        self.eval_table = Table(ctx.info_dir / f"{self.prefix}_session_df_eval.csv", upto)
        self.progress = Progress(f"s{index}", self.clock.max_frame, ctx.live)
        self.tb = self.tensorboard() if meta["tensorboard"] is not False else None
        self.initial = self.snapshot() if ctx.mode == "dev" else None

    def tensorboard(self):
        """Scalars under log/tensorboard/<prefix>; resumed, the steps after the checkpoint
        that the first run had already logged are purged."""
        from torch.utils.tensorboard import SummaryWriter

        purge = self.clock.frame + 1 if self.saved is not None else None
        log_dir = self.ctx.log_dir / "tensorboard" / self.prefix
        return SummaryWriter(log_dir=str(log_dir), purge_step=purge, flush_secs=TB_FLUSH_S)

    def log_scalars(self, row: dict, group: str = "") -> None:
        for col, tag in TB_TAGS.items():
            value = row[col]
            if math.isfinite(value):
                self.tb.add_scalar(f"{group}{tag}", value, row["frame"])

    def snapshot(self) -> dict[str, list[torch.Tensor]]:
        return {
            n: [p.detach().clone() for p in net.parameters()] for n, net in self.agent.nets.items()
        }

    def run(self) -> dict:
        """Train to max_frame; returns the session metrics."""
        try:
            self.loop()
        except NonFiniteLoss:
            raise  # the files on disk are from before the fault: keep them
        except BaseException:
            self.write_models()  # what was learned so far survives a crash
            raise
        return self.finish()

    def loop(self) -> None:
        agent, env, clock = self.agent, self.env, self.clock
        obs = self.first_obs()
        while not clock.done:
            action = agent.act(obs)
            next_obs, reward, terminated, truncated, real_next = env.step(agent.to_env(action))
            agent.update(obs, action, reward, real_next, terminated, truncated)
            obs = next_obs
            if self.log_due():
                self.save_resume(obs)
            if interrupt.requested():
                self.stop(obs)
        if self.last["frame"] != clock.frame:
            self.checkpoint()
        if self.eval_env is not None and self.last_eval != clock.frame:
            self.evaluate()
        self.save_resume(obs, force=True)

    def log_due(self) -> bool:
        """The checkpoint row and the evaluation when their frame has come; True if any ran."""
        frame, logged = self.clock.frame, False
        if frame >= self.next_log:
            self.checkpoint()
            self.next_log = (frame // self.log_freq + 1) * self.log_freq
            logged = True
        if self.eval_env is not None and frame >= self.next_eval:
            self.evaluate()
            self.next_eval = (frame // self.eval_freq + 1) * self.eval_freq
            logged = True
        return logged

    def stop(self, obs: np.ndarray) -> None:
        """Ctrl-C or SIGTERM: save everything at this step, then leave."""
        signum = interrupt.requested()
        self.save_resume(obs, force=True)
        self.write_models()
        self.write_graphs(force=True)
        logger.warning(
            f"Session {self.index} stopped by {signal.Signals(signum).name} at frame "
            f"{self.clock.frame}; checkpoint {self.ctx.resume_file(self.index)}"
        )
        raise Interrupted(signum)

    # resume checkpoint

    def save_resume(self, obs: np.ndarray, force: bool = False) -> None:
        """The resume checkpoint, unless the last one was written too recently for its cost."""
        start = self.clock.wall_t
        if not force and start < self.next_ckpt_t:
            return
        algo, memory = self.agent.algorithm, self.agent.memory
        state = {
            "format": checkpoint.FORMAT,
            "frame": self.clock.frame,
            "opt_step": self.clock.opt_step,
            "wall_t": start,
            "algorithm": algo.state_dict(),
            "memory": memory.state_dict() if self.keep_replay else None,
            "env": self.env.snapshot(),
            "obs": capture(obs),
            "rng": checkpoint.rng_state(),
            "session": self.state_dict(),
        }
        checkpoint.save(state, self.ctx.resume_file(self.index))
        if self.tb is not None:
            self.tb.flush()
        self.next_ckpt_t = start + CKPT_COST_RATIO * (self.clock.wall_t - start)

    def load_resume(self) -> dict | None:
        """Load the resume checkpoint into agent, memory, clock and session (the env and RNG
        follow in first_obs, after the envs' reset); None when this session has none yet."""
        path = self.ctx.resume_file(self.index)
        if not path.exists():
            return None
        state = checkpoint.check(checkpoint.load(path), path)
        self.clock.frame, self.clock.opt_step = state["frame"], state["opt_step"]
        self.clock.start -= state["wall_t"]
        checkpoint.load_into(self.agent.algorithm, state["algorithm"], path, "the algorithm")
        checkpoint.load_into(self, state["session"], path, "the session state")
        self.restore_memory(state["memory"], path)
        logger.info(f"Session {self.index} resumes at frame {self.clock.frame} from {path}")
        return state

    def restore_memory(self, saved: dict | None, path: Path) -> None:
        memory, algo = self.agent.memory, self.agent.algorithm
        if saved is not None:
            checkpoint.load_into(memory, saved, path, "the memory")
        elif memory is not None:  # the replay was too big to save: refill it before training
            start = self.spec["agent"]["algorithm"].get("training_start_step", 0)
            algo.next_train = self.clock.frame + start
            logger.warning(
                f"the checkpoint has no replay: training resumes at frame {algo.next_train}"
            )

    def first_obs(self) -> np.ndarray:
        """Reset the envs; on resume, put back their state (or start new episodes where the env
        family cannot be restored), then the RNG states."""
        obs = self.env.reset(seed=self.seed)
        saved, self.saved = self.saved, None
        if saved is None:
            return obs
        if self.env.restore(saved["env"]):
            obs = restore(None, saved["obs"])
        else:
            logger.info(f"{self.env.name} cannot be restored mid-episode: its episodes restart")
            obs = self.env.reset(seed=self.seed + self.clock.frame)
        checkpoint.set_rng_state(saved["rng"])
        return obs

    # rows, evaluation, model files

    def row(self, total_reward: float, episodes: int) -> dict:
        frame, wall_t = self.clock.frame, self.clock.wall_t
        elapsed = wall_t - self.last["wall_t"]
        stats = self.stats
        nan = float("nan")
        return {
            "frame": frame,
            "wall_t": round(wall_t, 3),
            "opt_step": self.clock.opt_step,
            "epi": episodes,
            "fps": round((frame - self.last["frame"]) / elapsed, 1) if elapsed > 0 else nan,
            "total_reward": total_reward,
            "loss": stats.get("loss", nan),
            "lr": stats.get("lr", self.agent.algorithm.lr),
            "entropy": stats.get("entropy", nan),
            "clip_eps": stats.get("clip_eps", nan),
            "explore_var": stats.get("explore_var", nan),
        }

    def checkpoint(self) -> None:
        tracker = self.env.tracker
        self.stats = self.agent.algorithm.report()
        row = self.train_table.append(self.row(tracker.total_reward, tracker.episodes))
        if self.eval_env is None:
            self.eval_table.append(row)
            self.save_models(row["total_reward_ma"])
        self.last = {"frame": row["frame"], "wall_t": row["wall_t"]}
        self.progress.update(row)
        if self.tb is not None:
            self.log_scalars(row)
        self.write_graphs()
        if self.reporter is not None:
            self.reporter()
        if self.initial is not None and self.clock.opt_step:
            self.check_weights_changed()

    def evaluate(self) -> None:
        """Greedy episodes on a separate env; one row of the eval table."""
        env = self.eval_env
        env.tracker = ReturnTracker(env.num_envs)
        self.evals += 1
        obs = env.reset(seed=self.seed + EVAL_SEED_OFFSET + self.evals)
        while env.tracker.episodes < EVAL_EPISODES:
            obs = env.step(self.agent.to_env(self.agent.act(obs, explore=False)))[0]
        row = self.eval_table.append(self.row(env.tracker.total_reward, env.tracker.episodes))
        self.last_eval = self.clock.frame
        if self.tb is not None:
            self.log_scalars(row, "eval/")
        self.save_models(row["total_reward_ma"])

    def save_models(self, score: float) -> None:
        """Keep the best weights (by total_reward_ma) in memory; write files now and then."""
        if score > self.best_ma:
            self.best_ma = score
            self.best = {
                name: {k: v.detach().clone() for k, v in net.state_dict().items()}
                for name, net in self.agent.nets.items()
            }
            self.best_env = to_tensors(self.env.state_dict())
        if self.clock.wall_t - self.last_write >= MODEL_WRITE_INTERVAL_S:
            self.write_models()

    def write_models(self) -> None:
        """Latest and best weights, one state-dict file per net, written atomically; with them
        the env normalisers' statistics the weights were trained on, when there are any."""
        model_dir, prefix = self.ctx.model_dir, self.prefix
        for name, net in self.agent.nets.items():
            checkpoint.save(net.state_dict(), model_dir / f"{prefix}_{name}_model.pt")
        for name, state in self.best.items():
            checkpoint.save(state, model_dir / f"{prefix}_ckpt-best_{name}_model.pt")
        env_state = to_tensors(self.env.state_dict())
        if env_state:
            checkpoint.save(env_state, model_dir / f"{prefix}_{ENV_STATE}.pt")
        if self.best_env:
            checkpoint.save(self.best_env, model_dir / f"{prefix}_ckpt-best_{ENV_STATE}.pt")
        self.last_write = self.clock.wall_t

    def write_graphs(self, force: bool = False) -> None:
        """The session's HTML graph (and session 0's view of the trial so far), unless the last
        ones were written too recently for their cost."""
        start = self.clock.wall_t
        if not force and start < self.next_graph_t:
            return
        analysis.write_session_graph(self.ctx, self.spec, self.index)
        if self.index == 0 and self.spec["meta"]["max_session"] > 1:
            analysis.write_trial_graph(self.ctx, self.spec, self.ctx.sessions())
        self.next_graph_t = start + GRAPH_COST_RATIO * (self.clock.wall_t - start)

    def check_weights_changed(self) -> None:
        for name, before in self.initial.items():
            after = list(self.agent.nets[name].parameters())
            if all(torch.equal(a, b) for a, b in zip(after, before, strict=True)):
                raise RuntimeError(f"dev check: {name} weights did not change after training")
        self.initial = None

    def finish(self) -> dict:
        self.write_models()
        self.progress.close()
        if self.tb is not None:
            self.tb.close()
        self.env.close()
        if self.eval_env is not None:
            self.eval_env.close()
        self.write_graphs(force=True)
        metrics = analysis.write_session_metrics(self.ctx, self.spec, self.index)
        logger.info(f"Session {self.index} done | {analysis.fmt_metrics(metrics)}")
        return metrics


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
    lab_logger.setup(ctx.log_level, ctx.log_dir / f"{ctx.prefix(index)}.log")
    try:
        run_session(spec, ctx, index, threads, shared)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except (NonFiniteLoss, SpecError) as e:
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
        finished = [i for i in range(n) if ctx.resume and analysis.finished(ctx, i, max_frame)]
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
            except (NonFiniteLoss, SpecError) as e:
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
                    logger.error(f"Session {i} failed: see {self.ctx.log_dir}")
            if self.reporter is not None:
                self.reporter()
            if interrupt.requested() and not running and len(done) + len(failed) < total:
                raise Interrupted(interrupt.requested())

    def session_done(self, index: int) -> bool:
        return analysis.finished(self.ctx, index, self.spec["env"]["max_frame"])

    def outcome(self, index: int, exitcode: int) -> str:
        """done (exit 0, or its final metrics are written), interrupted (saved on a stop
        request) or failed."""
        if exitcode == 0 or self.session_done(index):
            return "done"
        return "interrupted" if exitcode == EXIT_INTERRUPTED else "failed"

    def finish(self, done: list[int]) -> dict:
        ctx, n = self.ctx, self.spec["meta"]["max_session"]
        if not done:
            raise SessionsFailed(f"every session of trial {ctx.trial} failed: see {ctx.log_dir}")
        metrics = analysis.report_trial(ctx, self.spec, done)
        logger.info(f"trial_metrics: {analysis.fmt_metrics(metrics)}")
        logger.info(f"Trial {ctx.trial} done | {ctx.run_dir}")
        if len(done) < n:
            raise SessionsFailed(f"{n - len(done)} of {n} sessions failed: see {ctx.log_dir}")
        return metrics


def worker_count(sessions: int, distributed: bool, cores: int) -> int:
    """Session processes at a time: one per core, except distributed (A3C) sessions, which all
    train the shared net together (queued ones would start from a net the others trained)."""
    return max(1, sessions if distributed else min(sessions, cores))


def global_nets(spec: dict) -> dict:
    """The nets (and Global* optimizer states) all sessions of a distributed trial train, in
    shared memory."""
    clock = Clock(spec["env"]["max_frame"], 1)
    env = VecEnv(spec["env"], clock, num_envs=1, window=obs_window(spec))
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


def preflight(spec: dict, check: Callable[[Agent], None] | None = None) -> None:
    """Build a one-env copy of the env and the agent, so build errors surface before any file;
    `check` then looks at the agent (resume: do the checkpoints fit it?)."""
    check_distributed(spec)
    clock = Clock(spec["env"]["max_frame"], 1)
    try:
        env = VecEnv(spec["env"], clock, num_envs=1, window=obs_window(spec))
    except (TypeError, ValueError, AssertionError, gym.error.Error) as e:  # envs assert on args
        raise SpecError(f"gymnasium could not make {spec['env']['name']}: {e}", "env") from e
    try:
        agent = Agent(spec, env, clock)
        if check is not None:
            check(agent)
    finally:
        env.close()


def start(
    spec: dict, spec_file: Path, mode: str, render: bool, log_level: str, data_root: Path
) -> tuple[Path, dict]:
    """Validate by building, then write the run folder and run the trial. Returns the run folder
    and the trial metrics."""
    if mode == "dev":
        spec["meta"]["max_session"] = 1
    preflight(spec)
    spec, ctx = open_run(spec, spec_file, mode, render, log_level, data_root)
    lab_logger.setup(log_level, ctx.log_dir / f"{ctx.prefix()}.log")
    write_specs(spec, ctx)
    logger.info(f"Running {spec['name']} ({mode}): {ctx.run_dir}")
    return ctx.run_dir, run_trial(spec, ctx)


def open_run(
    spec: dict, spec_file: Path, mode: str, render: bool, log_level: str, data_root: Path
) -> tuple[dict, RunContext]:
    """Seeds and provenance recorded into the spec, and a new run folder with its subfolders."""
    spec = record(spec, spec_file)
    run_dir, spec["meta"]["timestamp"] = new_folder(data_root, spec["name"])
    ctx = context(spec, run_dir, mode, render, log_level)
    ctx.make_dirs()
    return spec, ctx


def resume(spec: dict, run_dir: Path, log_level: str, force: bool) -> tuple[Path, dict]:
    """Continue the unfinished sessions of run_dir from their checkpoints (train@DIR)."""
    saved = read_saved_spec(run_dir, spec["name"])
    spec = resumed_spec(spec, saved, force)
    ctx = context(spec, run_dir, "train", False, log_level, resume=True)
    preflight(spec, lambda agent: check_checkpoints(agent, ctx, spec))
    ctx.make_dirs()
    lab_logger.setup(log_level, ctx.log_dir / f"{ctx.prefix()}.log")
    if spec != saved:
        write_specs(spec, ctx)
    logger.info(f"Resuming {spec['name']}: {run_dir}")
    return run_dir, run_trial(spec, ctx)


def context(
    spec: dict, run_dir: Path, mode: str, render: bool, log_level: str, **options
) -> RunContext:
    """The run's context; options: resume, trial, cpus."""
    return RunContext(
        mode=mode,
        run_dir=run_dir,
        name=spec["name"],
        render=render,
        log_level=log_level,
        live=os.isatty(2) and spec["meta"]["max_session"] == 1 and mode != "search",
        **options,
    )


def write_specs(spec: dict, ctx: RunContext) -> None:
    write_json(ctx.run_dir / f"{ctx.name}_spec.json", spec)
    write_json(ctx.run_dir / f"{ctx.prefix()}_spec.json", spec)


def run_trial(spec: dict, ctx: RunContext) -> dict:
    """The trial, with Ctrl-C and SIGTERM turned into a clean stop that names the run folder."""
    with interrupt.catching():
        try:
            return Trial(spec, ctx).run()
        except Interrupted as e:
            e.run_dir = ctx.run_dir
            raise


def read_saved_spec(run_dir: Path, name: str) -> dict:
    path = run_dir / f"{name}_spec.json"
    if not path.is_file():
        raise SpecError(f"{run_dir} holds no {path.name}: not a run of spec {name!r}", "MODE")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SpecError(f"cannot read {path}: {e}", "MODE") from None


def comparable(spec: dict) -> dict[str, object]:
    """The spec's leaves by dotted path, without what the lab records into a run."""
    flat = flatten(json.loads(redact(json.dumps(spec, default=str))))  # saved specs hold ***
    recorded = tuple(f"meta.{k}" for k in schema.RUN_META)
    return {k: v for k, v in flat.items() if not k.startswith(recorded)}


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
    seed = spec["meta"].get("random_seed")
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


def check_checkpoints(agent: Agent, ctx: RunContext, spec: dict) -> None:
    """Every unfinished session's checkpoint is readable and fits the spec's nets (read lazily:
    the replay in it is not loaded here)."""
    max_frame = spec["env"]["max_frame"]
    for i in range(spec["meta"]["max_session"]):
        path = ctx.resume_file(i)
        if analysis.finished(ctx, i, max_frame) or not path.exists():
            continue
        state = checkpoint.check(checkpoint.load(path, mmap=True), path)
        checkpoint.load_into(agent.algorithm, state["algorithm"], path, "the algorithm")
