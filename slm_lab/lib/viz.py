"""Graphs of sessions, trials, experiments and comparisons of runs, with plotly.

HTML always (plotly.js written once per folder beside the pages, so they open without a
network); PNG through kaleido when a Chrome or Chromium is found, else one line that says how to
get one. Figures take tables already read and aligned; they never read run folders themselves.
"""

import hashlib
import os
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from loguru import logger
from plotly.subplots import make_subplots

from slm_lab.lib.errors import DiskFull
from slm_lab.lib.util import FILE_MODE, disk_free, no_space, write_atomic

PLOTLY_JS = "plotly.min.js"
PNG_SWITCH = (
    "SLM_LAB_PNG"  # set to 0: no PNG export (HTML only; `slm-lab analyze` draws them later)
)
WIDTH = 960
PANEL_HEIGHT = 260  # per stacked panel of a session graph
HEIGHT = 540  # trial, comparison and experiment graphs
EXP_COLS = 3  # experiment graph: panels per row
BAND_ALPHA = 0.2
SESSION_OPACITY = 0.65  # thin per-session lines under the trial mean
FONT = {"family": "Arial, sans-serif", "size": 14}
MISSING_CHROME = (
    "PNG graphs skipped: kaleido needs Chrome or Chromium (Debian/Ubuntu: apt-get install "
    "chromium; elsewhere: plotly_get_chrome); the HTML graphs are written"
)
# one color per algorithm, the same in every graph (other names get a stable one from PALETTE)
COLORS = {
    "PPO": "#1f77b4",
    "A2C": "#ff7f0e",
    "A3C": "#bcbd22",
    "SAC": "#2ca02c",
    "DQN": "#d62728",
    "DDQN": "#9467bd",
    "DDQN+PER": "#8c564b",
    "REINFORCE": "#e377c2",
    "SARSA": "#7f7f7f",
    "CrossQ": "#17becf",
    "PPO+SIL": "#393b79",
    "A2C+SIL": "#e6550d",
    "Random": "#aaaaaa",
}
DASHES = ("solid", "dash", "dot", "dashdot")  # runs of one algorithm in a comparison
PALETTE = ("#637939", "#843c39", "#7b4173", "#3182bd", "#31a354", "#756bb1", "#636363")
SESSION_PANELS = (  # (axis title, columns); panels whose columns hold no number are left out
    ("return", ("total_reward", "total_reward_ma")),
    ("loss", ("loss",)),
    ("entropy, explore_var", ("entropy", "explore_var")),
    ("learning rate", ("lr",)),
    ("frames/s", ("fps",)),
)
TRACE_NAMES = {"total_reward": "return", "total_reward_ma": "return MA"}


def color(label: str) -> str:
    """The fixed color of an algorithm label; a stable palette pick for any other label."""
    if label in COLORS:
        return COLORS[label]
    digest = int(hashlib.md5(label.encode()).hexdigest(), 16)
    return PALETTE[digest % len(PALETTE)]


def rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.5},
        font=FONT,
        width=WIDTH,
        height=height,
        template="plotly_white",
        legend={"yanchor": "top", "y": 1, "x": 1.02},
        margin={"t": 70, "l": 80, "r": 30, "b": 60},
    )
    return fig


def has_numbers(series: pd.Series) -> bool:
    return bool(pd.to_numeric(series, errors="coerce").notna().any())


def session_figure(train: pd.DataFrame, evals: pd.DataFrame | None, title: str) -> go.Figure:
    """Stacked panels against frames: return and its moving average (train, and eval when it is
    a separate table), loss, entropy or explore_var, learning rate, frames/s."""
    panels = [
        (name, [c for c in cols if c in train and has_numbers(train[c])])
        for name, cols in SESSION_PANELS
    ]
    panels = [(name, cols) for name, cols in panels if cols or name == "return"]
    fig = make_subplots(
        rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.04 + 0.04 / len(panels)
    )
    for row, (name, cols) in enumerate(panels, start=1):
        for col in cols:
            label = TRACE_NAMES.get(col, col)
            line = {"width": 2.5 if col == "total_reward_ma" else 1.5}
            fig.add_scatter(
                x=train["frame"], y=train[col], name=label, mode="lines", line=line, row=row, col=1
            )
        if name == "return" and evals is not None:
            for col in ("total_reward", "total_reward_ma"):
                fig.add_scatter(
                    x=evals["frame"],
                    y=evals[col],
                    name=f"eval {TRACE_NAMES[col]}",
                    mode="lines",
                    line={"dash": "dot", "width": 2},
                    row=row,
                    col=1,
                )
        fig.update_yaxes(title_text=name, row=row, col=1)
    fig.update_xaxes(title_text="frames", row=len(panels), col=1)
    return layout(fig, title, PANEL_HEIGHT * len(panels) + 140)


