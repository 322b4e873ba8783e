"""Metrics and graphs of sessions, trials and experiments, from the files of a run folder
(SPEC.md, "The score"). Everything here works from disk alone, without torch, so `slm-lab
analyze DIR` rebuilds a finished or interrupted run's metrics and graphs (retro analysis).

strength_i = total_reward_i - random-policy mean return; rows before the first finished episode
(total_reward NaN) are left out of every metric.
"""

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pydash
from loguru import logger

from slm_lab.env.baseline import random_return
from slm_lab.lib import viz
from slm_lab.lib.util import RUN_STAMP, is_run, write_atomic, write_json
from slm_lab.spec.errors import SpecError
from slm_lab.spec.validate import flatten_search

SESSION_KEYS = (
    "frame",
    "total_reward_ma",
    "strength",
    "max_strength",
    "final_strength",
    "sample_efficiency",
    "training_efficiency",
    "stability",
)
TRIAL_KEYS = (*SESSION_KEYS, "consistency")
SCI_KEYS = ("frame", "sample_efficiency", "training_efficiency")


def ratio(num: float, den: float) -> float:
    return num / den if den else float("nan")


def efficiency(strengths: np.ndarray, clock: np.ndarray) -> float:
    """sum(strength_i / t_i) / sum(strength_i), skipping t_i = 0."""
    keep = clock > 0
    s, t = strengths[keep], clock[keep]
    return ratio(float(np.sum(s / t)), float(np.sum(s)))


def stability(strengths: np.ndarray) -> float:
    """1 - |sum of the negative steps of strength / sum of strength|."""
    drops = np.diff(strengths)
    return 1.0 - abs(ratio(float(drops[drops < 0].sum()), float(strengths.sum())))


def consistency(strength_table: np.ndarray) -> float:
    """1 - 2 * sum(std over sessions) / sum(mean over sessions); rows are checkpoints."""
    std = strength_table.std(axis=1).sum()
    mean = strength_table.mean(axis=1).sum()
    return 1.0 - 2.0 * ratio(float(std), float(mean))


def series_metrics(df: pd.DataFrame, baseline: float) -> dict[str, float]:
    """Metrics of one table (a session's, or a trial's mean over sessions)."""
    last = df.iloc[-1] if len(df) else None
    scored = df.dropna(subset=["total_reward"])
    base = {
        "frame": float(last["frame"]) if last is not None else float("nan"),
        "total_reward_ma": float(last["total_reward_ma"]) if last is not None else float("nan"),
    }
    if scored.empty:
        return {**base, **{k: float("nan") for k in SESSION_KEYS if k not in base}}
    s = scored["total_reward"].to_numpy(dtype=float) - baseline
    return {
        **base,
        "strength": float(s.mean()),
        "max_strength": float(s.max()),
        "final_strength": float(s[-1]),
        "sample_efficiency": efficiency(s, scored["frame"].to_numpy(dtype=float)),
        "training_efficiency": efficiency(s, scored["opt_step"].to_numpy(dtype=float)),
        "stability": stability(s),
    }


def session_metrics(df: pd.DataFrame, env_name: str) -> dict[str, float]:
    return series_metrics(df, random_return(env_name))


def trial_metrics(dfs: list[pd.DataFrame], env_name: str) -> dict[str, float]:
    """Metrics of the mean curve over sessions, total_reward_ma as the mean of the sessions',
    and consistency across sessions. Tables are aligned on their common rows."""
    dfs = common_rows(dfs)
    mean_df = sum(dfs) / len(dfs)
    baseline = random_return(env_name)
    metrics = series_metrics(mean_df, baseline)
    metrics["total_reward_ma"] = float(np.nanmean([df["total_reward_ma"].iloc[-1] for df in dfs]))
    table = np.stack([df["total_reward"].to_numpy(dtype=float) - baseline for df in dfs], axis=1)
    table = table[~np.isnan(table).any(axis=1)]
    metrics["consistency"] = consistency(table) if len(table) else float("nan")
    return metrics


