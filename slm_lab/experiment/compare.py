"""Runs side by side and at a glance, from their folders alone (torch-free): one graph of
several runs' scores (`slm-lab plot`), the list of local runs (`slm-lab plot-list`), and the
README card a run folder gets on the Hub."""

import math
import re
from pathlib import Path

import numpy as np
from loguru import logger

from slm_lab.experiment.analysis import (
    algo_label,
    common_rows,
    finished,
    read_json,
    read_run,
    read_table,
    session_frames,
)
from slm_lab.lib import viz
from slm_lab.lib.errors import LabError, UsageError
from slm_lab.lib.run_paths import RUN_STAMP, RunPaths, is_run, trials

SCORE_AXIS = "return MA (mean of the last 100 checkpoints)"
MULTI_TRIAL_GRAPH = "_multi_trial_graph_mean_returns_ma_vs_frames"  # the original's graph name


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
    """A run's spec, frames, and total_reward_ma per log row (rows) and session (columns):
    its finished sessions, or all of them when none finished."""
    name, spec = read_run(run_dir, "-f")
    paths = RunPaths(run_dir=run_dir, name=name, trial=best_trial(run_dir, name))
    sessions = paths.sessions()
    if not sessions:
        raise UsageError(f"{run_dir} holds no session table yet", "-f")
    done = [i for i in sessions if finished(paths, i, session_frames(spec))]
    sessions = done or sessions  # a run cut short by crashed sessions shows the whole curves
    dfs = common_rows([read_table(paths.table(i)) for i in sessions])
    table = np.column_stack([df["total_reward_ma"].to_numpy(dtype=float) for df in dfs])
    return spec, dfs[0]["frame"].to_numpy(), table


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "plot"


def plot(
    dirs: list[Path],
    title: str | None,
    legends: list[str] | None,
    out: Path,
    showlegend: bool = True,
) -> Path:
    """One graph of several runs' scores (mean ± std over sessions), one color per algorithm
    (legends only rename), under the original lab's name for it. Returns the HTML path (the PNG
    is beside it when a Chrome is found)."""
    if not dirs:
        raise UsageError("no run folders given (an empty list)", "-f")
    if legends and len(legends) != len(dirs):
        raise UsageError(f"{len(legends)} legends for {len(dirs)} folders", "-l")
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
    fig.update_layout(showlegend=showlegend)
    stem = out / f"{slug(Path(title).name)}{MULTI_TRIAL_GRAPH}"  # ALE/Pong-v5: Pong-v5
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
    max_frame, n = session_frames(spec), spec["meta"]["max_session"]
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
        except LabError as e:
            logger.warning(str(e))
    return summaries


def card(run_dir: Path) -> str:
    """The folder's README: what ran, its score, the command that reproduces it, its graph."""
    name, spec = read_run(run_dir)
    summary = run_summary(run_dir)
    env = spec["env"]["name"]
    algo = algo_label(spec)
    score = summary["total_reward_ma"]
    shown = "n/a" if math.isnan(score) else f"{score:.2f}"
    trial = best_trial(run_dir, name) if summary["trials"] > 1 else 0
    graph = RunPaths(run_dir=run_dir, name=name, trial=trial).trial_graph("png").with_suffix("")
    spec_file = spec["meta"].get("spec_file") or f"{name}_spec.json"
    mode = "search" if "search" in spec else "train"
    lines = [
        "---",
        f"tags: [reinforcement-learning, slm-lab, {algo.lower().replace(' ', '-')}]",
        "---",
        f"# {run_dir.name}",
        "",
        f"[SLM Lab](https://github.com/kengz/SLM-Lab) {mode} run of spec `{name}`: {algo} on "
        f"`{env}`.",
        "",
        "| total_reward_ma | frames | trials | sessions finished | status |",
        "|---|---|---|---|---|",
        f"| {shown} | {summary['frames']} | {summary['trials']} | {summary['sessions']} | "
        f"{summary['status']} |",
        "",
        "Reproduce (the spec as it ran, seeds included, is `" + f"{name}_spec.json` here):",
        "",
        "```bash",
        f"slm-lab run {spec_file} {name} {mode}",
        "```",
    ]
    if graph.with_suffix(".png").is_file():
        lines += ["", f"![{name}](graph/{graph.name}.png)"]
    elif graph.with_suffix(".html").is_file():
        lines += ["", f"[Trial graph](graph/{graph.name}.html) (interactive HTML)"]
    return "\n".join(lines) + "\n"
