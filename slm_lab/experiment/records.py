"""A session's records: its tables (the columns below, one row per log row, and per evaluation)
and its TensorBoard scalars."""

import csv
import io
import math
from pathlib import Path

from slm_lab.lib.errors import CheckpointError
from slm_lab.lib.util import space_checked, write_atomic

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
    "t",
    "grad_norm",
)
ADDED = ("t", "grad_norm")  # columns newer than some tables on disk: NaN in their old rows
STATS = ("loss", "entropy", "clip_eps", "explore_var")  # the algorithm's report, NaN if absent
MA_WINDOW = 100  # rows averaged into total_reward_ma
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


def make_row(
    clock,
    opt_step: int,
    last: dict,
    total_reward: float,
    episodes: int,
    stats: dict,
    lr: float,
    t: int,
    grad_norm: float,
) -> dict:
    """A table row, all columns but total_reward_ma (the table adds it). `last`: frame and
    wall_t of the previous row, for frames/s; `t`: env 0's step in its episode; `grad_norm`:
    the last gradient step's, before clipping."""
    frame, wall_t = clock.frame, clock.wall_t
    elapsed = wall_t - last["wall_t"]
    nan = float("nan")
    return {
        "frame": frame,
        "wall_t": round(wall_t, 3),
        "opt_step": opt_step,
        "epi": episodes,
        "fps": round((frame - last["frame"]) / elapsed, 1) if elapsed > 0 else nan,
        "total_reward": total_reward,
        "lr": stats.get("lr", lr),
        **{key: stats.get(key, nan) for key in STATS},
        "t": t,
        "grad_norm": grad_norm,
    }


class Table:
    """A session table, rewritten whole and atomically at every row (a reader, or a crash, never
    sees half a line). On resume it starts from the rows up to the checkpoint's frame."""

    def __init__(self, path: Path, upto: int | None = None) -> None:
        self.path = path
        self.lines = self.read(upto) if upto is not None else []
        self.rewards = [float(line[COLUMNS.index("total_reward")]) for line in self.lines]
        self.write()  # a run stopped before its first row still has a readable table

    def read(self, upto: int) -> list[list[str]]:
        """The saved lines with frame <= upto (later ones are redone by the resumed session)."""
        if not self.path.exists():
            return []
        with self.path.open(newline="") as f:
            rows = list(csv.reader(f))
        if not rows or not set(rows[0]) <= set(COLUMNS) or set(COLUMNS) - set(rows[0]) - set(ADDED):
            raise CheckpointError(self.path, "the session table has other columns")
        lines = [dict(zip(rows[0], line, strict=True)) for line in rows[1:] if line]
        kept = [line for line in lines if int(line["frame"]) <= upto]
        return [[line.get(c, "nan") for c in COLUMNS] for line in kept]

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


class Scalars:
    """The table columns of TB_TAGS as TensorBoard scalars under `log_dir`; a resumed session
    purges the steps after `purge` that the first run had already logged. TensorBoard writes
    from its own thread and raises that thread's error at the next call: a full disk is
    DiskFull there."""

    def __init__(self, log_dir: Path, purge: int | None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = log_dir
        with space_checked(log_dir):
            self.writer = SummaryWriter(str(log_dir), purge_step=purge, flush_secs=TB_FLUSH_S)

    def add(self, row: dict, group: str = "") -> None:
        with space_checked(self.log_dir):
            for col, tag in TB_TAGS.items():
                value = row[col]
                if math.isfinite(value):
                    self.writer.add_scalar(f"{group}{tag}", value, row["frame"])

    def flush(self) -> None:
        with space_checked(self.log_dir):
            self.writer.flush()

    def close(self) -> None:
        with space_checked(self.log_dir):
            self.writer.close()