def common_rows(dfs: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Session tables cut to the rows they all have (same log_frequency: same frames)."""
    rows = min(len(df) for df in dfs)
    return [df.iloc[:rows].reset_index(drop=True) for df in dfs]


def read_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)


def fmt_metrics(metrics: dict[str, float]) -> str:
    """`frame:2.00e+05 | total_reward_ma:498.94 | ...`, the line benchmark scripts grep for."""

    def fmt(key: str, value: float) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "nan"
        return f"{value:.2e}" if key in SCI_KEYS else f"{value:.2f}"

    return " | ".join(f"{k}:{fmt(k, metrics[k])}" for k in TRIAL_KEYS if k in metrics)


# run folders

TRIAL_SPEC = re.compile(r"_t(\d+)_spec\.json$")
BEST_SPEC = "_best_spec.json"  # a search's best trial spec, ready to run
SESSION_TABLE = re.compile(r"_s(\d+)_session_df_train\.csv$")
LOG_SAMPLERS = ("loguniform", "qloguniform")
ALGO_LABELS = {
    "ActorCritic": "A2C",
    "SoftActorCritic": "SAC",
    "DoubleDQN": "DDQN",
    "VanillaDQN": "DQN",
    "Reinforce": "REINFORCE",
    "PPOSIL": "PPO+SIL",
    "SIL": "A2C+SIL",
}
SCORE_AXIS = "return MA (mean of the last 100 checkpoints)"


@dataclass(frozen=True, kw_only=True)
class RunPaths:
    """The files of one trial in a run folder (SPEC.md layout)."""

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

    @property
    def spec_file(self) -> Path:
        return self.run_dir / f"{self.prefix()}_spec.json"

    @property
    def trial_metrics_file(self) -> Path:
        return self.run_dir / f"{self.prefix()}_trial_metrics_scalar.json"

    def table(self, session: int, kind: str = "eval") -> Path:
        return self.info_dir / f"{self.prefix(session)}_session_df_{kind}.csv"

    def metrics_file(self, session: int) -> Path:
        return self.info_dir / f"{self.prefix(session)}_session_metrics_scalar.json"

    def session_graph(self, session: int, ext: str) -> Path:
        return self.graph_dir / f"{self.prefix(session)}_session_graph.{ext}"

    def trial_graph(self, ext: str) -> Path:
        return self.graph_dir / f"{self.prefix()}_trial_graph.{ext}"

    def sessions(self) -> list[int]:
        """The sessions that have a table on disk."""
        found = (SESSION_TABLE.search(p.name) for p in self.info_dir.glob(f"{self.prefix()}_s*"))
        return sorted(int(m.group(1)) for m in found if m)


def read_json(path: Path, key: str = "RUN_DIR") -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SpecError(f"cannot read {path}: {e}", key) from None


def finished(paths: RunPaths, session: int, max_frame: int) -> bool:
    """The session ran to max_frame (its metrics file says so; analyze writes metrics of
    unfinished sessions too)."""
    path = paths.metrics_file(session)
    return path.exists() and read_json(path).get("frame", 0) >= max_frame


def algo_label(spec: dict) -> str:
    """A short algorithm name for legends: A2C, A3C, SAC, DDQN+PER, ..."""
    name = spec["agent"]["algorithm"]["name"]
    label = ALGO_LABELS.get(name, name)
    if label == "A2C" and spec["meta"].get("distributed"):
        label = "A3C"
    if spec["agent"].get("memory", {}).get("name") == "PrioritizedReplay":
        label += "+PER"
    return label


def write_session_metrics(paths: RunPaths, spec: dict, session: int) -> dict:
    metrics = session_metrics(read_table(paths.table(session)), spec["env"]["name"])
    write_json(paths.metrics_file(session), metrics)
    return metrics


def write_trial_metrics(paths: RunPaths, spec: dict, sessions: list[int]) -> dict:
    metrics = trial_metrics([read_table(paths.table(i)) for i in sessions], spec["env"]["name"])
    metrics["sessions"] = len(sessions)
    write_json(paths.trial_metrics_file, metrics)
    return metrics


def write_session_graph(paths: RunPaths, spec: dict, session: int):
    """The session's HTML graph from its tables on disk; returns the figure."""
    train = read_table(paths.table(session, "train"))
    evals = read_table(paths.table(session)) if spec["meta"].get("rigorous_eval") else None
    title = f"{paths.prefix(session)} | {spec['env']['name']} | {algo_label(spec)}"
    fig = viz.session_figure(train, evals, title)
    viz.write_html(fig, paths.session_graph(session, "html"))
    return fig


def write_trial_graph(paths: RunPaths, spec: dict, sessions: list[int]):
    """The trial's HTML graph (sessions, mean, band); returns the figure, None without rows."""
    dfs = common_rows([read_table(paths.table(i)) for i in sessions]) if sessions else []
    if not dfs or not len(dfs[0]):
        return None
    seeds = spec["meta"].get("session_seeds") or []
    labels = [f"s{i} (seed {seeds[i]})" if i < len(seeds) else f"s{i}" for i in sessions]
    title = f"{paths.prefix()} | {spec['env']['name']} | {algo_label(spec)} | {len(dfs)} sessions"
    fig = viz.trial_figure(dfs[0]["frame"].to_numpy(), dict(zip(labels, dfs, strict=True)), title)
    viz.write_html(fig, paths.trial_graph("html"))
    return fig


def report_trial(paths: RunPaths, spec: dict, sessions: list[int]) -> dict:
    """Trial metrics, the session and trial graphs as HTML, then all their PNGs at once."""
    metrics = write_trial_metrics(paths, spec, sessions)
    figs = {paths.session_graph(i, "png"): write_session_graph(paths, spec, i) for i in sessions}
    trial_fig = write_trial_graph(paths, spec, sessions)
    if trial_fig is not None:
        figs[paths.trial_graph("png")] = trial_fig
    viz.write_pngs(figs)
    return metrics


# retro analysis: a run folder's metrics and graphs rebuilt from its files


def read_run(run_dir: Path, key: str = "RUN_DIR") -> tuple[str, dict]:
    """The spec name and saved spec of a run folder (errors name the CLI argument `key`)."""
    if not run_dir.is_dir():
        raise SpecError(f"no run folder {run_dir}", key)
    spec_file = run_spec_file(run_dir)
    if spec_file is None:
        problem = f"{run_dir} is not a run folder: it holds no single <name>_spec.json"
        raise SpecError(problem, key)
    return spec_file.name.removesuffix("_spec.json"), read_json(spec_file, key)


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
    found = (TRIAL_SPEC.search(p.name) for p in run_dir.glob(f"{name}_t*_spec.json"))
    return sorted(int(m.group(1)) for m in found if m)


def analyze(run_dir: Path) -> list[dict]:
    """Rebuild every session, trial and experiment metric and graph of a run folder."""
    name, spec = read_run(run_dir)
    results = []
    for t in trials(run_dir, name):
        paths = RunPaths(run_dir=run_dir, name=name, trial=t)
        trial_spec = read_json(paths.spec_file)
        sessions = paths.sessions()
        if not sessions:
            logger.info(f"trial {t}: no session table yet")
            continue
        for i in sessions:
            write_session_metrics(paths, trial_spec, i)
        metrics = report_trial(paths, trial_spec, sessions)
        logger.info(f"trial {t} trial_metrics: {fmt_metrics(metrics)}")
        results.append(metrics)
    if searched_keys(spec) or len(trials(run_dir, name)) > 1:
        write_experiment(run_dir, name, spec)
    return results


# experiments: one row per trial


def search_entries(spec: dict) -> dict[str, tuple[str, list]]:
    """Dotted spec path -> (sampler, arguments), from the spec's search block."""
    flat = flatten_search(spec.get("search") or {})
    entries = {}
    for key, args in flat.items():
        path, sampler = key.rsplit("__", 1)
        entries[path] = (sampler, args)
    return entries


def searched_keys(spec: dict) -> dict[str, str]:
    """Dotted spec path -> sampler."""
    return {path: sampler for path, (sampler, _) in search_entries(spec).items()}


def experiment_columns(keys: list[str]) -> list[str]:
    return ["trial", *keys, "total_reward_ma", "strength", "frames", "status"]


def trial_status(paths: RunPaths, spec: dict, metrics: dict) -> str:
    """pending (no table), unfinished (no trial metrics), stopped (early), finished."""
    sessions = paths.sessions()
    if not metrics:
        return "unfinished" if sessions else "pending"
    max_frame = spec["env"]["max_frame"]
    done = sessions and all(finished(paths, i, max_frame) for i in sessions)
    return "finished" if done else "stopped"


def scalar(value: object) -> object:
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)


