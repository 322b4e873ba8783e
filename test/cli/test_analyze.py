"""Retro analysis, graphs, plot, plot-list and TensorBoard on real short runs through the CLI."""

import base64
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slm_lab.lib import viz
from test.conftest import PNG, run_cli, run_dirs, tiny_dqn, tiny_ppo, write_spec
from test.lib.test_viz import NEEDS_CHROME, png_size

pytestmark = pytest.mark.xdist_group("analyze")

SESSIONS = 2
GRAPH = "_multi_trial_graph_mean_returns_ma_vs_frames"  # the original's name of the plot graph
METRICS = "*_metrics_scalar.json"


def html_traces(path: Path) -> list[dict]:
    """The traces of a plotly page: the JSON array passed to Plotly.newPlot."""
    text = path.read_text()
    start = re.search(r'Plotly\.newPlot\(\s*"[^"]+",\s*', text)
    assert start, f"{path} holds no plot"
    traces, _ = json.JSONDecoder().raw_decode(text, start.end())
    return traces


def values(data: object) -> list:
    """A trace's array as a list (plotly writes numpy arrays as {dtype, bdata} in base64)."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)


def read_metrics(run: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(run.rglob(METRICS))}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Two finished seeded runs: PPO with 2 sessions, DDQN+PER with 1 (about 40 s: the tests on
    them are in the slow step)."""
    cwd = tmp_path_factory.mktemp("runs")
    specs = {
        "ppo": tiny_ppo(max_frame=3000, max_session=SESSIONS, random_seed=4),
        "dqn": tiny_dqn(max_frame=2000, random_seed=4),
    }
    path = write_spec(cwd, specs)
    out = {}
    for name in specs:
        result = run_cli("run", str(path), name, "train", cwd=cwd, **PNG)
        assert result.returncode == 0, result.stderr[-3000:]
        out[name] = next(r for r in run_dirs(cwd) if r.name.startswith(f"{name}_"))
    return out


@pytest.mark.slow
def test_a_run_leaves_graphs_of_its_sessions_and_trial(runs: dict[str, Path]):
    graph = runs["ppo"] / "graph"
    for stem in ("ppo_t0_s0_session_graph", "ppo_t0_s1_session_graph", "ppo_t0_trial_graph"):
        assert (graph / f"{stem}.html").is_file()
    assert (graph / viz.PLOTLY_JS).is_file()
    traces = html_traces(graph / "ppo_t0_trial_graph.html")
    for axis in ("y", "y2"):  # return and return MA: one trace per session, then the band
        names = [t["name"] for t in traces if t.get("yaxis", "y") == axis]
        assert [n.split(" ")[0] for n in names if n.startswith("s")] == ["s0", "s1"]
        assert names[-1] == "mean ± std"
    session = html_traces(graph / "ppo_t0_s0_session_graph.html")
    table = pd.read_csv(runs["ppo"] / "info" / "ppo_t0_s0_session_df_train.csv")
    assert session[0]["name"] == "return" and values(session[0]["x"]) == table["frame"].tolist()


@pytest.mark.slow
@NEEDS_CHROME
def test_pngs_at_the_end_of_sessions_and_trial(runs: dict[str, Path]):
    graph = runs["ppo"] / "graph"
    for s in range(SESSIONS):
        assert png_size(graph / f"ppo_t0_s{s}_session_graph.png") == (viz.WIDTH, 1440)
    assert png_size(graph / "ppo_t0_trial_graph.png") == (viz.WIDTH, viz.HEIGHT + 260)


