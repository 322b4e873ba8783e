"""The session table: the original lab's `t` and `grad_norm` columns, and tables written before
them still resume."""

import csv
import math
from pathlib import Path

import pytest
import torch

from slm_lab.agent import Agent
from slm_lab.experiment.loop import Clock
from slm_lab.experiment.records import ADDED, COLUMNS, Table
from slm_lab.experiment.session import make_env
from slm_lab.spec.validate import validate
from test.conftest import tiny_ppo


def tiny_agent(clip: float | None) -> Agent:
    raw = tiny_ppo()
    raw["agent"]["net"].update(hid_layers=[3], clip_grad_val=clip)
    spec, _ = validate(raw)
    return Agent(spec, make_env(spec, num_envs=1), Clock(100, 1))


@pytest.mark.parametrize("clip", [0.01, None])
def test_grad_norm_is_the_total_norm_before_clipping(clip: float | None):
    agent = tiny_agent(clip)
    params = [p for net in agent.nets.values() for p in net.parameters()]
    loss = sum(0.5 * (p**2).sum() for p in params)  # its gradient is p itself
    by_hand = math.sqrt(sum(float((p.detach() ** 2).sum()) for p in params))
    before = [p.detach().clone() for p in params]
    agent.algorithm.optimize(loss)
    assert agent.algorithm.grad_norm.dim() == 0
    assert agent.algorithm.grad_norm.item() == pytest.approx(by_hand, rel=1e-5)
    grads = torch.cat([p.grad.flatten() for p in params])
    if clip:  # the gradients were clipped after the norm was read: each net's to 0.01
        assert grads.norm().item() < 0.03 < by_hand
    else:
        assert grads.norm().item() == pytest.approx(by_hand, rel=1e-5)
    assert any(not torch.equal(a, b) for a, b in zip(params, before, strict=True))


def test_a_table_from_before_the_new_columns_resumes(tmp_path: Path):
    path = tmp_path / "table.csv"
    old = [c for c in COLUMNS if c not in ADDED]
    first = [str(i) for i in range(len(old))]  # frame 0
    later = ["500", *first[1:]]  # after the checkpoint's frame: redone by the resumed session
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([old, first, later])
    table = Table(path, upto=0)
    assert table.lines == [[*first, "nan", "nan"]]  # t and grad_norm are the last columns
    with path.open(newline="") as f:
        assert next(csv.reader(f)) == list(COLUMNS)  # rewritten with every column
