"""The house's layers, read from the source: imports only go down, and never in a circle.

    cli  >  experiment  >  agent, env  >  spec  >  lib

A module imports from its own layer or below (agent and env not from each other); the package
root (slm_lab/__init__.py: ROOT, the version) is below them all. Every import counts, those
inside functions too: a lazy import is still a dependency.
"""

import ast
from pathlib import Path

from test.conftest import REPO

PACKAGE = REPO / "slm_lab"
RANK = {"lib": 0, "spec": 1, "agent": 2, "env": 2, "experiment": 3, "cli": 4}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(path: Path) -> set[str]:
    """The lab modules a file imports (`from pkg import mod` counts as pkg.mod)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("slm_lab")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("slm_lab"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in MODULES else node.module)
    return found


GRAPH = {name: imports(path) for name, path in MODULES.items()}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None  # None: the package root


def test_every_module_is_in_a_layer():
    assert {layer(m) for m in MODULES} - {None} == set(RANK)


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a layer above, or beside (agent <-> env)."""
    found = []
    for module, deps in graph.items():
        for dep in deps:
            here, there = layer(module), layer(dep)
            if None in (here, there) or here == there:
                continue  # the package root, or the same layer
            if RANK[there] >= RANK[here]:
                found.append(f"{module} -> {dep}")
    return found


def cycle_from(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path of imports from `start` back to itself, if there is one."""
    stack, seen = [(start, [start])], set()
    while stack:
        module, path = stack.pop()
        for dep in graph.get(module, ()):
            if dep == start:
                return [*path, dep]
            if dep in graph and dep not in seen:
                seen.add(dep)
                stack.append((dep, [*path, dep]))
    return None


def test_imports_only_go_down():
    assert upward(GRAPH) == []


def test_no_import_cycles():
    assert [cycle for m in GRAPH if (cycle := cycle_from(GRAPH, m))] == []


def test_the_checks_see_a_planted_upward_import_and_cycle(tmp_path: Path):
    path = tmp_path / "planted.py"
    path.write_text("def f():\n    from slm_lab.experiment import analysis\n")
    planted = {
        "slm_lab.lib.planted": imports(path),
        "slm_lab.experiment.analysis": {"slm_lab.lib.planted"},
    }
    assert planted["slm_lab.lib.planted"] == {"slm_lab.experiment.analysis"}  # a lazy import
    assert upward(planted) == ["slm_lab.lib.planted -> slm_lab.experiment.analysis"]
    assert cycle_from(planted, "slm_lab.lib.planted") == [
        "slm_lab.lib.planted",
        "slm_lab.experiment.analysis",
        "slm_lab.lib.planted",
    ]


MAX_LINES = 450  # a module past this holds more than one job: split it by responsibility


def test_no_module_is_over_the_line_limit():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
