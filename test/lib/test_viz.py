"""Figures (traces, panels, colors), HTML pages and PNG export with and without a browser."""

import os
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from loguru import logger

from slm_lab.lib import viz

NAN = float("nan")
NEEDS_CHROME = pytest.mark.skipif(
    viz.find_chrome() is None and not os.environ.get("SLM_LAB_REQUIRE_CHROME"),
    reason="no Chrome or Chromium here (CI installs chromium and sets SLM_LAB_REQUIRE_CHROME)",
)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's signature and IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def curve() -> viz.Curve:
    return viz.Curve("PPO", "PPO", np.arange(3), np.ones((3, 2)))


def table(rows: int = 4, **cols) -> pd.DataFrame:
    base = {
        "frame": [500 * (i + 1) for i in range(rows)],
        "total_reward": [NAN, *range(1, rows)],
        "total_reward_ma": [NAN, *range(1, rows)],
        "loss": [0.5] * rows,
        "lr": [1e-3] * rows,
        "entropy": [0.6] * rows,
        "explore_var": [NAN] * rows,
        "fps": [1000.0] * rows,
    }
    return pd.DataFrame({**base, **cols})


@pytest.fixture
def warnings() -> list[str]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    yield lines
    logger.remove(sink)


def panels(fig) -> list[str]:
    return [fig.layout[k].title.text for k in sorted(fig.layout) if k.startswith("yaxis")]


def test_session_figure_leaves_out_empty_panels():
    fig = viz.session_figure(table(), None, "s0")
    assert panels(fig) == ["return", "loss", "entropy, explore_var", "learning rate", "frames/s"]
    names = [t.name for t in fig.data]
    assert names == ["return", "return MA", "loss", "entropy", "lr", "fps"]  # explore_var: NaN
    dqn = table(entropy=[NAN] * 4, explore_var=[1.0, 0.8, 0.5, 0.1], loss=[NAN] * 4)
    fig = viz.session_figure(dqn, table(), "s0")
    assert panels(fig) == ["return", "entropy, explore_var", "learning rate", "frames/s"]
    assert [t.name for t in fig.data][:4] == [
        "return",
        "return MA",
        "eval return",
        "eval return MA",
    ]
    assert fig.layout.xaxis4.title.text == "frames"


def test_trial_figure_one_trace_per_session_and_a_band():
    sessions = {"s0": table(), "s1": table(total_reward=[NAN, 3.0, 5.0, 7.0])}
    fig = viz.trial_figure(sessions["s0"]["frame"].to_numpy(), sessions, "trial")
    for axis in ("y", "y2"):  # the return panel and the return MA panel
        traces = [t for t in fig.data if t.yaxis == axis]
        assert [t.name for t in traces if t.name.startswith("s")] == ["s0", "s1"]
        lower, mean = traces[-2:]
        assert lower.fill == "tonexty" and mean.name == "mean ± std"
    mean = [t for t in fig.data if t.yaxis == "y"][-1]
    np.testing.assert_allclose(mean.y[1:], [2.0, 3.5, 5.0])  # (1+3)/2, (2+5)/2, (3+7)/2
    assert sum(t.showlegend is not False for t in fig.data) == 3  # s0, s1, mean: once each


def test_band_is_mean_plus_minus_std():
    upper, lower, mean = viz.band(
        np.array([1, 2]), np.array([[0.0, 2.0], [1.0, 1.0]]), "m", "#000000", "g"
    )
    np.testing.assert_allclose(mean.y, [1.0, 1.0])
    np.testing.assert_allclose(upper.y, [2.0, 1.0])
    np.testing.assert_allclose(lower.y, [0.0, 1.0])


def test_colors_are_fixed_per_algorithm():
    assert viz.color("PPO") == viz.COLORS["PPO"] != viz.color("SAC")
    assert viz.color("MyAlgo") == viz.color("MyAlgo") in viz.PALETTE
    x = np.arange(3)
    curves = [
        viz.Curve("PPO", "PPO", x, np.ones((3, 2))),
        viz.Curve("SAC", "SAC", x, np.zeros((3, 1))),
        viz.Curve("PPO (RNN)", "PPO", x, np.ones((3, 2))),
    ]
    means = [t for t in viz.compare_figure(curves, "t", "y").data if t.showlegend is not False]
    assert [(t.name, t.line.color, t.line.dash) for t in means] == [
        ("PPO", viz.COLORS["PPO"], "solid"),
        ("SAC", viz.COLORS["SAC"], "solid"),
        ("PPO (RNN)", viz.COLORS["PPO"], "dash"),  # same algorithm: same color, other dash
    ]


