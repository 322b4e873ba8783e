import pytest

from slm_lab.lib.schedule import Schedule
from slm_lab.spec.fields import Validator, check_schedule


def test_no_decay_and_default():
    spec = check_schedule({"name": "no_decay", "start_val": 0.3, "end_val": 0.0}, "s", Validator())
    assert Schedule(spec).value(10**6) == 0.3
    assert Schedule(None, default=0.0).value(5) == 0.0


def test_linear_decay_counts_frames():
    s = Schedule(
        {
            "name": "linear_decay",
            "start_val": 1.0,
            "end_val": 0.1,
            "start_step": 100,
            "end_step": 1100,
        }
    )
    assert [s.value(f) for f in (0, 100, 600, 1100, 5000)] == pytest.approx(
        [1.0, 1.0, 0.55, 0.1, 0.1]
    )


def test_rate_decay_floors_at_end_val():
    s = Schedule(
        {"name": "rate_decay", "start_val": 1.0, "end_val": 0.2, "start_step": 0, "end_step": 1000}
    )
    assert s.value(0) == 1.0
    assert s.value(50) == pytest.approx(0.9)  # one of 20 periods
    assert s.value(1000) == 0.2


def test_periodic_decay_restarts_inside_envelope():
    s = Schedule(
        {
            "name": "periodic_decay",
            "start_val": 1.0,
            "end_val": 0.0,
            "start_step": 0,
            "end_step": 2000,
        }
    )
    assert s.value(0) == pytest.approx(1.0)
    assert s.value(50) == pytest.approx(0.975 * 0.5)  # half way down the first period
    assert s.value(100) == pytest.approx(0.95)  # next period starts at the decayed envelope
    assert s.value(2000) == pytest.approx(0.0)