def nan_stats(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of each row over its numbers (NaN where a row has none)."""
    valid = ~np.isnan(curves)
    count = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid, curves, 0.0).sum(axis=1) / count
        var = np.where(valid, (curves - mean[:, None]) ** 2, 0.0).sum(axis=1) / count
    return mean, np.sqrt(var)


def band(
    x: np.ndarray,
    curves: np.ndarray,
    name: str,
    hue: str,
    group: str,
    legend: bool = True,
    dash: str = "solid",
) -> list[go.Scatter]:
    """Mean over the columns of `curves` (one per session) with a shaded mean ± std band."""
    mean, std = nan_stats(curves)
    edge = {"width": 0}
    fill = rgba(hue, BAND_ALPHA)
    common = {"x": x, "mode": "lines", "legendgroup": group, "hoverinfo": "skip"}
    return [
        go.Scatter(y=mean + std, line=edge, showlegend=False, name=f"{name} +std", **common),
        go.Scatter(
            y=mean - std,
            line=edge,
            fill="tonexty",
            fillcolor=fill,
            showlegend=False,
            name=f"{name} -std",
            **common,
        ),
        go.Scatter(
            x=x,
            y=mean,
            mode="lines",
            name=name,
            line={"color": hue, "width": 3, "dash": dash},
            legendgroup=group,
            showlegend=legend,
        ),
    ]


def trial_figure(frames: np.ndarray, sessions: dict[str, pd.DataFrame], title: str) -> go.Figure:
    """Return and return MA against frames: one thin trace per session, their mean and a
    mean ± std band. Tables are aligned row by row (same length, same frames)."""
    hue = COLORS["PPO"]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    for row, col in enumerate(("total_reward", "total_reward_ma"), start=1):
        first = row == 1
        for i, (label, df) in enumerate(sessions.items()):
            fig.add_scatter(
                x=frames,
                y=df[col],
                name=label,
                mode="lines",
                line={"width": 1, "color": PALETTE[i % len(PALETTE)]},
                opacity=SESSION_OPACITY,
                legendgroup=label,
                showlegend=first,
                row=row,
                col=1,
            )
        curves = np.column_stack([df[col].to_numpy(dtype=float) for df in sessions.values()])
        for trace in band(frames, curves, "mean ± std", hue, "mean", legend=first):
            fig.add_trace(trace, row=row, col=1)
        fig.update_yaxes(title_text=TRACE_NAMES[col], row=row, col=1)
    fig.update_xaxes(title_text="frames", row=2, col=1)
    return layout(fig, title, HEIGHT + 260)


@dataclass(frozen=True)
class Curve:
    """One run in a comparison: its legend, algorithm, frames and scores (rows x sessions)."""

    label: str
    algo: str
    frames: np.ndarray
    table: np.ndarray


def compare_figure(curves: list[Curve], title: str, ylabel: str) -> go.Figure:
    """One mean ± std band per run, colored by algorithm; a second run of the same algorithm
    keeps the color with another dash."""
    fig = go.Figure()
    seen: dict[str, int] = {}
    for c in curves:
        dash = DASHES[seen.get(c.algo, 0) % len(DASHES)]
        seen[c.algo] = seen.get(c.algo, 0) + 1
        for trace in band(c.frames, c.table, c.label, color(c.algo), c.label, dash=dash):
            fig.add_trace(trace)
    fig.update_xaxes(title_text="frames")
    fig.update_yaxes(title_text=ylabel)
    return layout(fig, title, HEIGHT)


def experiment_figure(df: pd.DataFrame, keys: list[str], log_keys: set[str], title: str):
    """Each searched value against total_reward_ma, one panel per key, colored by strength;
    trials that did not finish are drawn as crosses."""
    rows = max(1, -(-len(keys) // EXP_COLS))
    cols = min(EXP_COLS, max(1, len(keys)))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=keys or ["(no searched key)"])
    symbols = np.where(df["status"] == "finished", "circle", "x")
    strength = pd.to_numeric(df["strength"], errors="coerce")
    for i, key in enumerate(keys):
        row, col = i // EXP_COLS + 1, i % EXP_COLS + 1
        fig.add_scatter(
            x=df[key],
            y=df["total_reward_ma"],
            mode="markers",
            name=key,
            text=[f"trial {t}, {s}" for t, s in zip(df["trial"], df["status"], strict=True)],
            marker={
                "size": 11,
                "symbol": symbols,
                "color": strength,
                "colorscale": "Viridis",
                "showscale": i == 0,
                "colorbar": {"title": {"text": "strength"}},
                "line": {"width": 1, "color": "#333"},
            },
            showlegend=False,
            row=row,
            col=col,
        )
        fig.update_xaxes(title_text=key.rsplit(".", 1)[-1], row=row, col=col)
        if key in log_keys:
            fig.update_xaxes(type="log", dtick=1, exponentformat="e", row=row, col=col)
        if col == 1:
            fig.update_yaxes(title_text="total_reward_ma", row=row, col=col)
    fig.add_annotation(
        text="● finished   ✕ stopped early or unfinished",
        xref="paper",
        yref="paper",
        x=0,
        y=0,
        yshift=-75,
        showarrow=False,
        xanchor="left",
        yanchor="top",
    )
    fig = layout(fig, title, max(HEIGHT, 380 * rows + 120))
    return fig.update_layout(margin={"b": 100})


def write_html(fig: go.Figure, path: Path) -> None:
    """The page, atomically, referring to the folder's one copy of plotly.js."""
    bundle = path.parent / PLOTLY_JS
    if not bundle.exists():
        from plotly.offline import get_plotlyjs

        write_atomic(bundle, get_plotlyjs())
    write_atomic(path, fig.to_html(include_plotlyjs="directory", full_html=True))


def find_chrome() -> str | None:
    """The Chrome or Chromium kaleido would drive (its own download, BROWSER_PATH or PATH)."""
    from choreographer.browsers.chromium import Chromium

    path = Chromium.find_browser(skip_local=False)
    return path if path and os.access(path, os.X_OK) else None


def write_pngs(figs: dict[Path, go.Figure]) -> bool:
    """All the images in one browser start (about 2 s); False, with one line, when no PNG
    could be written. Each file appears whole or not at all."""
    if not figs or os.environ.get(PNG_SWITCH) == "0":
        return not figs
    if find_chrome() is None:
        note_missing_chrome()
        return False
    import plotly.io as pio

    tmps: list[str] = []
    try:
        for path in figs:
            tmps.append(tmp_png(path))
        sizes = [(fig.layout.width, fig.layout.height) for fig in figs.values()]
        width, height = ([w for w, _ in sizes], [h for _, h in sizes])
        pio.write_images(list(figs.values()), tmps, width=width, height=height)
    except Exception as e:  # a browser that fails to start must not stop the run
        for tmp in tmps:
            Path(tmp).unlink(missing_ok=True)
        if no_space(e):  # a full disk does: nothing more can be written
            path = next(iter(figs))
            raise DiskFull(path, disk_free(path.parent)) from e
        reason = next(iter(str(e).strip().splitlines()), type(e).__name__)
        logger.warning(f"PNG graphs not written: kaleido failed: {reason}")
        return False
    for tmp, path in zip(tmps, figs, strict=True):
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    return True


@cache
def note_missing_chrome() -> None:
    """Said once per process."""
    logger.warning(MISSING_CHROME)


def tmp_png(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(fd)
    return tmp
