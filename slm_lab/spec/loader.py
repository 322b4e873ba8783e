"""Read a spec file: find it, substitute -s variables, parse JSON/YAML, pick the spec, validate."""

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from slm_lab import ROOT
from slm_lab.lib.errors import SpecError
from slm_lab.spec.validate import validate

VAR = re.compile(r"\$\{([^}]+)\}")
SUFFIXES = (".json", ".yaml", ".yml")


@dataclass
class LoadedSpec:
    spec: dict
    file: Path
    name: str
    warnings: list[str] = field(default_factory=list)


class SciLoader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-3` and `4e6` as floats (YAML 1.1 wants `1.0e-3`)."""


SciLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def find_file(spec_file: str | Path) -> Path:
    """As given, else relative to the installed package (`slm_lab/spec/...` works anywhere)."""
    path = Path(spec_file)
    candidates = [path, ROOT.parent / path, ROOT / "spec" / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise SpecError(f"spec file not found: {spec_file}")


def plain_number(value: str) -> str | None:
    """`4e6` -> `4000000`, `1e-3` -> `0.001`; None when value is not a number."""
    try:
        num = Decimal(value.strip())
    except InvalidOperation:
        return None
    if not num.is_finite():
        return None
    if num == num.to_integral_value():
        return str(int(num))
    return format(num.normalize(), "f")


def parse_sets(sets: list[str] | None) -> dict[str, str]:
    out = {}
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"-s/--set expects key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def substitute(text: str, variables: dict[str, str]) -> str:
    """Replace ${key} before parsing; a quoted "${key}" becomes a bare number."""
    for key, value in variables.items():
        number = plain_number(value)
        if number is not None:
            for quote in ('"', "'"):
                text = text.replace(f"{quote}${{{key}}}{quote}", number)
        text = text.replace(f"${{{key}}}", number if number is not None else value)
    return text


def parse(text: str, file: Path) -> Any:
    suffix = file.suffix.lower()
    if suffix not in SUFFIXES:
        raise SpecError(f"unsupported spec file type {suffix!r}", "", SUFFIXES, file=str(file))
    try:
        if suffix == ".json":
            return json.loads(text)
        return yaml.load(text, Loader=SciLoader)
    except json.JSONDecodeError as e:
        raise SpecError(f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise SpecError(f"invalid YAML{where}: {problem}") from e


def spec_names(doc: Any) -> list[str]:
    return [k for k in doc if not str(k).startswith("_")] if isinstance(doc, dict) else []


def leftover_vars(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set().union(*(leftover_vars(v) for v in node.values()), set())
    if isinstance(node, list):
        return set().union(*(leftover_vars(v) for v in node), set())
    return set(VAR.findall(node)) if isinstance(node, str) else set()


def short_env(env_name: str) -> str:
    """`ALE/Pong-v5` -> `pong`, `HalfCheetah-v5` -> `halfcheetah`."""
    base = env_name.rsplit("/", 1)[-1]
    return re.sub(r"-v\d+$", "", base).replace("-", "_").lower()


def read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read the spec file: {e}") from e


def select(doc: Any, spec_name: str) -> dict:
    names = spec_names(doc)
    if not names:
        raise SpecError("the file holds no specs: its top level must map spec names to specs")
    if spec_name not in names:
        raise SpecError(f"spec {spec_name!r} is not in the file", "", names)
    return doc[spec_name]


def load_spec(
    spec_file: str | Path,
    spec_name: str,
    sets: list[str] | dict[str, str] | None = None,
    strict: bool = False,
) -> LoadedSpec:
    """The validated spec with defaults filled; SpecError names the file, spec and key path."""
    file = Path(spec_file)
    try:
        file = find_file(spec_file)
        variables = sets if isinstance(sets, dict) else parse_sets(sets)
        text = read_text(file)
        raw = select(parse(substitute(text, variables), file), spec_name)
        missing = leftover_vars(raw)
        if missing:
            flags = " ".join(f"-s {m}=..." for m in sorted(missing))
            raise SpecError(f"unset variables {', '.join(sorted(missing))}: pass {flags}")
        spec, warnings = validate(raw, strict=strict)
    except SpecError as e:
        raise e.locate(str(file), spec_name) from e.__cause__
    unused = [k for k in variables if f"${{{k}}}" not in text]
    warnings += [f"-s {k}: no ${{{k}}} in the file, ignored" for k in unused]
    name = spec_name
    if "env" in variables:
        name = f"{spec_name}_{short_env(variables['env'])}"
    spec["name"] = name
    return LoadedSpec(spec=spec, file=file, name=name, warnings=warnings)