def experiment_df(run_dir: Path, name: str, spec: dict) -> pd.DataFrame:
    """The experiment table: trial, each searched key, total_reward_ma, strength, frames,
    status."""
    keys = list(searched_keys(spec))
    rows = []
    for t in trials(run_dir, name):
        paths = RunPaths(run_dir=run_dir, name=name, trial=t)
        trial_spec = read_json(paths.spec_file)
        found = paths.trial_metrics_file.exists()
        metrics = read_json(paths.trial_metrics_file) if found else {}
        nan = float("nan")
        rows.append(
            {
                "trial": t,
                **{k: scalar(pydash.get(trial_spec, k)) for k in keys},
                "total_reward_ma": metrics.get("total_reward_ma", nan),
                "strength": metrics.get("strength", nan),
                "frames": metrics.get("frame", nan),
                "status": trial_status(paths, trial_spec, metrics),
            }
        )
    return pd.DataFrame(rows, columns=experiment_columns(keys))


def write_experiment(run_dir: Path, name: str, spec: dict) -> pd.DataFrame:
    """`<name>_experiment_df.csv` and the experiment graph (each searched value against the
    score, colored by strength)."""
    df = experiment_df(run_dir, name, spec)
    write_atomic(run_dir / f"{name}_experiment_df.csv", df.to_csv(index=False))
    keys = searched_keys(spec)
    log_keys = {k for k, sampler in keys.items() if sampler in LOG_SAMPLERS}
    title = f"{name} | {spec['env']['name']} | {algo_label(spec)} | {len(df)} trials"
    fig = viz.experiment_figure(df, list(keys), log_keys, title)
    stem = run_dir / "graph" / f"{name}_experiment_graph"
    viz.write_html(fig, stem.with_suffix(".html"))
    viz.write_pngs({stem.with_suffix(".png"): fig})
    return df