@pytest.mark.slow
def test_analyze_rebuilds_the_stored_metrics_and_graphs(runs: dict[str, Path], tmp_path: Path):
    copy = tmp_path / runs["ppo"].name
    shutil.copytree(runs["ppo"], copy)
    stored = read_metrics(copy)
    assert len(stored) == SESSIONS + 1
    for path in copy.rglob(METRICS):
        path.unlink()
    shutil.rmtree(copy / "graph")
    result = run_cli("analyze", str(copy), cwd=tmp_path, **PNG)
    assert result.returncode == 0, result.stderr[-3000:]
    assert read_metrics(copy) == stored
    line = next(li for li in result.stderr.splitlines() if "trial_metrics:" in li)
    assert (
        f"total_reward_ma:{stored['ppo_t0_trial_metrics_scalar.json']['total_reward_ma']:.2f}"
        in line
    )
    names = {p.name for p in (copy / "graph").iterdir()}
    assert {"ppo_t0_trial_graph.html", "ppo_t0_s1_session_graph.html", viz.PLOTLY_JS} <= names
    if viz.find_chrome():
        assert png_size(copy / "graph" / "ppo_t0_trial_graph.png") == (viz.WIDTH, viz.HEIGHT + 260)


@pytest.mark.slow
def test_analyze_without_a_browser_says_how_to_get_one(runs: dict[str, Path], tmp_path: Path):
    copy = tmp_path / runs["dqn"].name
    shutil.copytree(runs["dqn"], copy)
    shutil.rmtree(copy / "graph")
    result = run_cli("analyze", str(copy), cwd=tmp_path, BROWSER_PATH=str(tmp_path / "x"), **PNG)
    assert result.returncode == 0, result.stderr[-3000:]
    skipped = [li for li in result.stderr.splitlines() if "PNG graphs skipped" in li]
    assert len(skipped) == 1 and "apt-get install chromium" in skipped[0]
    assert "Traceback" not in result.stderr
    names = sorted(p.name for p in (copy / "graph").iterdir())
    assert names == ["dqn_t0_s0_session_graph.html", "dqn_t0_trial_graph.html", viz.PLOTLY_JS]


