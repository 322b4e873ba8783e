"""Every registration (spec/registry.py) names a class of its family, with the cadence it says."""

import inspect

import pytest
from torch import nn

from slm_lab.agent.algorithm.base import Algorithm, OffPolicy, OnPolicy
from slm_lab.agent.registered import registered_class
from slm_lab.spec import names, registry


@pytest.mark.parametrize("name", list(registry.ALGORITHMS))
def test_every_algorithm_is_a_class_with_its_registered_cadence(name: str):
    cls = registered_class("algorithm", name)
    assert inspect.isclass(cls) and issubclass(cls, Algorithm) and cls.__name__ == name
    cadence = registry.ALGORITHMS[name].cadence
    assert issubclass(cls, OnPolicy) == (cadence == registry.ON_POLICY)
    assert issubclass(cls, OffPolicy) == (cadence == registry.OFF_POLICY)
    assert cls.learns == (cadence != registry.NO_LEARNING)


@pytest.mark.parametrize("name", list(registry.NETS))
def test_every_net_is_a_module(name: str):
    cls = registered_class("net", name)
    assert issubclass(cls, nn.Module) and cls.__name__ == name
    assert ("Dueling" in name) == registry.NETS[name].dueling


@pytest.mark.parametrize("name", list(registry.MEMORIES))
def test_every_memory_stores_and_samples(name: str):
    cls = registered_class("memory", name)
    assert callable(cls.add) and callable(cls.sample) and cls.__name__ == name
    assert isinstance(cls.size, property)  # what it holds, for the algorithm's cadence
    if not registry.MEMORIES[name].on_policy:
        assert cls.prioritized == (name == "PrioritizedReplay")


@pytest.mark.parametrize("name", list(registry.ARC_MODULES))
def test_every_arc_module_is_a_module_torcharc_finds(name: str):
    from slm_lab.agent.net.torcharc_net import register_arc_modules

    register_arc_modules()
    register_arc_modules()  # idempotent
    module = f"slm_lab.agent.net.{registry.ARC_MODULES[name]}"
    cls = getattr(nn, name)
    assert issubclass(cls, nn.Module) and cls.__name__ == name and cls.__module__ == module


def test_the_spec_names_are_the_registrations():
    assert tuple(registry.ALGORITHMS) == names.ALGORITHMS
    assert tuple(registry.NETS) == names.NETS
    assert tuple(registry.MEMORIES) == names.MEMORIES
    for entry in registry.ALGORITHMS.values():
        assert entry.memories is None or set(entry.memories) <= set(registry.MEMORIES)


def test_labels_come_from_the_registration():
    assert registry.label("ActorCritic") == "A2C" and registry.label("SoftActorCritic") == "SAC"
    assert registry.label("MyAlgorithm") == "MyAlgorithm"  # a folder of an unknown one
