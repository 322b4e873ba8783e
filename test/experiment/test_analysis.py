"""Metrics against hand-computed series."""

import math

import numpy as np
import pandas as pd
import pytest

from slm_lab.experiment import analysis

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
