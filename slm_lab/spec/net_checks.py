"""Checks of net keys that hold more than one value: HydraMLPNet's layer layout, and the named
losses and LR schedulers with their arguments (validate.py applies them to each net section)."""

from slm_lab.lib.errors import SpecError, unknown_name
from slm_lab.spec import names
from slm_lab.spec import schema as S
from slm_lab.spec.fields import Validator, check_value, to_float, to_int, type_error

HYDRA_PARTS = 3  # HydraMLPNet's hid_layers: heads, body, tails


def check_hydra_layers(layers: object, path: str) -> list:
    """[[head widths], body widths, [tail widths, ...]]: one head (an agent has one env), a
    non-empty body, and tails that each start at the body's last width."""
    shape = "[[head widths], body widths, [tail widths per output]], e.g. [[[64]], [64], []]"
    if not (isinstance(layers, list) and len(layers) == HYDRA_PARTS):
        raise type_error(path, shape, layers)
    heads, body, tails = layers
    if not isinstance(heads, list) or len(heads) != 1:
        raise SpecError(
            f"one head per input, and an agent here has one (its env's observation): "
            f"give one head, e.g. [[64]]; got {heads!r}",
            f"{path}[0]",
        )
    head = widths(heads[0], f"{path}[0][0]")
    body = widths(body, f"{path}[1]")
    if not isinstance(tails, list):
        raise type_error(f"{path}[2]", "a list of tails (lists of widths)", tails)
    tails = [widths(t, f"{path}[2][{i}]") for i, t in enumerate(tails)]
    for i, tail in enumerate(tails):
        if tail[0] != body[-1]:
            raise SpecError(
                f"a tail starts at the body's last width ({body[-1]}), as the original lab "
                f"reads it: [{body[-1]}, ...]; got {tail}",
                f"{path}[2][{i}]",
            )
    return [[head], body, tails]


def widths(value: object, path: str) -> list[int]:
    """A non-empty list of layer widths."""
    if not isinstance(value, list) or not value:
        raise type_error(path, "a non-empty list of layer widths", value)
    out = [to_int(x, f"{path}[{i}]") for i, x in enumerate(value)]
    for i, width in enumerate(out):
        if width < 1:
            raise SpecError(f"layer widths must be >= 1, got {width}", f"{path}[{i}]")
    return out


def check_args(spec: dict, args: tuple[str, ...], path: str) -> None:
    """A torch class's arguments: one it does not take would change the run, so it is refused."""
    for key in spec:
        if key != "name" and key not in args:
            raise unknown_name(f"argument of {spec['name']}", key, f"{path}.{key}", args)


def check_loss(spec: dict, path: str, v: Validator) -> None:
    if "reduction" in spec:
        v.warn(
            f"{path}.reduction", "ignored: the lab reduces losses itself (per element, then a mean)"
        )
        spec = {k: x for k, x in spec.items() if k != "reduction"}
    check_args(spec, names.LOSS_ARGS[spec["name"]], path)


def check_lr_scheduler(spec: dict | None, path: str, v: Validator) -> None:
    """Its arguments; LinearToZero's and LinearToMin's values; the schedulers that SequentialLR
    and ChainedScheduler combine, each a scheduler spec."""
    if not spec:
        return
    args = names.LR_SCHEDULER_ARGS[spec["name"]]
    if spec["name"] not in names.LAB_LR_SCHEDULERS:
        check_args(spec, args, path)
        if spec["name"] in names.NESTED_LR_SCHEDULERS:
            check_nested_schedulers(spec, f"{path}.schedulers", v)
        return
    for key in spec:  # the original lab read only these: others warn, as unknown keys do
        if key != "name" and key not in args:
            v.unknown_key(f"{path}.{key}", key, list(args))
    frame = to_float(spec.get("frame"), f"{path}.frame")
    if frame <= 0:
        raise SpecError(f"{spec['name']} needs frame > 0, got {frame:g}", f"{path}.frame")
    if "min_factor" in spec:
        min_factor = to_float(spec["min_factor"], f"{path}.min_factor")
        if not 0 <= min_factor <= 1:
            raise SpecError(
                f"min_factor must be in [0, 1], got {min_factor:g}", f"{path}.min_factor"
            )


def check_nested_schedulers(spec: dict, path: str, v: Validator) -> None:
    nested = spec.get("schedulers")
    if not isinstance(nested, list) or not nested:
        raise type_error(path, "a non-empty list of lr scheduler specs", nested)
    for i, entry in enumerate(nested):
        where = f"{path}[{i}]"
        if entry is None:
            raise SpecError("must not be null", where)
        nested[i] = check_value(entry, S.LR_SCHEDULER, where, v)
        check_lr_scheduler(nested[i], where, v)
