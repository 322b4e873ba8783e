"""Check a parsed spec against the schema, coerce numbers, fill defaults, collect warnings."""

import copy
import re
from typing import Any

from slm_lab.lib.errors import SpecError, unknown_name
from slm_lab.spec import names, registry
from slm_lab.spec import schema as S
from slm_lab.spec.env_ids import check_env_id, legacy_atari
from slm_lab.spec.fields import (
    Validator,
    check_section,
    require,
    type_error,
)
from slm_lab.spec.net_checks import check_hydra_layers, check_loss, check_lr_scheduler
from slm_lab.spec.sac_checks import check_sac

EXPLORING_POLICIES = ("epsilon_greedy", "boltzmann")  # they read explore_var_spec
MIN_CONV_ARGS, MAX_CONV_ARGS = 2, 5  # [out_channels, kernel] up to [..., padding, dilation]
FAMILY_MODES = ("native", "jax")  # vector envs of their own family only
DEVICES = ("auto", None, "cpu", "cuda", "cuda:N")
NO_NET = "MLPNet"  # the net type of an agent that builds none (Random), when its spec gives none


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
    entry = registry.ALGORITHMS[algo["name"]]
    agent["algorithm"] = algo
    agent.setdefault("name", algo["name"])
    agent["memory"] = check_memory(agent["memory"], algo["name"], v)
    if entry.cadence == registry.NO_LEARNING and isinstance(agent["net"], dict):
        agent["net"] = {"type": NO_NET, **agent["net"]}  # `net: {}` (the original's Random)
    fill_derived(algo, env, agent["memory"])
    agent["net"] = check_net(agent["net"], "agent.net", v, entry.net_defaults)
    if agent.get("critic_net") is not None:
        agent["critic_net"] = check_net(
            agent["critic_net"], "agent.critic_net", v, entry.net_defaults
        )
    else:
        agent["critic_net"] = None
    check_batching(algo, env, v)
    check_dueling(algo["name"], agent["net"]["type"])
    return agent


def fill_derived(algo: dict, env: dict, memory: dict) -> None:
    """The defaults that depend on the env and the memory (registered as None)."""
    if not any(key in algo and algo[key] is None for key in S.DERIVED_KEYS):
        return
    for key, value in S.derived_defaults(algo["name"], env, memory).items():
        if algo[key] is None:
            algo[key] = value


def check_dueling(algo_name: str, net_type: str) -> None:
    if registry.NETS[net_type].dueling and not registry.ALGORITHMS[algo_name].q_values:
        allowed = [n for n, entry in registry.NETS.items() if not entry.dueling]
        raise SpecError(
            f"{net_type} outputs Q-values: use it with SARSA or the DQN family, not {algo_name}",
            "agent.net.type",
            allowed,
        )


def check_algorithm(algo: dict, v: Validator) -> dict:
    path = "agent.algorithm"
    require(algo, ("name",), path)
    algo = check_section(algo, S.ALGORITHM_FIELDS, path, v)
    entry = registry.ALGORITHMS[algo["name"]]
    out = {**copy.deepcopy(entry.defaults), **algo}
    check_algorithm_rules(out, entry)
    return out


def check_algorithm_rules(algo: dict, entry: registry.AlgorithmEntry) -> None:
    """The rules between an algorithm's keys (those its env decides are checked as it is built)."""
    name, path = algo["name"], "agent.algorithm"
    if "time_horizon" in entry.defaults and algo["action_policy"] != "default":
        raise SpecError(f"{name} samples its policy", f"{path}.action_policy", ["default"])
    if "time_horizon" in entry.defaults and algo["lam"] is None:
        raise SpecError("PPO needs lam (its GAE lambda), between 0 and 1", f"{path}.lam")
    if "lam" in entry.defaults and algo["lam"] is None and algo["num_step_returns"] is None:
        raise SpecError(
            f"{name} needs lam (GAE) or num_step_returns (n-step returns)", f"{path}.lam"
        )
    exploring = algo["action_policy"] in EXPLORING_POLICIES
    if entry.q_values and exploring and not algo["explore_var_spec"]:
        raise SpecError(
            f"{algo['action_policy']} needs explore_var_spec (its epsilon or temperature)",
            f"{path}.explore_var_spec",
        )
    check_sac(algo)


