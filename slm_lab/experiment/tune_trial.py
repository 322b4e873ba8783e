"""One search trial as a Ray Tune Trainable. The lab Trial runs in a thread of the Tune actor and
hands its scores to a queue; each `step` gives Tune the next one. Tune stopping the trial (ASHA,
or the end of an interrupted search) is the lab's stop request: `cleanup` waits until the
sessions have saved their resume checkpoints, so nothing is cut off when the actor goes."""

import math
import os
import queue
import signal
import threading
from pathlib import Path

from loguru import logger
from ray import tune

from slm_lab.experiment import analysis, interrupt
from slm_lab.experiment.analysis import METRIC, TIME_ATTR
from slm_lab.experiment.context import RunContext, context
from slm_lab.experiment.interrupt import Interrupted
from slm_lab.experiment.trial import Trial
from slm_lab.lib import logger as lab_logger
from slm_lab.lib.run_paths import search_interrupted
from slm_lab.lib.util import write_json
from slm_lab.spec.space import trial_spec

CLAIM_LIMIT = 100_000  # trials one experiment folder numbers


class Reporter:
    """Hands `sink` the mean total_reward_ma over a trial's sessions at each frame that every
    session has reached (rows before the first episode, NaN, are not reported)."""

    def __init__(self, ctx: RunContext, sessions: int, sink) -> None:
        self.paths, self.sessions, self.sink, self.frame = ctx.paths, sessions, sink, 0
        self.seen: list[tuple] = []  # the tables' identities at the last read

    def __call__(self) -> None:
        paths = [self.paths.table(i) for i in range(self.sessions)]
        if not all(p.exists() for p in paths):
            return
        stats = [p.stat() for p in paths]  # tables are replaced whole: a new inode per write
        stamps = [(st.st_ino, st.st_size, st.st_mtime_ns) for st in stats]
        if stamps == self.seen:  # the trial's poll loop calls twice a second: no new row
            return
        self.seen = stamps
        dfs = analysis.common_rows([analysis.read_table(p) for p in paths])
        for row in range(len(dfs[0])):
            frame = int(dfs[0]["frame"].iloc[row])
            score = sum(float(df[METRIC].iloc[row]) for df in dfs) / len(dfs)
            if frame > self.frame and math.isfinite(score):
                self.frame = frame
                self.sink({METRIC: score, TIME_ATTR: frame})


def claim_index(run_dir: Path, trial_id: str) -> tuple[int, bool]:
    """The lab's number for a Tune trial (0, 1, ... in the order trials start), claimed with an
    exclusive file in the experiment folder; True when the claim is this trial's own from
    before, i.e. Tune restored the trial and its sessions resume."""
    claims = run_dir / "ray" / "trials"
    claims.mkdir(parents=True, exist_ok=True)
    for index in range(CLAIM_LIMIT):
        path = claims / f"t{index}"
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if path.read_text() == trial_id:
                return index, True
            continue
        with os.fdopen(fd, "w") as f:
            f.write(trial_id)
        return index, False
    raise RuntimeError(f"more than {CLAIM_LIMIT} trials in {run_dir}")


def interrupted(run_dir: Path) -> bool:
    return search_interrupted(run_dir).exists()


class LabTrial(tune.Trainable):
    """A lab Trial at index t of the experiment folder (tune.with_parameters passes spec,
    run_dir, log_level and cpus to setup)."""

    def setup(self, config: dict, spec: dict, run_dir: Path, log_level: str, cpus: int) -> None:
        interrupt.clear()  # the actor's own request flag; an actor runs one trial
        self.spec = trial_spec(spec, config)
        self.run_dir = run_dir
        index, restored = claim_index(run_dir, self.trial_id)
        self.ctx = context(
            self.spec, run_dir, "train", False, log_level, trial=index, cpus=cpus, resume=restored
        )
        lab_logger.setup(log_level, self.ctx.paths.log_file())
        if restored:
            logger.info(f"trial {index} restored by Tune: its sessions resume")
        else:
            write_json(self.ctx.paths.spec_file, self.spec)
        self.results: queue.Queue = queue.Queue()
        self.last = {METRIC: math.nan, TIME_ATTR: 0}
        self.reporter = Reporter(self.ctx, self.spec["meta"]["max_session"], self.results.put)
        self.thread = threading.Thread(target=self.work, name=f"trial-{index}", daemon=True)
        self.thread.start()

    def work(self) -> None:
        try:
            Trial(self.spec, self.ctx, self.reporter).run()
        except Interrupted:
            self.stopped(self.reporter.frame)
        except BaseException as e:  # handed to Tune through step: the trial errors
            self.results.put(e)
        finally:
            self.results.put(None)

    def stopped(self, frame: int) -> None:
        """Stopped by the scheduler: trial metrics of the frames reached. Stopped because the
        search was interrupted: nothing more, the sessions' checkpoints resume it."""
        paths = self.ctx.paths
        if interrupted(self.run_dir):
            logger.info(f"trial {paths.trial} stopped with the search at frame {frame}")
            return
        sessions = [i for i in paths.sessions() if len(analysis.read_table(paths.table(i)))]
        if sessions:
            analysis.write_trial_metrics(paths, self.spec, sessions)
        logger.info(f"trial {paths.trial} stopped early by the scheduler at frame {frame}")

    def step(self) -> dict:
        item = self.results.get()
        if item is None:  # the trial ended: its last score again, marked done
            return {**self.last, "done": True}
        if isinstance(item, BaseException):
            raise item
        self.last = item
        return item

    def cleanup(self) -> None:
        """Tune stops the trial: ask its sessions to stop and wait until they have saved.
        Sessions past their last step (ASHA's top rung can be max_frame) finish as usual."""
        if self.thread.is_alive():
            interrupt.request(signal.SIGTERM)
            self.thread.join()
