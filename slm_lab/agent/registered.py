"""The class a spec names: its registration (slm_lab/spec/registry.py) says which module of
slm_lab.agent.<family> holds it. Validation has already refused names that are not registered."""

import importlib

from slm_lab.spec import registry

FAMILIES = {"algorithm": registry.ALGORITHMS, "net": registry.NETS, "memory": registry.MEMORIES}


def registered_class(family: str, name: str) -> type:
    """`family`: algorithm, net or memory."""
    module = importlib.import_module(f"slm_lab.agent.{family}.{FAMILIES[family][name].module}")
    return getattr(module, name)