def check_memory(memory: dict, algo_name: str, v: Validator) -> dict:
    path = "agent.memory"
    require(memory, ("name",), path)
    memory = check_section(memory, S.MEMORY_FIELDS, path, v)
    algo = registry.ALGORITHMS[algo_name]
    if algo.memories and memory["name"] not in algo.memories:
        raise SpecError(
            f"{algo_name} cannot learn from {memory['name']}", f"{path}.name", algo.memories
        )
    out = {**registry.MEMORIES[memory["name"]].defaults, **algo.memory_defaults, **memory}
    if not registry.MEMORIES[out["name"]].on_policy and out["batch_size"] > out["max_size"]:
        raise SpecError(
            f"batch_size {out['batch_size']} exceeds max_size {out['max_size']}",
            f"{path}.batch_size",
        )
    return out


def check_net(net: dict, path: str, v: Validator, algo_defaults: dict | None = None) -> dict:
    require(net, ("type",), path)
    fields = {**S.NET_FIELDS, **S.NET_TYPE_FIELDS.get(str(net["type"]), {})}
    net = check_section(net, fields, path, v)
    net["gpu"] = check_gpu(net.get("gpu", "auto"), f"{path}.gpu")
    check_activations(net.get("out_layer_activation"), f"{path}.out_layer_activation")
    out = {
        **S.NET_DEFAULTS,
        **(algo_defaults or {}),
        **copy.deepcopy(registry.NETS[net["type"]].defaults),
        **net,
    }
    fill_optim_specs(out)
    if net["type"] == "TorchArcNet" and not any(
        net.get(k) for k in ("arc", "arc_file", "actor_arc", "critic_arc")
    ):
        raise SpecError("TorchArcNet needs an arc block or an arc_file", path)
    if net["type"] == "HydraMLPNet":
        out["hid_layers"] = check_hydra_layers(out["hid_layers"], f"{path}.hid_layers")
    if "conv_hid_layers" in out:
        check_conv_layers(out["conv_hid_layers"], f"{path}.conv_hid_layers")
    for key in (k for k in out if k.endswith("lr_scheduler_spec")):
        check_lr_scheduler(out[key], f"{path}.{key}", v)
    for key in (k for k in out if k.endswith("loss_spec")):
        check_loss(out[key], f"{path}.{key}", v)
    return out


def fill_optim_specs(net: dict) -> None:
    """Every optimizer a builder reads has its spec. As in the original lab, a shared net (or
    use_same_optim) trains with the actor's optimizer and LR scheduler when the spec gives them
    (`actor_optim_spec` replaces `optim_spec`); a net with no optimizer spec gets Adam at torch's
    default rate."""
    if net["shared"] or net["use_same_optim"]:
        for key in ("optim_spec", "lr_scheduler_spec"):
            if f"actor_{key}" in net:
                net[key] = net[f"actor_{key}"]
    net.setdefault("optim_spec", dict(S.DEFAULT_OPTIM))


def check_conv_layers(layers: list, path: str) -> None:
    """Each entry is [out_channels, kernel, stride, padding, dilation] (the last three optional)."""
    for i, entry in enumerate(layers):
        where = f"{path}[{i}]"
        if not isinstance(entry, list) or not MIN_CONV_ARGS <= len(entry) <= MAX_CONV_ARGS:
            raise SpecError(
                f"expected [out_channels, kernel, stride, padding, dilation] (2 to 5 integers), "
                f"got {entry!r}",
                where,
            )
        if not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in entry):
            raise SpecError(
                f"conv layer arguments must be non-negative integers, got {entry}", where
            )


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


def check_batching(algo: dict, env: dict, v: Validator) -> None:
    """A minibatch larger than the batch is the whole batch (the original lab's correction)."""
    if "minibatch_size" not in algo or "time_horizon" not in algo:
        return
    batch = algo["time_horizon"] * env["num_envs"]
    if algo["minibatch_size"] > batch:
        v.warn(
            "agent.algorithm.minibatch_size",
            f"{algo['minibatch_size']} exceeds the batch time_horizon x num_envs = {batch}: "
            f"{batch} used, as the original lab does",
        )
        algo["minibatch_size"] = batch