# comparisons of runs and the list of local runs


def best_trial(run_dir: Path, name: str) -> int:
    """Trial 0 of a train run; the trial with the highest total_reward_ma of a search."""
    scores = {}
    for t in trials(run_dir, name):
        path = RunPaths(run_dir=run_dir, name=name, trial=t).trial_metrics_file
        if path.exists():
            scores[t] = read_json(path).get("total_reward_ma", -math.inf)
    scores = {t: s for t, s in scores.items() if not math.isnan(s)}
    return max(scores, key=scores.get) if scores else 0


def score_curves(run_dir: Path) -> tuple[dict, np.ndarray, np.ndarray]:
    """A run's spec, frames, and total_reward_ma per checkpoint (rows) and session (columns):
    its finished sessions, or all of them when none finished."""
    name, spec = read_run(run_dir, "-f")
    paths = RunPaths(run_dir=run_dir, name=name, trial=best_trial(run_dir, name))
    sessions = paths.sessions()
    if not sessions:
        raise SpecError(f"{run_dir} holds no session table yet", "-f")
    done = [i for i in sessions if finished(paths, i, spec["env"]["max_frame"])]
    sessions = done or sessions  # a run cut short by crashed sessions shows the whole curves
    dfs = common_rows([read_table(paths.table(i)) for i in sessions])
    table = np.column_stack([df["total_reward_ma"].to_numpy(dtype=float) for df in dfs])
    return spec, dfs[0]["frame"].to_numpy(), table


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "plot"


def plot(dirs: list[Path], title: str | None, legends: list[str] | None, out: Path) -> Path:
    """One graph of several runs' scores (mean ± std over sessions), one color per algorithm
    (legends only rename). Returns the HTML path (the PNG is beside it when a Chrome is found)."""
    if legends and len(legends) != len(dirs):
        raise SpecError(f"{len(legends)} legends for {len(dirs)} folders", "-l")
    runs = [score_curves(d) for d in dirs]
    algos = [algo_label(spec) for spec, _, _ in runs]
    labels = legends or unique(algos, dirs)
    envs = list(dict.fromkeys(spec["env"]["name"] for spec, _, _ in runs))
    title = title or " / ".join(envs)
    curves = [
        viz.Curve(label, algo, frames, table)
        for label, algo, (_, frames, table) in zip(labels, algos, runs, strict=True)
    ]
    fig = viz.compare_figure(curves, title, SCORE_AXIS)
    stem = out / slug(title)
    viz.write_html(fig, stem.with_suffix(".html"))
    viz.write_pngs({stem.with_suffix(".png"): fig})
    return stem.with_suffix(".html")


def unique(labels: list[str], dirs: list[Path]) -> list[str]:
    """Labels named twice get their run folder's spec name added."""
    counts = {label: labels.count(label) for label in labels}
    return [
        label if counts[label] == 1 else f"{label} ({read_run(d)[0]})"
        for label, d in zip(labels, dirs, strict=True)
    ]


def run_summary(run_dir: Path) -> dict:
    """One line of `plot-list`: trials, sessions finished, frames, score, status."""
    name, spec = read_run(run_dir)
    max_frame, n = spec["env"]["max_frame"], spec["meta"]["max_session"]
    ts = trials(run_dir, name) or [0]
    done, frame, scores = 0, 0, []
    for t in ts:
        paths = RunPaths(run_dir=run_dir, name=name, trial=t)
        done += sum(finished(paths, i, max_frame) for i in paths.sessions())
        tables = [read_table(paths.table(i)) for i in paths.sessions()]
        frame = max([frame, *(int(df["frame"].iloc[-1]) for df in tables if len(df))])
        if paths.trial_metrics_file.exists():
            scores.append(read_json(paths.trial_metrics_file).get("total_reward_ma"))
    total = n * len(ts)
    status = "finished" if done == total else ("unfinished" if frame else "empty")
    score = max((s for s in scores if s is not None and not math.isnan(s)), default=math.nan)
    return {
        "run": run_dir.name,
        "trials": len(ts),
        "sessions": f"{done}/{total}",
        "frames": f"{frame:,}/{max_frame:,}",
        "total_reward_ma": score,
        "status": status,
    }


def list_runs(root: Path) -> list[dict]:
    """Every run folder under root (enjoy folders left out), oldest first."""
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir() if p.is_dir() and is_run(p.name, None)]
    folders.sort(key=lambda p: (RUN_STAMP.search(p.name).group(), p.name))
    summaries = []
    for folder in folders:
        try:
            summaries.append(run_summary(folder))
        except SpecError as e:
            logger.warning(str(e))
    return summaries
