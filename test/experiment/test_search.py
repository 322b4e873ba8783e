"""The search block as a Tune space: samplers, refusals before Ray starts, trial specs."""

import signal
import threading
import time
from pathlib import Path

import pytest

from slm_lab.experiment import search
from slm_lab.experiment.interrupt import Interrupted
from slm_lab.lib.errors import SpecError
from slm_lab.spec import space
from test.conftest import tiny_ppo

pytestmark = pytest.mark.xdist_group("ray")


def spec_with(block: dict) -> dict:
    spec = tiny_ppo()
    spec["agent"]["algorithm"]["gamma"] = 0.99
    spec["search"] = block
    return spec


def test_samplers_by_path():
    found = search.samplers(
        spec_with(
            {
                "agent.algorithm.gamma__uniform": [0.9, 0.999],
                "agent.net.optim_spec.lr__loguniform": [1e-4, 1e-2],
                "agent.net.hid_layers__choice": [[32], [64, 64]],
                "env.num_envs__qrandint": [2, 8, 2],
            }
        )
    )
    assert found == {
        "agent.algorithm.gamma": ("uniform", [0.9, 0.999]),
        "agent.net.optim_spec.lr": ("loguniform", [1e-4, 1e-2]),
        "agent.net.hid_layers": ("choice", [[32], [64, 64]]),
        "env.num_envs": ("qrandint", [2, 8, 2]),
    }


@pytest.mark.parametrize(
    ("key", "args", "message"),
    [
        ("agent.algorithm.gama__uniform", [0.9, 0.99], "agent.algorithm.gama is not a key"),
        ("agent.algorithm.gamma__uniform", [0.99, 0.9], "uniform needs low < high"),
        ("agent.algorithm.gamma__uniform", [0.9], "uniform takes [low, high], got [0.9]"),
        ("agent.algorithm.gamma__uniform", [0.9, "x"], "uniform takes [low, high]"),
        ("agent.net.optim_spec.lr__loguniform", [0, 1e-3], "loguniform needs low > 0"),
        ("agent.net.optim_spec.lr__quniform", [0.1, 0.2, 0], "quniform needs q > 0"),
        ("env.num_envs__randint", [1.5, 8], "randint takes whole numbers"),
        ("agent.algorithm.gamma__randn", [0.9, 0], "randn needs sd > 0"),
    ],
)
def test_bad_search_blocks_are_refused_by_key_path(key, args, message):
    with pytest.raises(SpecError) as e:
        search.samplers(spec_with({key: args}))
    assert e.value.path == f"search.{key}" and message in str(e.value)


def test_no_search_block_is_refused():
    with pytest.raises(SpecError, match="search mode needs a search block"):
        search.samplers(tiny_ppo())


def test_optuna_only_for_the_samplers_it_takes():
    assert search.use_optuna({"a": ("uniform", [0, 1]), "b": ("choice", [1, "x", None])})
    assert not search.use_optuna({"a": ("grid_search", [1, 2])})
    assert not search.use_optuna({"a": ("randn", [0, 1])})
    assert not search.use_optuna({"a": ("choice", [[32], [64]])})  # lists: not Optuna choices


def test_trial_spec_takes_the_sampled_values():
    spec = spec_with({"agent.algorithm.gamma__uniform": [0.9, 0.999]})
    out = space.trial_spec(spec, {"agent.algorithm.gamma": 0.95, "agent.net.hid_layers": [8]})
    assert out["agent"]["algorithm"]["gamma"] == 0.95 and out["agent"]["net"]["hid_layers"] == [8]
    assert "search" not in out and spec["agent"]["algorithm"]["gamma"] == 0.99  # a copy


def test_claims_number_trials_in_start_order_and_find_their_own(tmp_path: Path):
    from slm_lab.experiment.tune_trial import claim_index

    assert claim_index(tmp_path, "a") == (0, False)
    assert claim_index(tmp_path, "b") == (1, False)
    assert claim_index(tmp_path, "a") == (0, True)  # a trial Tune restored: its sessions resume
    assert (tmp_path / "ray" / "trials" / "t1").read_text() == "b"


def test_a_signal_before_tune_runs_interrupts_at_once(tmp_path: Path):
    before = signal.getsignal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    with pytest.raises(Interrupted) as e, search.stopping(tmp_path) as received:
        signal.raise_signal(signal.SIGTERM)
    assert (e.value.signum, e.value.run_dir, e.value.mode) == (signal.SIGTERM, tmp_path, "search")
    assert received == [signal.SIGTERM] and (tmp_path / "ray" / "interrupted").is_file()
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_signal_while_tune_runs_asks_tune_to_stop_once(tmp_path: Path):
    """Tune's stop signal is SIGUSR1; a second Ctrl-C changes nothing."""
    asked: list[int] = []
    tune_handler = signal.signal(signal.SIGUSR1, lambda signum, frame: asked.append(signum))
    try:
        with search.stopping(tmp_path) as received:
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGUSR1, tune_handler)
    assert received == [signal.SIGINT] and asked == [signal.SIGUSR1]
    assert (tmp_path / "ray" / "interrupted").is_file()


def test_tune_stopping_a_trial_asks_its_sessions_to_stop_and_waits():
    from slm_lab.experiment import interrupt
    from slm_lab.experiment.tune_trial import LabTrial

    trial = LabTrial.__new__(LabTrial)  # no Tune actor: only the stop logic
    interrupt.clear()
    saved = threading.Event()

    def sessions() -> None:  # stand for the trial: stop when asked, after saving
        while not interrupt.requested():
            time.sleep(0.01)
        saved.set()

    trial.thread = threading.Thread(target=sessions)
    trial.thread.start()
    trial.cleanup()
    assert interrupt.requested() == signal.SIGTERM and saved.is_set()
    assert not trial.thread.is_alive()
    interrupt.clear()
