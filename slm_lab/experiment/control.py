"""Session (one seed: env + agent + loop + checkpoints) and Trial (max_session seeds, then metrics)."""

import csv
import math
import os
import random
import secrets
import sys
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from loguru import logger

from slm_lab.agent import Agent
from slm_lab.agent.distributed import attach, check_distributed, share
from slm_lab.env.normalize import to_tensors
from slm_lab.env.vec_env import DEFAULT_GAMMA, Clock, ReturnTracker, VecEnv, obs_window
from slm_lab.experiment import SessionsFailed, analysis
from slm_lab.lib import logger as lab_logger
from slm_lab.lib.progress import Progress
from slm_lab.lib.util import cpu_count, git_info, new_folder, versions, write_json
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
EXIT_INTERRUPTED = 130  # a session process stopped by Ctrl-C
STOP_GRACE_S = 30.0  # time an interrupted session gets to save before it is terminated
ENV_STATE = "env_state"  # model files of the env normalisers' statistics


@dataclass(frozen=True)
class RunContext:
    """Everything a run needs besides its spec: mode, paths, flags. No global state."""

    mode: str
    run_dir: Path
    name: str
    trial: int = 0
    render: bool = False
    log_level: str = "INFO"
    live: bool = False

    def prefix(self, session: int | None = None) -> str:
        base = f"{self.name}_t{self.trial}"
        return base if session is None else f"{base}_s{session}"

    @property
    def info_dir(self) -> Path:
        return self.run_dir / "info"

    @property
    def model_dir(self) -> Path:
        return self.run_dir / "model"

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "log"

    def make_dirs(self) -> None:
        for sub in ("info", "model", "log", "graph"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Table:
    """A session table, one CSV line written per checkpoint as it comes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rewards: list[float] = []
        self.file = path.open("w", newline="")
        self.writer = csv.writer(self.file)
        self.writer.writerow(COLUMNS)
        self.file.flush()  # a run stopped before its first checkpoint still has a readable table

    def moving_average(self) -> float:
        window = [r for r in self.rewards[-MA_WINDOW:] if not math.isnan(r)]
        return sum(window) / len(window) if window else float("nan")

    def append(self, row: dict) -> dict:
        """Fill total_reward_ma from this table's history, write the line, return the row."""
        self.rewards.append(row["total_reward"])
        row = {**row, "total_reward_ma": self.moving_average()}
        self.writer.writerow([row[c] for c in COLUMNS])
        self.file.flush()
        return row

    def close(self) -> None:
        self.file.close()


class Session:
    """One seed: builds env and agent, runs the loop to max_frame, checkpoints every log_frequency."""

    def __init__(
        self, spec: dict, ctx: RunContext, index: int, seed: int, shared: dict | None = None
    ) -> None:
        self.spec, self.ctx, self.index, self.seed = spec, ctx, index, seed
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
        self.train_table = Table(ctx.info_dir / f"{self.prefix}_session_df_train.csv")
        self.eval_table = Table(ctx.info_dir / f"{self.prefix}_session_df_eval.csv")
        self.best_ma = -math.inf
        self.best: dict[str, dict] = {}
        self.best_env: dict[str, torch.Tensor] = {}
        self.last_write = 0.0
        self.last = {"frame": 0, "wall_t": 0.0}
        self.evals, self.last_eval = 0, 0
        self.stats: dict[str, float] = {}  # the algorithm's report at the last checkpoint
        self.progress = Progress(f"s{index}", self.clock.max_frame, ctx.live)
        tb_on = meta["tensorboard"] if meta["tensorboard"] is not None else ctx.mode == "dev"
        self.tb = self.tensorboard() if tb_on else None
        self.initial = self.snapshot() if ctx.mode == "dev" else None

    def tensorboard(self):
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(log_dir=str(self.ctx.log_dir / "tensorboard" / self.prefix))

    def snapshot(self) -> dict[str, list[torch.Tensor]]:
        return {
            n: [p.detach().clone() for p in net.parameters()] for n, net in self.agent.nets.items()
        }

    def run(self) -> dict:
        """Train to max_frame; returns the session metrics."""
        try:
            self.loop()
        except BaseException:
            self.write_models()  # what was learned so far survives a crash or Ctrl-C
            raise
        return self.finish()

    def loop(self) -> None:
        agent, env, clock = self.agent, self.env, self.clock
        obs = env.reset(seed=self.seed)
        next_log, next_eval = self.log_freq, self.eval_freq
        while not clock.done:
            action = agent.act(obs)
            next_obs, reward, terminated, truncated, real_next = env.step(agent.to_env(action))
            agent.update(obs, action, reward, real_next, terminated, truncated)
            obs = next_obs
            if clock.frame >= next_log:
                self.checkpoint()
                next_log = (clock.frame // self.log_freq + 1) * self.log_freq
            if self.eval_env is not None and clock.frame >= next_eval:
                self.evaluate()
                next_eval = (clock.frame // self.eval_freq + 1) * self.eval_freq
        if self.last["frame"] != clock.frame:
            self.checkpoint()
        if self.eval_env is not None and self.last_eval != clock.frame:
            self.evaluate()

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
            for key in COLUMNS[2:]:
                self.tb.add_scalar(key, row[key], row["frame"])
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
            save_atomic(net.state_dict(), model_dir / f"{prefix}_{name}_model.pt")
        for name, state in self.best.items():
            save_atomic(state, model_dir / f"{prefix}_ckpt-best_{name}_model.pt")
        env_state = to_tensors(self.env.state_dict())
        if env_state:
            save_atomic(env_state, model_dir / f"{prefix}_{ENV_STATE}.pt")
        if self.best_env:
            save_atomic(self.best_env, model_dir / f"{prefix}_ckpt-best_{ENV_STATE}.pt")
        self.last_write = self.clock.wall_t

    def check_weights_changed(self) -> None:
        for name, before in self.initial.items():
            after = list(self.agent.nets[name].parameters())
            if all(torch.equal(a, b) for a, b in zip(after, before, strict=True)):
                raise RuntimeError(f"dev check: {name} weights did not change after training")
        self.initial = None

    def finish(self) -> dict:
        self.write_models()
        self.progress.close()
        for table in (self.train_table, self.eval_table):
            table.close()
        if self.tb is not None:
            self.tb.close()
        self.env.close()
        if self.eval_env is not None:
            self.eval_env.close()
        df = analysis.read_table(self.eval_table.path)
        metrics = analysis.session_metrics(df, self.spec["env"]["name"])
        write_json(self.ctx.info_dir / f"{self.prefix}_session_metrics_scalar.json", metrics)
        logger.info(f"Session {self.index} done | {analysis.fmt_metrics(metrics)}")
        return metrics


def save_atomic(obj: object, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def set_threads(agent_nets: dict, threads: int) -> None:
    params = sum(p.numel() for net in agent_nets.values() for p in net.parameters())
    torch.set_num_threads(1 if params < SMALL_NET_PARAMS else threads)


def run_session(
    spec: dict, ctx: RunContext, index: int, threads: int, shared: dict | None = None
) -> dict:
    """One session in this process; returns its metrics."""
    session = Session(spec, ctx, index, spec["meta"]["session_seeds"][index], shared)
    set_threads(session.agent.nets, threads)
    return session.run()


def session_process(
    spec: dict, ctx: RunContext, index: int, threads: int, shared: dict | None
) -> None:
    """Entry point of a session's own process: its log file, and an exit code for the trial."""
    lab_logger.setup(ctx.log_level, ctx.log_dir / f"{ctx.prefix(index)}.log")
    try:
        run_session(spec, ctx, index, threads, shared)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except Exception:
        logger.exception(f"Session {index} failed")
        sys.exit(1)


class Trial:
    """max_session sessions with distinct seeds, each in its own process, at most one per core."""

    def __init__(self, spec: dict, ctx: RunContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.shared = global_nets(spec) if spec["meta"]["distributed"] else None

    def run(self) -> dict:
        n = self.spec["meta"]["max_session"]
        workers = min(n, cpu_count())
        threads = max(1, cpu_count() // workers)
        run = self.run_inline if workers == 1 else self.run_parallel
        return self.finish(run(n, workers, threads))

    def run_inline(self, n: int, workers: int, threads: int) -> list[int]:
        """Sessions one after another in this process (one session, or one core)."""
        done = []
        for i in range(n):
            try:
                run_session(self.spec, self.ctx, i, threads, self.shared)
                done.append(i)
            except Exception:  # a crashed session must not lose the others
                logger.exception(f"Session {i} failed")
        return done

    def run_parallel(self, n: int, workers: int, threads: int) -> list[int]:
        """Up to `workers` session processes at a time; returns the sessions that finished.
        On Ctrl-C, running sessions save and stop, and no new one starts."""
        mp = torch.multiprocessing.get_context("spawn")  # passes shared tensors by handle
        pending, running, done = list(range(n)), {}, []
        try:
            while pending or running:
                while pending and len(running) < workers:
                    i = pending.pop(0)
                    args = (self.spec, self.ctx, i, threads, self.shared)
                    running[i] = mp.Process(target=session_process, args=args, name=f"session-{i}")
                    running[i].start()
                wait([p.sentinel for p in running.values()])
                for i, proc in list(running.items()):
                    if proc.exitcode is None:
                        continue
                    del running[i]
                    if proc.exitcode == 0:
                        done.append(i)
                    elif proc.exitcode == EXIT_INTERRUPTED:
                        raise KeyboardInterrupt
                    else:
                        logger.error(f"Session {i} failed: see {self.ctx.log_dir}")
        except KeyboardInterrupt:
            stop(running.values())
            raise
        return done

    def finish(self, done: list[int]) -> dict:
        ctx, n = self.ctx, self.spec["meta"]["max_session"]
        if not done:
            raise SessionsFailed(f"every session of trial {ctx.trial} failed: see {ctx.log_dir}")
        dfs = [
            analysis.read_table(ctx.info_dir / f"{ctx.prefix(i)}_session_df_eval.csv") for i in done
        ]
        metrics = analysis.trial_metrics(dfs, self.spec["env"]["name"])
        metrics["sessions"] = len(done)
        write_json(ctx.run_dir / f"{ctx.prefix()}_trial_metrics_scalar.json", metrics)
        logger.info(f"trial_metrics: {analysis.fmt_metrics(metrics)}")
        logger.info(f"Trial {ctx.trial} done | {ctx.run_dir}")
        if len(done) < n:
            raise SessionsFailed(f"{n - len(done)} of {n} sessions failed: see {ctx.log_dir}")
        return metrics


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
    """Let interrupted sessions save (they got the same SIGINT), then end any still running."""
    for proc in procs:
        proc.join(STOP_GRACE_S)
        if proc.is_alive():
            proc.terminate()
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


def preflight(spec: dict) -> None:
    """Build a one-env copy of the env and the agent, so build errors surface before any file."""
    check_distributed(spec)
    clock = Clock(spec["env"]["max_frame"], 1)
    try:
        env = VecEnv(spec["env"], clock, num_envs=1, window=obs_window(spec))
    except (TypeError, ValueError, AssertionError, gym.error.Error) as e:  # envs assert on args
        raise SpecError(f"gymnasium could not make {spec['env']['name']}: {e}", "env") from e
    try:
        Agent(spec, env, clock)
    finally:
        env.close()


def start(
    spec: dict, spec_file: Path, mode: str, render: bool, log_level: str, data_root: Path
) -> dict:
    """Validate by building, then write the run folder and run the trial. Returns trial metrics."""
    if mode == "dev":
        spec["meta"]["max_session"] = 1
    preflight(spec)
    spec = record(spec, spec_file)
    name = spec["name"]
    run_dir, spec["meta"]["timestamp"] = new_folder(data_root, name)
    ctx = RunContext(
        mode=mode,
        run_dir=run_dir,
        name=name,
        render=render,
        log_level=log_level,
        live=os.isatty(2) and spec["meta"]["max_session"] == 1,
    )
    ctx.make_dirs()
    lab_logger.setup(log_level, ctx.log_dir / f"{ctx.prefix()}.log")
    write_json(ctx.run_dir / f"{name}_spec.json", spec)
    write_json(ctx.run_dir / f"{ctx.prefix()}_spec.json", spec)
    logger.info(f"Running {name} ({mode}): {ctx.run_dir}")
    return Trial(spec, ctx).run()
