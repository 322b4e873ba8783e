"""Metrics against hand-computed series."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from slm_lab.experiment import analysis, compare
from slm_lab.lib import run_paths
from slm_lab.lib.run_paths import RunPaths

NAN = float("nan")


def table(rewards, frames=(100, 200, 300, 400), opt=(0, 10, 20, 30)) -> pd.DataFrame:
    ma = pd.Series(rewards).expanding().mean()
    return pd.DataFrame(
        {"frame": frames, "opt_step": opt, "total_reward": rewards, "total_reward_ma": ma}
    )


def test_session_metrics_skip_nan_before_first_episode():
    m = analysis.series_metrics(table([NAN, 10.0, 30.0, 20.0]), baseline=0.0)
    assert m["frame"] == 400 and m["total_reward_ma"] == 20.0
    assert (m["strength"], m["max_strength"], m["final_strength"]) == (20.0, 30.0, 20.0)
    assert m["sample_efficiency"] == pytest.approx((10 / 200 + 30 / 300 + 20 / 400) / 60)
    assert m["training_efficiency"] == pytest.approx((10 / 10 + 30 / 20 + 20 / 30) / 60)
    assert m["stability"] == pytest.approx(1 - 10 / 60)


def test_baseline_shifts_strength():
    m = analysis.series_metrics(table([NAN, 10.0, 30.0, 20.0]), baseline=5.0)
    assert m["strength"] == 15.0 and m["final_strength"] == 15.0


def test_one_checkpoint_and_constant_curve():
    one = analysis.series_metrics(table([7.0], frames=(500,), opt=(4,)), baseline=0.0)
    assert one["strength"] == 7.0 and one["stability"] == 1.0
    assert one["sample_efficiency"] == pytest.approx(1 / 500)
    flat = analysis.series_metrics(table([5.0] * 4), baseline=0.0)
    assert flat["stability"] == 1.0 and flat["strength"] == 5.0


def test_all_nan_gives_nan_metrics():
    m = analysis.series_metrics(table([NAN, NAN], frames=(1, 2), opt=(0, 0)), baseline=0.0)
    assert math.isnan(m["strength"]) and math.isnan(m["total_reward_ma"])


@pytest.mark.filterwarnings("error")
def test_a_trial_with_no_finished_episode_reads_nan_quietly():
    """A short run: no session finished an episode; NaN metrics, no numpy warning printed."""
    nans = table([NAN, NAN], frames=(1, 2), opt=(0, 0))
    m = analysis.trial_metrics([nans, nans.copy()], "NoBaseline-v0")
    assert math.isnan(m["total_reward_ma"]) and math.isnan(m["strength"])


def test_consistency():
    assert analysis.consistency(np.array([[10.0, 30.0], [30.0, 10.0]])) == 0.0
    assert analysis.consistency(np.array([[10.0, 10.0], [20.0, 20.0]])) == 1.0


def test_trial_metrics_mean_curve_and_session_mean_ma():
    a = table([NAN, 10.0, 30.0, 20.0])
    b = table([NAN, 30.0, 10.0, 20.0])
    m = analysis.trial_metrics([a, b], "NoBaseline-v0")
    assert m["total_reward_ma"] == pytest.approx(
        (a["total_reward_ma"].iloc[-1] + b["total_reward_ma"].iloc[-1]) / 2
    )
    assert m["strength"] == 20.0  # mean curve 20, 20, 20
    assert m["consistency"] == pytest.approx(1 - 2 * (10 + 10 + 0) / 60)


def test_fmt_metrics_line():
    line = analysis.fmt_metrics(
        {"frame": 2e5, "total_reward_ma": 498.944, "sample_efficiency": 1.5e-5}
    )
    assert line == "frame:2.00e+05 | total_reward_ma:498.94 | sample_efficiency:1.50e-05"


# run folders

SPEC = {
    "agent": {"algorithm": {"name": "PPO", "gamma": 0.99}, "net": {"optim_spec": {"lr": 1e-3}}},
    "env": {"name": "CartPole-v1", "max_frame": 400},
    "meta": {"max_session": 1, "rigorous_eval": 0},
    "search": {"agent": {"algorithm": {"gamma__uniform": [0.9, 0.99]}}},
}


def write_trial(run, t: int, gamma: float, lr: float, rewards: list[float] | None) -> None:
    """A trial's spec and, when rewards are given, its one session's tables and metrics."""
    spec = {**SPEC, "agent": {**SPEC["agent"], "algorithm": {"name": "PPO", "gamma": gamma}}}
    spec["agent"]["net"] = {"optim_spec": {"lr": lr}}
    (run / f"exp_t{t}_spec.json").write_text(json.dumps(spec))
    if rewards is None:
        return
    paths = RunPaths(run_dir=run, name="exp", trial=t)
    frames = [100 * (i + 1) for i in range(len(rewards))]
    df = table(rewards, frames=frames, opt=frames)
    paths.info_dir.mkdir(exist_ok=True)
    for kind in ("train", "eval"):
        df.to_csv(paths.table(0, kind), index=False)
    analysis.write_session_metrics(paths, spec, 0)
    analysis.write_trial_metrics(paths, spec, [0])


@pytest.fixture
def experiment(tmp_path):
    run = tmp_path / "exp_2026_11_26_120000"
    run.mkdir()
    search = {"agent": {"algorithm": {"gamma__uniform": [0.9, 0.99]}}}
    search["agent"]["net"] = {"optim_spec": {"lr__loguniform": [1e-4, 1e-2]}}
    (run / "exp_spec.json").write_text(json.dumps({**SPEC, "search": search}))
    write_trial(run, 0, 0.9, 1e-4, [10.0, 20.0, 30.0, 40.0])  # finished: frame 400
    write_trial(run, 1, 0.95, 1e-3, [5.0, 5.0])  # stopped early at frame 200
    write_trial(run, 2, 0.99, 1e-2, None)  # not started
    (run / "exp_best_spec.json").write_text(json.dumps({"exp": SPEC}))  # as a search ends
    return run


def test_a_finished_search_folder_reads_as_one_run(experiment):
    """Its best spec file is not a second run spec (plot, plot-list, analyze and push read it)."""
    name, spec = analysis.read_run(experiment)
    assert name == "exp" and "lr__loguniform" in json.dumps(spec["search"])
    summary = compare.run_summary(experiment)
    assert (summary["trials"], summary["sessions"]) == (3, "1/3")
    renamed = experiment.rename(experiment.parent / "my_search")  # no <name>_<time> to read
    assert analysis.read_run(renamed)[0] == "exp"


def test_a_spec_whose_name_ends_in_best_is_a_run_spec(tmp_path):
    for folder in ("ppo_lunar_best_2026_11_26_202158", "renamed"):
        run = tmp_path / folder
        run.mkdir()
        (run / "ppo_lunar_best_spec.json").write_text(json.dumps(SPEC))
        (run / "ppo_lunar_best_t0_spec.json").write_text(json.dumps(SPEC))
        assert analysis.read_run(run)[0] == "ppo_lunar_best"


def test_experiment_table_one_row_per_trial(experiment):
    df = analysis.write_experiment(
        experiment, "exp", json.loads((experiment / "exp_spec.json").read_text())
    )
    assert list(df.columns) == [
        "trial",
        "agent.algorithm.gamma",
        "agent.net.optim_spec.lr",
        "total_reward_ma",
        "strength",
        "frames",
        "status",
    ]
    assert df["status"].tolist() == ["finished", "stopped", "pending"]
    assert df["agent.net.optim_spec.lr"].tolist() == [1e-4, 1e-3, 1e-2]
    assert df["total_reward_ma"].iloc[0] == 25.0 and df["frames"].iloc[1] == 200
    assert math.isnan(df["total_reward_ma"].iloc[2])
    on_disk = pd.read_csv(experiment / "exp_experiment_df.csv")
    pd.testing.assert_frame_equal(on_disk, df, check_dtype=False)
    assert (experiment / "graph" / "exp_experiment_graph.html").is_file()


def test_analyze_an_experiment_folder(experiment):
    results = analysis.analyze(experiment)
    assert [r["frame"] for r in results] == [400, 200]  # the trial without tables is skipped
    assert (experiment / "exp_experiment_df.csv").is_file()
    assert compare.best_trial(experiment, "exp") == 0
    assert run_paths.trials(experiment, "exp") == [0, 1, 2]


def test_finished_means_the_metrics_reached_max_frame(experiment):
    done = RunPaths(run_dir=experiment, name="exp", trial=0)
    early = RunPaths(run_dir=experiment, name="exp", trial=1)
    assert analysis.finished(done, 0, 400) and not analysis.finished(early, 0, 400)
    assert not analysis.finished(done, 0, 401)  # a resume with a larger budget goes on
    assert not analysis.finished(done, 1, 400)  # no such session


def test_algorithm_labels():
    def spec(name, memory="Replay", distributed=False):
        return {
            "agent": {"algorithm": {"name": name}, "memory": {"name": memory}},
            "meta": {"distributed": distributed},
        }

    assert analysis.algo_label(spec("PPO")) == "PPO"
    assert analysis.algo_label(spec("ActorCritic")) == "A2C"
    assert analysis.algo_label(spec("ActorCritic", distributed="shared")) == "A3C"
    assert analysis.algo_label(spec("DoubleDQN", "PrioritizedReplay")) == "DDQN+PER"
    assert analysis.algo_label(spec("SoftActorCritic")) == "SAC"


def test_trial_metrics_use_the_rows_all_sessions_have():
    long = table([NAN, 10.0, 30.0, 20.0])
    short = table([NAN, 30.0], frames=(100, 200), opt=(0, 10))
    m = analysis.trial_metrics([long, short], "NoBaseline-v0")
    assert m["frame"] == 200 and m["strength"] == 20.0  # mean of 10 and 30 at frame 200
