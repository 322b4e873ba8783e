"""Check a parsed spec against the schema, coerce numbers, fill defaults, collect warnings."""

import copy
import math
from typing import Any

from slm_lab.spec import names
from slm_lab.spec import schema as S
from slm_lab.spec.errors import SpecError, suggest, unknown_name

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


def _type_error(path: str, want: str, value: Any) -> SpecError:
    return SpecError(f"expected {want}, got {value!r} ({type(value).__name__})", path)


def to_int(value: Any, path: str) -> int:
    if isinstance(value, bool):
        raise _type_error(path, "an integer", value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    raise _type_error(path, "an integer", value)


def to_float(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error(path, "a number", value)
    if not math.isfinite(value):
        raise SpecError(f"must be finite, got {value}", path)
    return float(value)


def to_bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _type_error(path, "true or false", value)


def check_bounds(value: float, field: S.Field, path: str) -> None:
    if field.low is not None and value < field.low:
        raise SpecError(f"must be >= {field.low}, got {value}", path)
    if field.high is not None and value > field.high:
        raise SpecError(f"must be <= {field.high}, got {value}", path)
    if field.above is not None and value <= field.above:
        raise SpecError(f"must be > {field.above}, got {value}", path)


def check_named(value: Any, field: S.Field, path: str) -> dict:
    if not isinstance(value, dict):
        raise _type_error(path, f"a {{name: ...}} {field.named_kind} spec", value)
    if "name" not in value:
        raise SpecError(f"missing required key 'name' of the {field.named_kind}", path, field.named)
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
            raise _type_error(path, "a string", value)
        case "int_list":
            if not isinstance(value, list):
                raise _type_error(path, "a list of integers", value)
            value = [to_int(x, f"{path}[{i}]") for i, x in enumerate(value)]
            for i, width in enumerate(value):
                if width < 1:
                    raise SpecError(f"layer widths must be >= 1, got {width}", f"{path}[{i}]")
        case "list" if not isinstance(value, list):
            raise _type_error(path, "a list", value)
        case "dict" if not isinstance(value, dict):
            raise _type_error(path, "a mapping", value)
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
        raise _type_error(
            path, "a schedule {name, start_val, end_val, start_step, end_step}", value
        )
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


def unwrap_legacy(spec: dict, v: Validator) -> dict:
    """Accept the pre-v5 layout: one-element lists for agent/env, and a `body` key."""
    spec = dict(spec)
    for key in ("agent", "env"):
        value = spec.get(key)
        if isinstance(value, list) and len(value) == 1:
            v.warn(key, f"a one-element list is the old format; write {key} as a mapping")
            spec[key] = value[0]
    if "body" in spec:
        v.warn("body", "the body key is no longer used; delete it")
        del spec["body"]
    return spec


def check_agent(agent: dict, env: dict, v: Validator) -> dict:
    agent = check_section(agent, S.AGENT_FIELDS, "agent", v)
    require(agent, S.REQUIRED_AGENT, "agent")
    algo = check_algorithm(agent["algorithm"], v)
    agent["algorithm"] = algo
    agent.setdefault("name", algo["name"])
    agent["memory"] = check_memory(agent["memory"], algo["name"], v)
    algo_net = S.ALGORITHM_NET_DEFAULTS.get(algo["name"], {})
    agent["net"] = check_net(agent["net"], "agent.net", v, algo_net)
    if agent.get("critic_net") is not None:
        agent["critic_net"] = check_net(agent["critic_net"], "agent.critic_net", v, algo_net)
    check_batching(algo, env)
    check_dueling(algo["name"], agent["net"]["type"])
    return agent


def check_dueling(algo_name: str, net_type: str) -> None:
    if net_type in S.DUELING_NETS and algo_name not in S.Q_LEARNERS:
        allowed = [n for n in names.NETS if n not in S.DUELING_NETS]
        raise SpecError(
            f"{net_type} outputs Q-values: use it with SARSA or the DQN family, not {algo_name}",
            "agent.net.type",
            allowed,
        )


def check_algorithm(algo: dict, v: Validator) -> dict:
    path = "agent.algorithm"
    require(algo, ("name",), path)
    algo = check_section(algo, S.ALGORITHM_FIELDS, path, v)
    return {**S.ALGORITHM_DEFAULTS[algo["name"]], **algo}


def check_memory(memory: dict, algo_name: str, v: Validator) -> dict:
    path = "agent.memory"
    require(memory, ("name",), path)
    memory = check_section(memory, S.MEMORY_FIELDS, path, v)
    allowed = S.ALGORITHM_MEMORIES.get(algo_name)
    if allowed and memory["name"] not in allowed:
        raise SpecError(f"{algo_name} cannot learn from {memory['name']}", f"{path}.name", allowed)
    return {**S.MEMORY_DEFAULTS[memory["name"]], **memory}


def check_net(net: dict, path: str, v: Validator, algo_defaults: dict | None = None) -> dict:
    require(net, ("type",), path)
    net = check_section(net, S.NET_FIELDS, path, v)
    net["gpu"] = check_gpu(net.get("gpu", "auto"), f"{path}.gpu")
    check_activations(net.get("out_layer_activation"), f"{path}.out_layer_activation")
    out = {
        **S.NET_DEFAULTS,
        **(algo_defaults or {}),
        **copy.deepcopy(S.NET_TYPE_DEFAULTS[net["type"]]),
        **net,
    }
    has_optim = any(f"{p}optim_spec" in net for p in ("", *S.NET_PREFIXES))
    if not has_optim:
        out["optim_spec"] = dict(S.DEFAULT_OPTIM)
    one_optim = out["shared"] or out["use_same_optim"]
    if one_optim and "optim_spec" not in out:
        raise SpecError(
            "a shared net, or use_same_optim, trains with one optimizer: give optim_spec",
            f"{path}.optim_spec",
        )
    if net["type"] == "TorchArcNet" and not any(
        net.get(k) for k in ("arc", "arc_file", "actor_arc", "critic_arc")
    ):
        raise SpecError("TorchArcNet needs an arc block or an arc_file", path)
    return out


def check_gpu(gpu: Any, path: str) -> str | bool:
    """`auto`, true or false; 0 and 1 (old files) mean false and true."""
    if gpu == "auto" or isinstance(gpu, bool):
        return gpu
    if isinstance(gpu, int | float) and gpu in (0, 1):
        return bool(gpu)
    raise SpecError(f"unknown gpu setting {gpu!r}", path, S.GPU_VALUES)


def check_activations(value: object, path: str) -> None:
    """out_layer_activation: null, an activation name, or a list of them (one per head)."""
    allowed = (None, *names.ACTIVATIONS)
    for i, name in enumerate(value if isinstance(value, list) else [value]):
        if not (name is None or (isinstance(name, str) and name.lower() in names.ACTIVATIONS)):
            where = f"{path}[{i}]" if isinstance(value, list) else path
            raise unknown_name("activation", name, where, allowed)


def check_batching(algo: dict, env: dict) -> None:
    if "minibatch_size" not in algo or "time_horizon" not in algo:
        return
    batch = algo["time_horizon"] * env["num_envs"]
    if algo["minibatch_size"] > batch:
        raise SpecError(
            f"{algo['minibatch_size']} exceeds the batch time_horizon x num_envs = {batch}",
            "agent.algorithm.minibatch_size",
        )
    if algo["name"].startswith("PPO") and algo.get("lam") is None:
        raise SpecError("PPO needs lam (its GAE lambda), between 0 and 1", "agent.algorithm.lam")


def check_env(env: dict, v: Validator) -> dict:
    """The env section with its family's defaults filled in (Atari preprocessing, clipping)."""
    require(env, S.REQUIRED_ENV, "env")
    atari = isinstance(env.get("name"), str) and S.is_atari(env["name"])
    fields = {**S.ENV_FIELDS, **S.ATARI_FIELDS} if atari else S.ENV_FIELDS
    env = check_section(env, fields, "env", v, known=_env_passthrough(env, v))
    out = {**S.ENV_DEFAULTS, **(S.ATARI_DEFAULTS if atari else {})}
    out |= env
    if out["vectorization_mode"] is None:
        out["vectorization_mode"] = S.default_vectorization(out["name"])
    for norm, clip in (("normalize_obs", "clip_obs"), ("normalize_reward", "clip_reward")):
        if out[norm] and out[clip] is None:
            out[clip] = S.NORMALIZE_CLIP
    check_vectorization(out)
    return out


def check_vectorization(env: dict) -> None:
    native = env["vectorization_mode"] == "native"
    if native != S.is_atari(env["name"]):
        raise SpecError(
            "Atari envs run on ale-py's native vector env (native); other envs on sync or async",
            "env.vectorization_mode",
            ["native"] if S.is_atari(env["name"]) else ["sync", "async"],
        )


def _env_passthrough(env: dict, v: Validator) -> tuple:
    """Keys passed to gymnasium: those the env's constructor accepts (all, if it can't be told)."""
    if not isinstance(env.get("name"), str):
        raise _type_error("env.name", "a Gymnasium id", env.get("name"))
    from slm_lab.env.registry import check_env_id

    accepted = check_env_id(env["name"])
    if S.is_atari(env["name"]):
        return ()  # the native vector env takes only ATARI_FIELDS
    extra = set(env) - set(S.ENV_FIELDS)
    return tuple(extra) if accepted is None else (*accepted, *S.ENV_LAB_KEYS)


def check_meta(meta: dict, v: Validator) -> dict:
    meta = check_section(meta, S.META_FIELDS, "meta", v)
    out = {**S.META_DEFAULTS, **meta}
    log_freq = out.get("log_frequency") or out.get("eval_frequency") or S.DEFAULT_LOG_FREQUENCY
    out["log_frequency"] = log_freq
    out["eval_frequency"] = out.get("eval_frequency") or log_freq
    if out["distributed"] is None:
        out["distributed"] = False
    return out


def flatten_search(search: dict, prefix: str = "") -> dict:
    """Nested search dicts become dotted paths: {agent: {algorithm: {gamma__uniform}}}."""
    flat = {}
    for key, value in search.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and "__" not in key:
            flat.update(flatten_search(value, path))
        else:
            flat[path] = value
    return flat


def check_search(search: dict) -> dict:
    flat = flatten_search(search)
    for key, value in flat.items():
        path = f"search.{key}"
        if "__" not in key:
            raise SpecError(
                "a search key needs a sampler suffix, e.g. agent.algorithm.gamma__uniform",
                path,
                names.SEARCH_SAMPLERS,
            )
        sampler = key.rsplit("__", 1)[1]
        if sampler not in names.SEARCH_SAMPLERS:
            raise unknown_name("search sampler", sampler, path, names.SEARCH_SAMPLERS)
        if not isinstance(value, list) or not value:
            raise _type_error(path, "a non-empty list", value)
    return flat


def validate(spec: Any, strict: bool = False) -> tuple[dict, list[str]]:
    """Return the spec with defaults filled, and the warnings for keys it does not know."""
    v = Validator(strict)
    if not isinstance(spec, dict):
        raise _type_error("", "a mapping with agent, env and meta", spec)
    spec = unwrap_legacy(copy.deepcopy(spec), v)
    spec = check_section(spec, S.TOP_FIELDS, "", v)
    for key in S.REQUIRED_TOP:
        if key not in spec:
            raise SpecError(f"missing required section '{key}'", "", S.REQUIRED_TOP)
    spec["env"] = check_env(spec["env"], v)
    spec["agent"] = check_agent(spec["agent"], spec["env"], v)
    spec["meta"] = check_meta(spec["meta"], v)
    if spec.get("search"):
        spec["search"] = check_search(spec["search"])
    return spec, v.warnings
