"""The search block's samplers and their arguments, checked without torch or Ray (search mode
and run-remote both refuse a bad block before anything starts)."""

import copy

import pydash

from slm_lab.lib.errors import SpecError
from slm_lab.spec.validate import flatten_search

ARGS = {  # numeric samplers: the arguments they take
    "uniform": ("low", "high"),
    "loguniform": ("low", "high"),
    "quniform": ("low", "high", "q"),
    "qloguniform": ("low", "high", "q"),
    "randn": ("mean", "sd"),
    "randint": ("low", "high"),
    "qrandint": ("low", "high", "q"),
}


def search_entries(spec: dict) -> dict[str, tuple[str, list]]:
    """Dotted spec path -> (sampler, arguments), from the spec's search block."""
    entries = {}
    for key, args in flatten_search(spec.get("search") or {}).items():
        path, sampler = key.rsplit("__", 1)
        entries[path] = (sampler, args)
    return entries


def searched_keys(spec: dict) -> dict[str, str]:
    """Dotted spec path -> sampler."""
    return {path: sampler for path, (sampler, _) in search_entries(spec).items()}


def samplers(spec: dict) -> dict[str, tuple[str, list]]:
    """Dotted spec path -> (sampler, arguments); refused, by key path, where the path is not in
    the spec or the arguments cannot be sampled. Runs before Ray starts."""
    out = {}
    for path, (sampler, args) in search_entries(spec).items():
        where = f"search.{path}__{sampler}"
        if not pydash.has(spec, path):
            raise SpecError(f"{path} is not a key of this spec: set it in the spec first", where)
        if sampler in ARGS:
            check_numbers(sampler, args, where)
        out[path] = (sampler, args)
    if not out:
        raise SpecError("search mode needs a search block, e.g. agent.algorithm.gamma__uniform")
    return out


def check_numbers(sampler: str, args: list, where: str) -> None:
    names = ARGS[sampler]
    numbers = all(isinstance(a, int | float) and not isinstance(a, bool) for a in args)
    if len(args) != len(names) or not numbers:
        raise SpecError(f"{sampler} takes [{', '.join(names)}], got {args!r}", where)
    if sampler == "randn":
        if args[1] <= 0:
            raise SpecError(f"randn needs sd > 0, got {args[1]}", where)
        return
    low, high = args[0], args[1]
    if low >= high:
        raise SpecError(f"{sampler} needs low < high, got {args!r}", where)
    if "log" in sampler and low <= 0:
        raise SpecError(f"{sampler} needs low > 0, got {low}", where)
    if sampler.startswith("q") and args[2] <= 0:
        raise SpecError(f"{sampler} needs q > 0, got {args[2]}", where)
    if "randint" in sampler and not all(isinstance(a, int) for a in args):
        raise SpecError(f"{sampler} takes whole numbers, got {args!r}", where)


def trial_spec(spec: dict, config: dict) -> dict:
    """The experiment's spec with one trial's sampled values, without the search block."""
    out = copy.deepcopy(spec)
    for path, value in config.items():
        pydash.set_(out, path, value)
    out.pop("search", None)
    return out
