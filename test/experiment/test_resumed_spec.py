"""Resume compares the spec with the run's saved one: equal specs resume, changes are refused."""

import copy

import pytest
import torch

from slm_lab.agent.net.torcharc_net import TorchArcNet
from slm_lab.experiment.run import resumed_spec
from slm_lab.lib.errors import SpecError
from slm_lab.spec.validate import validate
from test.conftest import tiny_ppo

ARC = {
    "modules": {"body": {"Sequential": [{"LazyLinear": {"out_features": 16}}, {"Tanh": None}]}},
    "graph": {"input": "x", "modules": {"body": ["x"]}, "output": "body"},
}


def arc_spec() -> dict:
    raw = tiny_ppo()
    raw["agent"]["net"] = {"type": "TorchArcNet", "arc": copy.deepcopy(ARC)}
    return raw


def test_building_an_arc_net_leaves_the_spec_as_written():
    spec, _ = validate(arc_spec())
    net = TorchArcNet(spec["agent"]["net"], (4,), [2], [None])
    assert net(torch.zeros(3, 4)).shape == (3, 2)
    assert spec["agent"]["net"]["arc"] == ARC


def test_a_bare_module_saved_as_an_empty_mapping_still_resumes():
    spec, _ = validate(arc_spec())
    saved = copy.deepcopy(spec)
    saved["agent"]["net"]["arc"]["modules"]["body"]["Sequential"][1]["Tanh"] = {}  # older runs
    assert resumed_spec(spec, saved, force=False) is saved


def test_a_changed_arc_is_refused_without_force():
    spec, _ = validate(arc_spec())
    saved = copy.deepcopy(spec)
    saved["agent"]["net"]["arc"]["modules"]["body"]["Sequential"][0]["LazyLinear"] = {
        "out_features": 32
    }
    with pytest.raises(SpecError, match="differs from the run's saved spec"):
        resumed_spec(spec, saved, force=False)
