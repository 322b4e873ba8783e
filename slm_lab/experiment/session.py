"""Session: one seed. It builds the env and the agent, owns the frame clock, the return tracker
and the records, runs the training loop (loop.py) to max_frame, and between steps writes log
rows, evaluates, keeps the best weights and saves its checkpoint.

With `ctx.resume` and a checkpoint on disk, it continues from there: same weights, optimizer
moments, replay, RNG states, envs mid-episode (where restorable) and table rows.
"""

import math
import random
import signal
from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from loguru import logger

from slm_lab.agent import Agent
from slm_lab.agent.algorithm.base import NonFiniteLoss
from slm_lab.agent.distributed import attach
from slm_lab.env.normalize import to_tensors
from slm_lab.env.vec_env import ReturnTracker, VecEnv
from slm_lab.experiment import analysis, checkpoint, interrupt, loop
from slm_lab.experiment.context import RunContext
from slm_lab.experiment.interrupt import Interrupted
from slm_lab.experiment.profiler import Profiler
from slm_lab.experiment.records import Scalars, Table, make_row
from slm_lab.lib.errors import DiskFull
from slm_lab.lib.progress import Progress
from slm_lab.lib.run_paths import ENV_STATE
from slm_lab.lib.state import Stateful, capture, restore

EVAL_EPISODES = 8  # episodes per rigorous evaluation
EVAL_SEED_OFFSET = 1_000_003  # eval envs draw seeds apart from the training envs'
MODEL_WRITE_INTERVAL_S = 60.0  # model files are rewritten at most this often, and at the end
CKPT_COST_RATIO = 50  # a checkpoint waits 50x its last write time: under 2% of the run
GRAPH_COST_RATIO = 50  # so do the HTML graphs
# the first HTML graph waits for this much training (its first write, plotly's import
# included, costs about 0.5 s): a shorter run's graphs are written at its end
GRAPH_FIRST_S = 30.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def obs_window(spec: dict) -> int | None:
    """The observation window a RecurrentNet reads (its seq_len); None for other nets."""
    net = spec["agent"]["net"]
    return net["seq_len"] if net["type"] == "RecurrentNet" else None


def make_env(spec: dict, **options) -> VecEnv:
    """The spec's vector env, with the observation window and discount its agent needs;
    options: num_envs, render_mode, obs_norm."""
    gamma = spec["agent"]["algorithm"]["gamma"]
    return VecEnv(spec["env"], window=obs_window(spec), gamma=gamma, **options)