def check_env(env: dict, v: Validator) -> dict:
    """The env section with its family's defaults filled in (Atari preprocessing, clipping)."""
    require(env, S.REQUIRED_ENV, "env")
    env = modern_atari(env, v)
    known = _env_passthrough(env, v)
    family, family_defaults = S.family_fields(env["name"])
    env = check_section(env, {**S.ENV_FIELDS, **family}, "env", v, known=known)
    out = {**S.ENV_DEFAULTS, **family_defaults}
    out |= env
    if out["vectorization_mode"] is None:
        out["vectorization_mode"] = S.default_vectorization(out["name"])
    for norm, clip in (("normalize_obs", "clip_obs"), ("normalize_reward", "clip_reward")):
        if out[norm] and out[clip] is None:
            out[clip] = S.NORMALIZE_CLIP
    check_vectorization(out)
    if S.is_playground(out["name"]):
        check_device(out["device"])
    return out


def modern_atari(env: dict, v: Validator) -> dict:
    """A gym-era Atari id runs as its ALE id, preprocessed as every Atari env here (84x84
    grayscale, 4 frames stacked: what the original lab's conv nets were written for), keeping
    the old id's sticky actions unless the spec sets them."""
    legacy = legacy_atari(env["name"]) if isinstance(env.get("name"), str) else None
    if legacy is None:
        return env
    ale_id, sticky = legacy
    v.warn("env.name", f"{env['name']} is a gym-era Atari id: runs as {ale_id}, preprocessed")
    return {
        **env,
        "name": ale_id,
        "repeat_action_probability": env.get("repeat_action_probability", sticky),
    }


def check_vectorization(env: dict) -> None:
    """Atari runs on ale-py's native vector env, MuJoCo Playground on JAX, the rest on
    gymnasium's sync or async vector envs."""
    own = S.default_vectorization(env["name"])
    allowed = [own] if own in FAMILY_MODES else ["sync", "async"]
    if env["vectorization_mode"] not in allowed:
        raise SpecError(
            "Atari envs run on ale-py's native vector env (native), playground/ envs on JAX "
            "(jax), other envs on sync or async",
            "env.vectorization_mode",
            allowed,
        )


def check_device(device: str | None) -> None:
    """A playground env's `device`: auto, null, cpu, cuda or cuda:N."""
    if device is None or re.fullmatch(r"auto|cpu|cuda(:\d+)?", device):
        return
    raise SpecError(f"unknown device {device!r}", "env.device", DEVICES)


def _env_passthrough(env: dict, v: Validator) -> tuple:
    """Keys passed to gymnasium: those the env's constructor accepts (all, if it can't be told)."""
    if not isinstance(env.get("name"), str):
        raise type_error("env.name", "a Gymnasium id", env.get("name"))
    accepted = check_env_id(env["name"])
    if S.is_atari(env["name"]) or S.is_playground(env["name"]):
        return ()  # their vector envs take only their family's fields
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
    out["search_resources"] = {**S.META_DEFAULTS["search_resources"], **out["search_resources"]}
    return out


def check_distributed(spec: dict) -> None:
    """meta.distributed: sessions training one global net, for the algorithms registered so."""
    name = spec["agent"]["algorithm"]["name"]
    if spec["meta"]["distributed"] and not registry.ALGORITHMS[name].distributed:
        sharing = [n for n, entry in registry.ALGORITHMS.items() if entry.distributed]
        raise SpecError(
            f"distributed training shares the nets of {', '.join(sharing)}; not {name}'s",
            "meta.distributed",
            [False],
        )


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
            raise type_error(path, "a non-empty list", value)
    return flat


def validate(spec: Any, strict: bool = False) -> tuple[dict, list[str]]:
    """Return the spec with defaults filled, and the warnings for keys it does not know."""
    v = Validator(strict)
    if not isinstance(spec, dict):
        raise type_error("", "a mapping with agent, env and meta", spec)
    spec = unwrap_legacy(copy.deepcopy(spec), v)
    spec = check_section(spec, S.TOP_FIELDS, "", v)
    for key in S.REQUIRED_TOP:
        if key not in spec:
            raise SpecError(f"missing required section '{key}'", "", S.REQUIRED_TOP)
    spec["env"] = check_env(spec["env"], v)
    spec["agent"] = check_agent(spec["agent"], spec["env"], v)
    spec["meta"] = check_meta(spec["meta"], v)
    check_distributed(spec)
    if spec.get("search"):
        spec["search"] = check_search(spec["search"])
    return spec, v.warnings
