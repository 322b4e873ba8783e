"""Metrics and graphs of sessions, trials and experiments, from the files of a run folder
(SPEC.md, "The score"). Everything here works from disk alone, without torch, so `slm-lab
analyze DIR` rebuilds a finished or interrupted run's metrics and graphs (retro analysis).

strength_i = total_reward_i - random-policy mean return; rows before the first finished episode
(total_reward NaN) are left out of every metric.
"""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pydash
from loguru import logger

from slm_lab.env.baseline import random_return
from slm_lab.lib import viz
from slm_lab.lib.errors import UsageError
from slm_lab.lib.run_paths import (
    RunPaths,
    experiment_graph,
    experiment_table,
    run_spec_file,
    trials,
)
from slm_lab.lib.util import write_atomic, write_json
from slm_lab.spec import registry
from slm_lab.spec.space import searched_keys

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
METRIC = "total_reward_ma"  # the score: of a trial, and what a search compares trials on
TIME_ATTR = "frame"  # the clock a search's scheduler stops trials by


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


def running_efficiency(strengths: np.ndarray, clock: np.ndarray) -> np.ndarray:
    """efficiency over the first i checkpoints, for every i (the original's local series)."""
    keep = clock > 0
    per = np.where(keep, strengths / np.where(keep, clock, 1.0), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.cumsum(per) / np.cumsum(np.where(keep, strengths, 0.0))


def running_stability(strengths: np.ndarray) -> np.ndarray:
    """1 - |drop to the next checkpoint / strength| at each checkpoint but the last."""
    drops = np.minimum(np.diff(strengths), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - np.abs(drops / strengths[:-1])


def local_series(df: pd.DataFrame, baseline: float) -> dict[str, np.ndarray]:
    """A session's metric series by checkpoint, named as in the original's metrics files."""
    returns = df["total_reward"].to_numpy(dtype=float)
    s = returns - baseline
    return {
        "mean_returns": returns,
        "strengths": s,
        "sample_efficiencies": running_efficiency(s, df["frame"].to_numpy(dtype=float)),
        "training_efficiencies": running_efficiency(s, df["opt_step"].to_numpy(dtype=float)),
        "stabilities": running_stability(s),
    }


def jsonable(values: np.ndarray) -> list[float | None]:
    """A series as a JSON list, NaN and infinities as null."""
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def trial_series(dfs: list[pd.DataFrame], env_name: str) -> dict[str, list]:
    """The original's `local` trial metrics: per session, the series of local_series; across
    sessions, consistency at each checkpoint; frames and opt_steps of the first session."""
    dfs = common_rows(dfs)
    baseline = random_return(env_name)
    per = [local_series(df, baseline) for df in dfs]
    table = np.stack([p["strengths"] for p in per], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        consistencies = 1.0 - 2.0 * table.std(axis=1) / table.mean(axis=1)
    local = {key: [jsonable(p[key]) for p in per] for key in per[0]}
    return {
        **local,
        "consistencies": jsonable(consistencies),
        "frames": jsonable(dfs[0]["frame"]),
        "opt_steps": jsonable(dfs[0]["opt_step"]),
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
    last = np.array([df["total_reward_ma"].iloc[-1] for df in dfs], dtype=float)
    finished = last[~np.isnan(last)]  # sessions that finished an episode
    metrics["total_reward_ma"] = float(finished.mean()) if len(finished) else float("nan")
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


LOG_SAMPLERS = ("loguniform", "qloguniform")


def read_json(path: Path, key: str = "RUN_DIR") -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {path}: {e}", key) from None


def session_frames(spec: dict) -> int:
    """The frames a session runs: `env.max_frame`, or, in a distributed (A3C, DPPO, async SAC)
    trial whose sessions train the same global nets, its share `max_frame / max_session`, as the
    original lab splits it."""
    max_frame, meta = spec["env"]["max_frame"], spec["meta"]
    distributed = meta.get("distributed")  # a spec read back from a run folder may predate the key
    return int(max_frame / meta["max_session"]) if distributed else max_frame


def finished(paths: RunPaths, session: int, max_frame: int) -> bool:
    """The session ran to max_frame (its metrics file says so; analyze writes metrics of
    unfinished sessions too)."""
    path = paths.metrics_file(session)
    return path.exists() and read_json(path).get("frame", 0) >= max_frame


def algo_label(spec: dict) -> str:
    """A short algorithm name for legends: A2C, A3C, SAC, DDQN+PER, ..."""
    label = registry.label(spec["agent"]["algorithm"]["name"])
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
    dfs = [read_table(paths.table(i)) for i in sessions]
    metrics = trial_metrics(dfs, spec["env"]["name"])
    metrics["sessions"] = len(sessions)  # of max_session: the others failed or were stopped
    metrics["max_session"] = spec["meta"]["max_session"]
    write_json(paths.trial_metrics_file, metrics)
    local = trial_series(dfs, spec["env"]["name"])
    write_json(paths.trial_series_file, {"scalar": metrics, "local": local})
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
        raise UsageError(f"no run folder {run_dir}", key)
    spec_file = run_spec_file(run_dir)
    if spec_file is None:
        problem = f"{run_dir} is not a run folder: it holds no single <name>_spec.json"
        raise UsageError(problem, key)
    return spec_file.name.removesuffix("_spec.json"), read_json(spec_file, key)


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


def experiment_columns(keys: list[str]) -> list[str]:
    return ["trial", *keys, "total_reward_ma", "strength", "frames", "status"]


def trial_status(paths: RunPaths, spec: dict, metrics: dict) -> str:
    """pending (no table), unfinished (no trial metrics), stopped (early), finished."""
    sessions = paths.sessions()
    if not metrics:
        return "unfinished" if sessions else "pending"
    max_frame = session_frames(spec)
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
    write_atomic(experiment_table(run_dir, name), df.to_csv(index=False))
    keys = searched_keys(spec)
    log_keys = {k for k, sampler in keys.items() if sampler in LOG_SAMPLERS}
    title = f"{name} | {spec['env']['name']} | {algo_label(spec)} | {len(df)} trials"
    fig = viz.experiment_figure(df, list(keys), log_keys, title)
    stem = experiment_graph(run_dir, name)
    viz.write_html(fig, stem.with_suffix(".html"))
    viz.write_pngs({stem.with_suffix(".png"): fig})
    return df
