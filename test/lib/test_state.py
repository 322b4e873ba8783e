"""Resume state: snapshots survive torch.save/torch.load(weights_only=True) and restore exactly."""

import io
from collections import deque
from pathlib import Path

import numpy as np
import pytest
import torch

from slm_lab.agent.algorithm.base import MAX_NONFINITE, NonFiniteLoss
from slm_lab.agent.memory.onpolicy import OnPolicyReplay
from slm_lab.agent.memory.replay import PrioritizedReplay, Replay
from slm_lab.experiment import checkpoint
from slm_lab.lib.errors import DiskFull
from slm_lab.lib.state import Stateful, capture, restore
from test.agent.memory.test_replay import everything, layout, replay, step
from test.conftest import make_agent, tiny_ppo


def through_disk(obj: object) -> object:
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def test_plain_values_round_trip():
    rng = np.random.default_rng(3)
    value = {
        "a": np.arange(6, dtype=np.uint32).reshape(2, 3),
        "b": (1, 2.5, None, "x", True),
        "c": deque([np.ones(2, np.float32)], maxlen=4),
        "d": {np.int64(5): np.zeros(1, bool)},
        "rng": rng,
        "f": np.float32(0.5),
    }
    back = restore(None, through_disk(capture(value)))
    assert back["a"].dtype == np.uint32 and back["a"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert back["b"] == (1, 2.5, None, "x", True)
    assert isinstance(back["c"], deque) and back["c"][0].tolist() == [1.0, 1.0]
    assert back["d"][5].tolist() == [False]
    assert back["rng"].random() == rng.random()  # the generator continues where it was
    assert back["f"] == 0.5


def test_arrays_restore_in_place_so_views_stay_valid():
    class Box(Stateful):
        state_attrs = ("data",)

        def __init__(self) -> None:
            self.data = np.zeros((2, 2))
            self.view = self.data.reshape(4)

    box, saved = Box(), Box()
    saved.data[:] = 7
    box.load_state_dict(through_disk(saved.state_dict()))
    assert box.view.tolist() == [7, 7, 7, 7]
    bad = {"data": capture(np.zeros(3))}
    with pytest.raises(ValueError, match=r"Box.data: shape \(3,\) in the checkpoint"):
        box.load_state_dict(bad)


@pytest.mark.parametrize("cls", [Replay, PrioritizedReplay])
def test_replay_restores_to_identical_samples(cls):
    mem = replay(max_size=8, batch_size=4, cls=cls)
    for i in range(11):
        step(mem, float(i), trunc=i == 5, final=-1.0 if i == 5 else None)
    state = through_disk(mem.state_dict())
    fresh = replay(max_size=8, batch_size=4, cls=cls)
    fresh.load_state_dict(state)
    for key, value in everything(mem).items():
        np.testing.assert_array_equal(everything(fresh)[key], value)
    for a, b in zip(mem.sample().values(), fresh.sample().values(), strict=True):
        assert torch.equal(a, b)  # same sampling RNG, same priorities


def add_step(mem: OnPolicyReplay, i: float, done: bool) -> None:
    """One env step s=i -> s'=i+1 with reward 1, ending the episode when `done`."""
    obs, nxt = np.array([[i]], np.float32), np.array([[i + 1.0]], np.float32)
    mem.add(obs, np.array([1]), np.array([1.0]), nxt, np.array([done]), np.array([False]))


def test_on_policy_episodes_restore():
    mem = OnPolicyReplay({}, layout(num_envs=1, rollout=2))
    for i in range(3):
        add_step(mem, float(i), done=i == 1)
    fresh = OnPolicyReplay({}, layout(num_envs=1, rollout=2))
    fresh.load_state_dict(through_disk(mem.state_dict()))
    assert len(fresh.done) == 1 and len(fresh.running[0]) == 1
    for m in (mem, fresh):
        add_step(m, 9.0, done=True)
    for a, b in zip(mem.sample().values(), fresh.sample().values(), strict=True):
        assert torch.equal(a, b)


def test_algorithm_state_fits_only_the_same_nets(tmp_path):
    agent, env = make_agent(tiny_ppo())
    state = through_disk(agent.algorithm.state_dict())
    other, env2 = make_agent(tiny_ppo())
    other.algorithm.load_state_dict(state)
    for a, b in zip(
        agent.nets["actor"].parameters(), other.nets["actor"].parameters(), strict=True
    ):
        assert torch.equal(a, b)
    raw = tiny_ppo()
    raw["agent"]["net"]["hid_layers"] = [16]
    wider, env3 = make_agent(raw)
    path = tmp_path / "x_resume.pt"
    with pytest.raises(checkpoint.CheckpointError, match=r"x_resume\.pt: the algorithm does not"):
        checkpoint.load_into(wider.algorithm, state, path, "the algorithm")
    for e in (env, env2, env3):
        e.close()


def test_non_finite_loss_skips_updates_then_stops():
    agent, env = make_agent(tiny_ppo())
    algo = agent.algorithm
    before = [p.detach().clone() for p in algo.nets["actor"].parameters()]
    params = list(algo.nets["actor"].parameters())
    bad = params[0].sum() * float("nan")
    for _ in range(MAX_NONFINITE - 1):
        algo.optimize(bad)
    assert algo.nonfinite == MAX_NONFINITE - 1 and algo.opt_step == 0
    assert all(torch.equal(a, b) for a, b in zip(before, params, strict=True))  # untouched
    algo.optimize(params[0].sum())  # one finite loss resets the count
    assert algo.nonfinite == 0 and algo.opt_step == 1
    with pytest.raises(NonFiniteLoss, match=f"{MAX_NONFINITE} updates in a row"):
        for _ in range(MAX_NONFINITE):
            algo.optimize(params[0].sum() * float("inf"))
    env.close()


def sync_free(algo) -> None:
    """The accelerator's mode (no host read of the loss in a step), forced on the CPU."""
    algo.sync_free = True
    algo.streak, algo.skipped = torch.zeros(()), torch.zeros(())


def test_sync_free_skips_non_finite_steps_on_the_device_and_stops_at_a_log_row():
    agent, env = make_agent(tiny_ppo())
    algo = agent.algorithm
    sync_free(algo)
    params = list(algo.nets["actor"].parameters())
    algo.optimize(params[0].sum())  # a finite first step makes Adam's state
    optim = algo.optims[0]
    before = [p.detach().clone() for p in params]
    moments = {k: v.clone() for k, v in optim.state[params[0]].items()}
    for _ in range(MAX_NONFINITE - 1):
        algo.optimize(params[0].sum() * float("nan"))
    assert all(torch.equal(a, b) for a, b in zip(before, params, strict=True))  # untouched
    assert all(torch.equal(v, optim.state[params[0]][k]) for k, v in moments.items())
    algo.check_finite()  # one short of the limit: a warning, no stop
    assert algo.nonfinite == MAX_NONFINITE - 1 and algo.skipped.item() == 0
    algo.optimize(params[0].sum())  # a finite loss resets the run
    assert algo.streak.item() == 0 and not torch.equal(before[0], params[0])
    for _ in range(MAX_NONFINITE):
        algo.optimize(params[0].sum() * float("inf"))  # no host read: nothing raises here
    with pytest.raises(NonFiniteLoss, match=f"{MAX_NONFINITE} updates in a row"):
        algo.check_finite()
    env.close()


def test_garbage_file_is_a_clear_error(tmp_path):
    path = tmp_path / "a_resume.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(checkpoint.CheckpointError, match=r"a_resume.pt: unreadable"):
        checkpoint.load(path)
    checkpoint.save({"format": 99}, path)
    with pytest.raises(checkpoint.CheckpointError, match="not a resume checkpoint of format 1"):
        checkpoint.check(checkpoint.load(path), path)


def test_a_checkpoint_write_is_whole_or_absent_and_leaves_no_temp_file(tmp_path, monkeypatch):
    """The temp file is hidden while written (a push skips hidden files) and removed when the
    write fails; the previous file stays as it was."""
    path = tmp_path / "a_resume.pt"
    checkpoint.save({"frame": 1}, path)
    seen = []

    def failing_save(obj, tmp):
        seen.append(Path(tmp.name).name)
        tmp.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", failing_save)
    with pytest.raises(DiskFull, match=r"could not write .*a_resume\.pt"):
        checkpoint.save({"frame": 2}, path)
    assert seen == [".a_resume.pt.tmp"]
    assert [p.name for p in tmp_path.iterdir()] == ["a_resume.pt"]
    monkeypatch.undo()
    assert checkpoint.load(path) == {"frame": 1}