def test_analyze_refuses_what_is_not_a_run(tmp_path: Path):
    result = run_cli("analyze", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert (
        result.returncode == 2
        and result.stderr.strip() == f"error: RUN_DIR: no run folder {tmp_path / 'nowhere'}"
    )
    result = run_cli("analyze", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "is not a run folder" in result.stderr


@pytest.mark.slow
def test_plot_two_runs_on_one_graph(runs: dict[str, Path], tmp_path: Path):
    folders = f"{runs['ppo']},{runs['dqn']}"
    args = ("plot", "-f", folders, "-t", "CartPole-v1 tiny", "-o", "out")
    result = run_cli(*args, cwd=tmp_path, **PNG)
    assert result.returncode == 0, result.stderr[-3000:]
    html = tmp_path / "out" / f"CartPole-v1_tiny{GRAPH}.html"
    means = [t for t in html_traces(html) if t.get("showlegend", True)]
    assert [(t["name"], t["line"]["color"]) for t in means] == [
        ("PPO", viz.COLORS["PPO"]),
        ("DDQN+PER", viz.COLORS["DDQN+PER"]),
    ]
    table = pd.read_csv(runs["dqn"] / "info" / "dqn_t0_s0_session_df_eval.csv")
    assert values(means[1]["x"]) == table["frame"].tolist()
    if viz.find_chrome():
        assert png_size(html.with_suffix(".png")) == (viz.WIDTH, viz.HEIGHT)
    result = run_cli("plot", "-f", folders, "-l", "mine,theirs", "-o", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    html = tmp_path / "out" / f"CartPole-v1{GRAPH}.html"
    means = [t for t in html_traces(html) if t.get("showlegend", True)]
    assert [(t["name"], t["line"]["color"]) for t in means] == [
        ("mine", viz.COLORS["PPO"]),  # legends rename; colors stay the algorithm's
        ("theirs", viz.COLORS["DDQN+PER"]),
    ]


@pytest.mark.slow
def test_plot_the_original_way(runs: dict[str, Path], tmp_path: Path):
    """Bare folder names in -d, --output, --no-legend: the original's command line."""
    data = tmp_path / "mine"
    for run in runs.values():
        shutil.copytree(run, data / run.name)
    folders = f"{runs['ppo'].name},{runs['dqn'].name}"
    args = ("plot", "-f", folders, "-d", "mine", "--output", "plots", "--no-legend")
    result = run_cli(*args, "-t", "ALE/Pong-v5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    html = tmp_path / "plots" / f"Pong-v5{GRAPH}.html"  # the title's last part, as the original
    assert result.stdout.strip().startswith(f"wrote {html.relative_to(tmp_path)}")
    text = html.read_text()
    start = re.search(r'Plotly\.newPlot\(\s*"[^"]+",\s*', text).end()
    _, end = json.JSONDecoder().raw_decode(text, start)
    layout, _ = json.JSONDecoder().raw_decode(text, text.index("{", end))
    assert layout["showlegend"] is False
    listed = run_cli("plot-list", "-d", "mine", cwd=tmp_path)
    assert listed.returncode == 0 and runs["dqn"].name in listed.stdout


@pytest.mark.slow
def test_plot_refusals_are_one_line(runs: dict[str, Path], tmp_path: Path):
    result = run_cli("plot", "-f", str(runs["ppo"]), "-l", "a,b", "-o", "out", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().endswith("2 legends for 1 folders")
    result = run_cli("plot", "-f", f"{runs['ppo']},missing", cwd=tmp_path)
    assert result.returncode == 2 and "error: -f: no run folder missing" in result.stderr
    result = run_cli("plot", "-f", "", cwd=tmp_path)  # an unset variable in a script
    assert result.returncode == 2
    assert result.stderr.strip() == "error: -f: no run folders given (an empty list)"
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_plot_list_tells_finished_from_unfinished(runs: dict[str, Path], tmp_path: Path):
    data = tmp_path / "data"
    for run in runs.values():
        shutil.copytree(run, data / run.name)
    unfinished = data / runs["ppo"].name
    (unfinished / "info" / "ppo_t0_s1_session_metrics_scalar.json").unlink()
    (data / "plots").mkdir()  # not a run: left out
    result = run_cli("plot-list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["run", "trials", "sessions", "frames", "total_reward_ma", "status"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows[runs["ppo"].name][:2] == ["1", "1/2"] and rows[runs["ppo"].name][-1] == "unfinished"
    assert rows[runs["dqn"].name][1:3] == ["1/1", "2,000/2,000"]
    assert rows[runs["dqn"].name][-1] == "finished"
    assert len(rows) == 2


@pytest.mark.slow
def test_tensorboard_scalars_read_back(runs: dict[str, Path]):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    table = pd.read_csv(runs["ppo"] / "info" / "ppo_t0_s0_session_df_train.csv")
    events = EventAccumulator(str(runs["ppo"] / "log" / "tensorboard" / "ppo_t0_s0"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert tags == {"return", "return_ma", "loss", "entropy", "lr", "fps"}  # PPO: no explore_var
    for tag, col in (("return", "total_reward"), ("loss", "loss"), ("lr", "lr")):
        logged = {e.step: e.value for e in events.Scalars(tag)}
        expected = {
            f: v for f, v in zip(table["frame"], table[col], strict=True) if math.isfinite(v)
        }
        assert list(logged) == list(expected)
        assert list(logged.values()) == pytest.approx(list(expected.values()), rel=1e-6)
    dqn = EventAccumulator(str(runs["dqn"] / "log" / "tensorboard" / "dqn_t0_s0"))
    dqn.Reload()
    assert "explore_var" in dqn.Tags()["scalars"] and "entropy" not in dqn.Tags()["scalars"]


def test_tensorboard_off_in_meta(tmp_path: Path):
    path = write_spec(tmp_path, {"ppo": tiny_ppo(max_frame=500, tensorboard=False)})
    result = run_cli("run", str(path), "ppo", "train", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (run,) = run_dirs(tmp_path)
    assert not (run / "log" / "tensorboard").exists()
    assert (run / "graph" / "ppo_t0_trial_graph.html").is_file()
