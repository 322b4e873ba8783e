"""Class lookup by the name written in a spec, with an error listing what exists."""

from slm_lab.spec.errors import SpecError


def lookup(registry: dict[str, type], name: str, kind: str, path: str) -> type:
    if name not in registry:
        raise SpecError(f"{kind} {name!r} is not available in this version", path, sorted(registry))
    return registry[name]
