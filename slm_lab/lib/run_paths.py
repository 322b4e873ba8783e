"""The layout of a run folder (SPEC.md, "A run's folder"), in one place for the sessions that write
it and for analysis, enjoy, search and the Hub that read it. Torch-free.

    data/<name>_<YYYY_MM_DD_HHMMSS>/
      <name>_spec.json, <name>_t<i>_spec.json, <name>_t<i>_trial_metrics_scalar.json
      info/<name>_t<i>_s<j>_session_df_{train,eval}.csv, ..._session_metrics_scalar.json
      model/<name>_t<i>_s<j>_<net>_model.pt, ..._ckpt-best_<net>_model.pt, ..._env_state.pt,
            <name>_t<i>_s<j>_resume.pt (the session's checkpoint)
      graph/, log/, and for a search: <name>_experiment_df.csv, <name>_best_spec.json, ray/
"""

import re
import time
from dataclasses import dataclass
from pathlib import Path

from slm_lab.lib.errors import UsageError
from slm_lab.lib.util import timestamp

RUN_STAMP = re.compile(r"_\d{4}_\d{2}_\d{2}_\d{6}$")  # the timestamp ending a run folder's name
LATEST = "latest"
FOLDER_RETRY_S = 0.1  # wait before trying a run folder name again (names change each second)
TRIAL_SPEC = re.compile(r"_t(\d+)_spec\.json$")
BEST_SPEC = "_best_spec.json"  # a search's best trial spec, ready to run
SESSION_TABLE = re.compile(r"_s(\d+)_session_df_train\.csv$")
SESSION_METRICS = re.compile(r"_s(\d+)_session_metrics_scalar\.json$")
CHECKPOINT = "resume"  # file name part of a session's checkpoint
BEST = "ckpt-best"  # file name part of the best weights
ENV_STATE = "env_state"  # model files of the env normalisers' statistics
RESUME_ONLY = ("model/*_resume.pt", "ray/*")  # what a run needs only to resume elsewhere
ENJOY = "_enjoy_"  # enjoy folders: <name>_enjoy_<time>


@dataclass(frozen=True, kw_only=True)
class RunPaths:
    """The files of one trial in a run folder."""

    run_dir: Path
    name: str
    trial: int = 0

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

    @property
    def graph_dir(self) -> Path:
        return self.run_dir / "graph"

    def make_dirs(self) -> None:
        for folder in (self.info_dir, self.model_dir, self.log_dir, self.graph_dir):
            folder.mkdir(parents=True, exist_ok=True)

    @property
    def run_spec_file(self) -> Path:
        return self.run_dir / f"{self.name}_spec.json"

    @property
    def spec_file(self) -> Path:
        return self.run_dir / f"{self.prefix()}_spec.json"

    @property
    def trial_metrics_file(self) -> Path:
        return self.run_dir / f"{self.prefix()}_trial_metrics_scalar.json"

    @property
    def trial_series_file(self) -> Path:
        """The original lab's trial metrics: {scalar, local: series by checkpoint}."""
        return self.info_dir / f"{self.prefix()}_trial_metrics.json"

    @property
    def traces_dir(self) -> Path:
        """--profile: the torch profiler's traces."""
        return self.run_dir / "traces"

    def profile_file(self, session: int) -> Path:
        """--profile: the session's time per phase, frames/s, CPU, RAM and GPU use."""
        return self.info_dir / f"{self.prefix(session)}_profile.json"

    def log_file(self, session: int | None = None) -> Path:
        return self.log_dir / f"{self.prefix(session)}.log"

    def table(self, session: int, kind: str = "eval") -> Path:
        return self.info_dir / f"{self.prefix(session)}_session_df_{kind}.csv"

    def metrics_file(self, session: int) -> Path:
        return self.info_dir / f"{self.prefix(session)}_session_metrics_scalar.json"

    def session_graph(self, session: int, ext: str) -> Path:
        return self.graph_dir / f"{self.prefix(session)}_session_graph.{ext}"

    def trial_graph(self, ext: str) -> Path:
        return self.graph_dir / f"{self.prefix()}_trial_graph.{ext}"

    def checkpoint_file(self, session: int) -> Path:
        """The session's checkpoint: everything a resume needs."""
        return self.model_dir / f"{self.prefix(session)}_{CHECKPOINT}.pt"

    def model_file(self, session: int, what: str, best: bool = False) -> Path:
        """`what`: `<net>_model` (a net's weights) or ENV_STATE; `best`: the best checkpoint's."""
        part = f"{BEST}_{what}" if best else what
        return self.model_dir / f"{self.prefix(session)}_{part}.pt"

    def tensorboard_dir(self, session: int) -> Path:
        return self.log_dir / "tensorboard" / self.prefix(session)

    def sessions(self) -> list[int]:
        """The sessions that have a table on disk."""
        found = (SESSION_TABLE.search(p.name) for p in self.info_dir.glob(f"{self.prefix()}_s*"))
        return sorted(int(m.group(1)) for m in found if m)