def test_experiment_figure_panels_log_axes_and_markers():
    df = pd.DataFrame(
        {
            "trial": [0, 1, 2],
            "agent.net.optim_spec.lr": [1e-4, 1e-3, 1e-2],
            "agent.algorithm.gamma": [0.9, 0.95, 0.99],
            "total_reward_ma": [10.0, 50.0, 30.0],
            "strength": [1.0, 41.0, 21.0],
            "frames": [1000, 1000, 400],
            "status": ["finished", "finished", "stopped"],
        }
    )
    keys = ["agent.net.optim_spec.lr", "agent.algorithm.gamma"]
    fig = viz.experiment_figure(df, keys, {"agent.net.optim_spec.lr"}, "exp")
    assert len(fig.data) == 2 and fig.layout.xaxis.type == "log" and fig.layout.xaxis2.type is None
    assert list(fig.data[0].marker.symbol) == ["circle", "circle", "x"]
    assert list(fig.data[0].marker.color) == [1.0, 41.0, 21.0]
    assert fig.layout.xaxis.title.text == "lr"


def test_html_pages_share_one_plotly_js(tmp_path: Path):
    fig = viz.session_figure(table(), None, "s0")
    viz.write_html(fig, tmp_path / "a.html")
    viz.write_html(fig, tmp_path / "b.html")
    bundle = tmp_path / viz.PLOTLY_JS
    assert bundle.stat().st_size > 1_000_000  # plotly.js itself, written once
    for page in ("a.html", "b.html"):
        html = (tmp_path / page).read_text()
        assert 'src="plotly.min.js"' in html and len(html) < 100_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "b.html", viz.PLOTLY_JS]


@NEEDS_CHROME
def test_pngs_are_images_of_the_figure_size(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(viz.PNG_SWITCH, "1")
    figs = {
        tmp_path / "session.png": viz.session_figure(table(), None, "s0"),
        tmp_path / "cmp.png": viz.compare_figure([curve()], "t", "y"),
    }
    assert viz.write_pngs(figs)
    assert png_size(tmp_path / "session.png") == (viz.WIDTH, 5 * viz.PANEL_HEIGHT + 140)
    assert png_size(tmp_path / "cmp.png") == (viz.WIDTH, viz.HEIGHT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cmp.png", "session.png"]


def test_png_switch_off_writes_html_only(tmp_path, monkeypatch, warnings):
    monkeypatch.setenv(viz.PNG_SWITCH, "0")
    fig = viz.compare_figure([curve()], "t", "y")
    assert viz.write_pngs({tmp_path / "a.png": fig}) is False
    assert viz.write_pngs({}) is True
    assert warnings == [] and list(tmp_path.iterdir()) == []


def test_no_browser_says_so_once_and_writes_nothing(tmp_path, monkeypatch, warnings):
    monkeypatch.setenv(viz.PNG_SWITCH, "1")
    monkeypatch.setattr(viz, "find_chrome", lambda: None)
    viz.note_missing_chrome.cache_clear()
    fig = viz.compare_figure([curve()], "t", "y")
    assert viz.write_pngs({tmp_path / "a.png": fig}) is False
    assert viz.write_pngs({tmp_path / "b.png": fig}) is False
    assert warnings == [viz.MISSING_CHROME]
    assert "apt-get install chromium" in viz.MISSING_CHROME
    assert list(tmp_path.iterdir()) == []
    viz.note_missing_chrome.cache_clear()


def test_a_failing_browser_leaves_no_partial_file(tmp_path, monkeypatch, warnings):
    import plotly.io as pio

    monkeypatch.setenv(viz.PNG_SWITCH, "1")

    def crash(*args, **kwargs):
        raise RuntimeError("Chromium exited\nwith more detail")

    monkeypatch.setattr(viz, "find_chrome", lambda: "/usr/bin/chromium")
    monkeypatch.setattr(pio, "write_images", crash)
    fig = viz.compare_figure([curve()], "t", "y")
    assert viz.write_pngs({tmp_path / "a.png": fig}) is False
    assert warnings == ["PNG graphs not written: kaleido failed: Chromium exited"]
    assert list(tmp_path.iterdir()) == []
