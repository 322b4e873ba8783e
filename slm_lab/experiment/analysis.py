"""Metrics of sessions and trials, computed from the session tables on disk (SPEC.md, "The score").

strength_i = total_reward_i - random-policy mean return; rows before the first finished episode
(total_reward NaN) are left out of every metric.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd

from slm_lab.env.baseline import random_return

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
    rows = min(len(df) for df in dfs)
    dfs = [df.iloc[:rows].reset_index(drop=True) for df in dfs]
    mean_df = sum(dfs) / len(dfs)
    baseline = random_return(env_name)
    metrics = series_metrics(mean_df, baseline)
    metrics["total_reward_ma"] = float(np.nanmean([df["total_reward_ma"].iloc[-1] for df in dfs]))
    table = np.stack([df["total_reward"].to_numpy(dtype=float) - baseline for df in dfs], axis=1)
    table = table[~np.isnan(table).any(axis=1)]
    metrics["consistency"] = consistency(table) if len(table) else float("nan")
    return metrics


def read_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)


def fmt_metrics(metrics: dict[str, float]) -> str:
    """`frame:2.00e+05 | total_reward_ma:498.94 | ...`, the line benchmark scripts grep for."""

    def fmt(key: str, value: float) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "nan"
        return f"{value:.2e}" if key in SCI_KEYS else f"{value:.2f}"

    return " | ".join(f"{k}:{fmt(k, metrics[k])}" for k in TRIAL_KEYS if k in metrics)