def next_multiple(frame: int, every: int) -> int:
    return (frame // every + 1) * every


class Session(Stateful):
    # besides algorithm, memory, env and RNG: what a checkpoint holds of the session
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
        self.paths = ctx.paths
        self.reporter = reporter  # a search trial's report to Tune, when it runs in this process
        seed_everything(seed)
        env_spec, meta = spec["env"], spec["meta"]
        self.clock = loop.Clock(analysis.session_frames(spec), env_spec["num_envs"])
        self.env = make_env(spec, render_mode="human" if ctx.render else None)
        self.tracker = ReturnTracker(self.env.num_envs)
        if ctx.render:
            logger.info(f"rendering env 0 of {env_spec['name']} on screen")
        self.eval_env = (
            make_env(spec, obs_norm=self.env.obs_norm) if meta["rigorous_eval"] else None
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
        self.stats: dict[str, float] = {}  # the algorithm's report at the last log row
        self.keep_replay = checkpoint.keeps_replay(self.agent.memory, meta)
        self.next_ckpt_t, self.next_graph_t = 0.0, GRAPH_FIRST_S
        self.saved = self.load_checkpoint() if ctx.resume else None
        upto = self.clock.frame if self.saved is not None else None
        self.train_table = Table(self.paths.table(index, "train"), upto)
        self.eval_table = Table(self.paths.table(index, "eval"), upto)
        self.progress = Progress(f"s{index}", self.clock.max_frame, ctx.live)
        purge = self.clock.frame + 1 if self.saved is not None else None
        tensorboard = meta["tensorboard"] is not False
        self.scalars = Scalars(self.paths.tensorboard_dir(index), purge) if tensorboard else None
        self.initial = self.snapshot() if ctx.mode == "dev" else None
        self.profiler = self.make_profiler() if ctx.flags.profile else None

    def make_profiler(self) -> Profiler:
        flags, paths = self.ctx.flags, self.paths
        trace = paths.traces_dir
        return Profiler(trace, paths.profile_file(self.index), flags.prof_skip, flags.prof_active)

    def snapshot(self) -> dict[str, list[torch.Tensor]]:
        return {
            n: [p.detach().clone() for p in net.parameters()] for n, net in self.agent.nets.items()
        }

    def run(self) -> dict:
        """Train to max_frame; returns the session metrics."""
        try:
            self.train()
        except (NonFiniteLoss, DiskFull):
            raise  # the files on disk are from before the fault (or nothing can be written)
        except BaseException:
            self.write_models()  # what was learned so far survives a crash
            raise
        return self.finish()

    def train(self) -> None:
        """The training loop, then the last log row, evaluation and checkpoint."""
        obs = self.first_obs()
        if self.profiler is None:
            obs = loop.train(self.agent, self.env, self.clock, self.tracker, obs, self)
        else:  # the same loop, given timed stand-ins
            agent, env, tracker, hooks = self.profiler.wrap(
                self.agent, self.env, self.tracker, self
            )
            run = partial(loop.train, agent, env, self.clock, tracker, obs, hooks)
            obs = self.profiler.run(run, self.clock)
        if self.last["frame"] != self.clock.frame:
            self.log_row()
        if self.eval_env is not None and self.last_eval != self.clock.frame:
            self.evaluate()
        self.checkpoint(obs, force=True)

    # the hooks of the training loop

    def row_due(self, frame: int) -> bool:
        if frame < self.next_log:
            return False
        self.next_log = next_multiple(frame, self.log_freq)
        return True

    def eval_due(self, frame: int) -> bool:
        if self.eval_env is None or frame < self.next_eval:
            return False
        self.next_eval = next_multiple(frame, self.eval_freq)
        return True

    def log_row(self) -> None:
        """A row of the training table (and of the eval table without rigorous_eval)."""
        self.agent.algorithm.check_finite()
        self.stats = self.agent.algorithm.report()
        row = self.train_table.append(self.row(self.tracker))
        if self.eval_env is None:
            self.eval_table.append(row)
            self.save_models(row["total_reward_ma"])
        self.last = {"frame": row["frame"], "wall_t": row["wall_t"]}
        self.progress.update(row)
        if self.scalars is not None:
            self.scalars.add(row)
        self.write_graphs()
        if self.ctx.flags.log_extra:
            self.log_metrics()
        if self.reporter is not None:
            self.reporter()
        if self.initial is not None and self.agent.algorithm.opt_step:
            self.check_weights_changed()

    def log_metrics(self) -> None:
        """--log-extra: the session's metrics so far (strength, efficiency, stability)."""
        df = analysis.read_table(self.paths.table(self.index, "train"))
        metrics = analysis.session_metrics(df, self.spec["env"]["name"])
        logger.info(f"Session {self.index} [train metrics] {analysis.fmt_metrics(metrics)}")

    def row(self, tracker: ReturnTracker) -> dict:
        algo = self.agent.algorithm
        return make_row(
            self.clock,
            algo.opt_step,
            self.last,
            tracker.total_reward,
            tracker.episodes,
            self.stats,
            algo.lr,
            tracker.t,
            math.nan if algo.grad_norm is None else algo.grad_norm.item(),
        )

    def evaluate(self) -> None:
        """Greedy episodes on a separate env; one row of the eval table."""
        tracker = ReturnTracker(self.eval_env.num_envs)
        self.evals += 1
        obs = self.eval_env.reset(seed=self.seed + EVAL_SEED_OFFSET + self.evals)
        loop.play(self.agent, self.eval_env, tracker, obs, EVAL_EPISODES)
        row = self.eval_table.append(self.row(tracker))
        self.last_eval = self.clock.frame
        if self.scalars is not None:
            self.scalars.add(row, "eval/")
        self.save_models(row["total_reward_ma"])

    def checkpoint(self, obs: np.ndarray, force: bool = False) -> None:
        """The checkpoint (the resume file), unless the last one was written too recently for
        its cost."""
        start = self.clock.wall_t
        if not force and start < self.next_ckpt_t:
            return
        algo, memory = self.agent.algorithm, self.agent.memory
        state = {
            "format": checkpoint.FORMAT,
            "frame": self.clock.frame,
            "opt_step": algo.opt_step,
            "wall_t": start,
            "algorithm": algo.state_dict(),
            "memory": memory.state_dict() if self.keep_replay else None,
            "env": {**self.env.snapshot(), "tracker": self.tracker.state_dict()},
            "obs": capture(obs),
            "rng": checkpoint.rng_state(),
            "session": self.state_dict(),
        }
        checkpoint.save(state, self.paths.checkpoint_file(self.index))
        if self.scalars is not None:
            self.scalars.flush()
        self.next_ckpt_t = start + CKPT_COST_RATIO * (self.clock.wall_t - start)

    def stop(self, obs: np.ndarray) -> None:
        """Ctrl-C or SIGTERM: save everything at this step, then leave."""
        signum = interrupt.requested()
        self.checkpoint(obs, force=True)
        self.write_models()
        self.write_graphs(force=True)
        logger.warning(
            f"Session {self.index} stopped by {signal.Signals(signum).name} at frame "
            f"{self.clock.frame}; checkpoint {self.paths.checkpoint_file(self.index)}"
        )
        raise Interrupted(signum)

    # resume

    def load_checkpoint(self) -> dict | None:
        """Load the checkpoint into agent, memory, clock and session (the env, its returns and
        the RNG follow in first_obs, after the envs' reset); None when this session has none."""
        path = self.paths.checkpoint_file(self.index)
        if not path.exists():
            return None
        state = checkpoint.check(checkpoint.load(path), path)
        algo = self.agent.algorithm
        self.clock.frame = state["frame"]
        self.clock.start -= state["wall_t"]
        checkpoint.load_into(algo, state["algorithm"], path, "the algorithm")
        algo.opt_step = state["opt_step"]
        checkpoint.load_into(self, state["session"], path, "the session state")
        self.restore_memory(state["memory"], path)
        logger.info(f"Session {self.index} resumes at frame {self.clock.frame} from {path}")
        return state

    def restore_memory(self, saved: dict | None, path) -> None:
        memory, algo = self.agent.memory, self.agent.algorithm
        if saved is not None:
            checkpoint.load_into(memory, saved, path, "the memory")
        elif memory is not None:  # the replay was too big to save: refill it first
            frame = algo.refill()
            logger.warning(f"the checkpoint has no replay: training resumes at frame {frame}")

    def first_obs(self) -> np.ndarray:
        """Reset the envs; on resume, put back their state (or start new episodes where the env
        family cannot be restored), the returns so far, then the RNG states."""
        obs = self.env.reset(seed=self.seed)
        saved, self.saved = self.saved, None
        if saved is None:
            return obs
        self.tracker.load_state_dict(saved["env"]["tracker"])
        if self.env.restore(saved["env"]):
            obs = restore(None, saved["obs"])
        else:
            logger.info(f"{self.env.name} cannot be restored mid-episode: its episodes restart")
            self.tracker.restart()
            obs = self.env.reset(seed=self.seed + self.clock.frame)
        checkpoint.set_rng_state(saved["rng"])
        return obs

    # model files and graphs

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
        paths, i = self.paths, self.index
        for name, net in self.agent.nets.items():
            checkpoint.save(net.state_dict(), paths.model_file(i, f"{name}_model"))
        for name, state in self.best.items():
            checkpoint.save(state, paths.model_file(i, f"{name}_model", best=True))
        env_state = to_tensors(self.env.state_dict())
        if env_state:
            checkpoint.save(env_state, paths.model_file(i, ENV_STATE))
        if self.best_env:
            checkpoint.save(self.best_env, paths.model_file(i, ENV_STATE, best=True))
        self.last_write = self.clock.wall_t

    def write_graphs(self, force: bool = False) -> None:
        """The session's HTML graph (and session 0's view of the trial so far), unless the last
        ones were written too recently for their cost."""
        start = self.clock.wall_t
        if not force and start < self.next_graph_t:
            return
        analysis.write_session_graph(self.paths, self.spec, self.index)
        if self.index == 0 and self.spec["meta"]["max_session"] > 1:
            analysis.write_trial_graph(self.paths, self.spec, self.paths.sessions())
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
        if self.scalars is not None:
            self.scalars.close()
        self.env.close()
        if self.eval_env is not None:
            self.eval_env.close()
        self.write_graphs(force=True)
        metrics = analysis.write_session_metrics(self.paths, self.spec, self.index)
        logger.info(f"Session {self.index} done | {analysis.fmt_metrics(metrics)}")
        return metrics