def experiment_table(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}_experiment_df.csv"


def experiment_graph(run_dir: Path, name: str) -> Path:
    """Without a suffix: `.html` and `.png` are beside each other."""
    return run_dir / "graph" / f"{name}_experiment_graph"


def best_spec_file(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}{BEST_SPEC}"


def search_interrupted(run_dir: Path) -> Path:
    """The marker a search leaves while it stops on Ctrl-C or SIGTERM."""
    return run_dir / "ray" / "interrupted"


def new_folder(parent: Path, prefix: str) -> tuple[Path, str]:
    """Create `<prefix>_<timestamp>` under parent, a folder no other run holds: when one started
    in the same second, wait for the next second. Returns the folder and its timestamp."""
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        stamp = timestamp()
        folder = parent / f"{prefix}_{stamp}"
        try:
            folder.mkdir()
            return folder, stamp
        except FileExistsError:
            time.sleep(FOLDER_RETRY_S)


def is_run(folder: str, name: str | None) -> bool:
    """A run folder's name (of spec `name` when given); enjoy folders are not runs."""
    stamp = RUN_STAMP.search(folder)
    if stamp is None or ENJOY in folder:
        return False
    return name is None or folder[: stamp.start()] == name


def find_run(target: str, data_root: Path, purpose: str, name: str | None = None) -> Path:
    """MODE@target's run folder: `latest` is the newest run under data_root (of spec `name` when
    given), anything else a folder path."""
    if target != LATEST:
        run = Path(target)
        if not run.is_dir():
            raise UsageError(f"run folder {target} does not exist", "MODE")
        return run
    runs = [p for p in data_root.glob("*_*") if p.is_dir() and is_run(p.name, name)]
    if not runs:
        which = f"run of {name}" if name else "run folder"
        raise UsageError(f"no {which} in {data_root}/ to {purpose}", "MODE")
    return max(runs, key=lambda p: p.stat().st_mtime)


def run_spec_file(run_dir: Path) -> Path | None:
    """`<name>_spec.json`, <name> read from the folder's `<name>_<time>` name; for a renamed
    folder, the one spec file that is neither a trial's nor a search's best spec."""
    stamp = RUN_STAMP.search(run_dir.name)
    if stamp is not None and (run_dir / f"{run_dir.name[: stamp.start()]}_spec.json").is_file():
        return run_dir / f"{run_dir.name[: stamp.start()]}_spec.json"
    specs = [p for p in run_dir.glob("*_spec.json") if not TRIAL_SPEC.search(p.name)]
    names = {p.name for p in specs}
    specs = [
        p
        for p in specs
        if not (
            p.name.endswith(BEST_SPEC) and f"{p.name.removesuffix(BEST_SPEC)}_spec.json" in names
        )
    ]
    return specs[0] if len(specs) == 1 else None


def trials(run_dir: Path, name: str) -> list[int]:
    """The trials of a run folder, by their spec files."""
    found = (TRIAL_SPEC.search(p.name) for p in run_dir.glob(f"{name}_t*_spec.json"))
    return sorted(int(m.group(1)) for m in found if m)
