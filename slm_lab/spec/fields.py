"""Type checks of single spec keys: coerce numbers, check ranges and names, warn about unknown
keys (errors with --strict). validate.py applies them section by section."""

import math
from typing import Any

from slm_lab.lib.errors import SpecError, suggest, unknown_name
from slm_lab.spec import schema as S

LABELS = {
    "agent.algorithm.name": "algorithm",
    "agent.net.type": "net type",
    "agent.critic_net.type": "net type",
    "agent.memory.name": "memory",
    "env.vectorization_mode": "vectorization mode",
    "meta.distributed": "distributed mode",
}


class Validator:
    """Walks one spec; unknown keys become warnings (errors when strict)."""

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.warnings: list[str] = []

    def warn(self, path: str, problem: str) -> None:
        if self.strict:
            raise SpecError(f"{problem} (--strict)", path)
        self.warnings.append(f"{path}: {problem}")

    def unknown_key(self, path: str, key: str, known: list[str]) -> None:
        hint = suggest(key, known)
        tail = f"; did you mean {hint}?" if hint else ""
        self.warn(path, f"unknown key, ignored{tail}")


def type_error(path: str, want: str, value: Any) -> SpecError:
    return SpecError(f"expected {want}, got {value!r} ({type(value).__name__})", path)


def to_int(value: Any, path: str) -> int:
    if isinstance(value, bool):
        raise type_error(path, "an integer", value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    raise type_error(path, "an integer", value)


def to_float(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise type_error(path, "a number", value)
    if not math.isfinite(value):
        raise SpecError(f"must be finite, got {value}", path)
    return float(value)


def to_bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise type_error(path, "true or false", value)


def check_bounds(value: float, field: S.Field, path: str) -> None:
    if field.low is not None and value < field.low:
        raise SpecError(f"must be >= {field.low}, got {value}", path)
    if field.high is not None and value > field.high:
        raise SpecError(f"must be <= {field.high}, got {value}", path)
    if field.above is not None and value <= field.above:
        raise SpecError(f"must be > {field.above}, got {value}", path)


def check_named(value: Any, field: S.Field, path: str) -> dict:
    if not isinstance(value, dict):
        raise type_error(path, f"a {{name: ...}} {field.named_kind} spec", value)
    if "name" not in value:
        raise SpecError(f"missing required key 'name' of the {field.named_kind}", path, field.named)
    if field.refused and isinstance(value["name"], str) and value["name"] in field.refused:
        reason = field.refused[value["name"]]
        raise SpecError(f"{value['name']} {reason}", f"{path}.name", field.named)
    if value["name"] not in field.named:
        raise unknown_name(field.named_kind, value["name"], f"{path}.name", field.named)
    return dict(value)


def check_value(value: Any, field: S.Field, path: str, v: Validator) -> Any:
    if value is None:
        if field.nullable or field.kind == "any":
            return None
        raise SpecError("must not be null", path)
    match field.kind:
        case "int":
            value = to_int(value, path)
        case "float":
            value = to_float(value, path)
        case "bool":
            value = to_bool(value, path)
        case "str" if not isinstance(value, str):
            raise type_error(path, "a string", value)
        case "int_list":
            if not isinstance(value, list):
                raise type_error(path, "a list of integers", value)
            value = [to_int(x, f"{path}[{i}]") for i, x in enumerate(value)]
            for i, width in enumerate(value):
                if width < 1:
                    raise SpecError(f"layer widths must be >= 1, got {width}", f"{path}[{i}]")
        case "list" if not isinstance(value, list):
            raise type_error(path, "a list", value)
        case "dict" if not isinstance(value, dict):
            raise type_error(path, "a mapping", value)
        case "schedule":
            value = check_schedule(value, path, v)
        case "named":
            value = check_named(value, field, path)
    if field.choices is not None and value not in field.choices:
        raise unknown_name(LABELS.get(path, "value"), value, path, field.choices)
    if field.kind in ("int", "float"):
        check_bounds(value, field, path)
    return value


def check_section(
    section: dict, fields: dict[str, S.Field], path: str, v: Validator, known: tuple = ()
) -> dict:
    """Validate the keys of one mapping; unknown keys warn and are kept as written."""
    out = {}
    for key, value in section.items():
        kpath = f"{path}.{key}" if path else key
        field = fields.get(key) or _prefixed(key, fields, path)
        if field is not None:
            out[key] = check_value(value, field, kpath, v)
            continue
        if key not in known:
            v.unknown_key(kpath, key, [*fields, *known])
        out[key] = value
    return out


def _prefixed(key: str, fields: dict[str, S.Field], path: str) -> S.Field | None:
    """`actor_optim_spec` is checked as `optim_spec` in net sections."""
    if not path.endswith("net"):
        return None
    for prefix in S.NET_PREFIXES:
        if key.startswith(prefix) and key.removeprefix(prefix) in fields:
            return fields[key.removeprefix(prefix)]
    return None


def check_schedule(value: Any, path: str, v: Validator) -> dict:
    if not isinstance(value, dict):
        raise type_error(path, "a schedule {name, start_val, end_val, start_step, end_step}", value)
    for key in ("name", "start_val"):
        if key not in value:
            raise SpecError(f"missing required key '{key}' of the schedule", path)
    out = {**S.SCHEDULE_DEFAULTS, **check_section(value, S.SCHEDULE_FIELDS, path, v)}
    if out.get("end_val") is None:
        out["end_val"] = out["start_val"]
    if out["name"] != "no_decay" and out["end_step"] < out["start_step"]:
        raise SpecError(
            f"end_step {out['end_step']} is before start_step {out['start_step']}", path
        )
    return out


def require(section: dict, keys: tuple, path: str) -> None:
    for key in keys:
        if key not in section:
            raise SpecError(f"missing required key '{key}'", path)
