"""What each spec key may hold, and the defaults of the env, meta and net sections (torch-free);
the defaults of each algorithm, net type and memory come with its registration (registry.py)."""

from dataclasses import dataclass
from typing import Any

from slm_lab.spec import names


@dataclass(frozen=True)
class Field:
    """Type and range of one key. kind: int|float|bool|str|int_list|schedule|named|dict|list|any."""

    kind: str
    nullable: bool = False
    choices: tuple | None = None
    low: float | None = None  # inclusive
    high: float | None = None  # inclusive
    above: float | None = None  # exclusive lower bound
    named: tuple[str, ...] = ()  # for kind "named": allowed values of its `name`
    named_kind: str = ""  # what the name is, for messages ("optimizer")
    refused: dict[str, str] | None = None  # names it knows and refuses, with the reason


def num(**kw: Any) -> Field:
    return Field("float", **kw)


def pos_int(nullable: bool = False) -> Field:
    return Field("int", nullable=nullable, low=1)


def unit(nullable: bool = False) -> Field:
    return Field("float", nullable=nullable, low=0.0, high=1.0)


SCHEDULE = Field("schedule", nullable=True)
BOOL = Field("bool")

TOP_FIELDS = {
    "agent": Field("dict"),
    "env": Field("dict"),
    "meta": Field("dict"),
    "search": Field("dict", nullable=True),
    "name": Field("str"),
}
REQUIRED_TOP = ("agent", "env", "meta")

AGENT_FIELDS = {
    "name": Field("str"),
    "algorithm": Field("dict"),
    "memory": Field("dict"),
    "net": Field("dict"),
    "critic_net": Field("dict", nullable=True),
}
REQUIRED_AGENT = ("algorithm", "memory", "net")

ALGORITHM_FIELDS = {
    "name": Field("str", choices=names.ALGORITHMS),
    "action_pdtype": Field("str", choices=names.PDTYPES),
    "action_policy": Field("str", choices=names.ACTION_POLICIES),
    "explore_var_spec": SCHEDULE,
    "gamma": unit(),
    "lam": unit(nullable=True),
    "num_step_returns": pos_int(nullable=True),
    "val_loss_coef": num(low=0.0),
    "policy_loss_coef": num(low=0.0),
    "entropy_coef_spec": SCHEDULE,
    "clip_eps_spec": SCHEDULE,
    "normalize_v_targets": BOOL,
    # true (or standardize): per minibatch; percentile: by the tracked 5-95th percentile range
    "normalize_advantages": Field("any", choices=names.ADVANTAGE_NORMS),
    "clip_vloss": BOOL,
    "symlog": BOOL,
    "center_return": BOOL,
    "time_horizon": pos_int(),
    "minibatch_size": pos_int(),
    "training_epoch": pos_int(),
    "training_frequency": pos_int(),
    "training_start_step": Field("int", low=0),
    "training_iter": pos_int(),
    "training_batch_iter": pos_int(),
    "policy_delay": pos_int(),
    # SAC and CrossQ
    "fixed_alpha": num(nullable=True, low=0.0),
    "alpha_anneal_frames": Field("int", low=0),
    "alpha_lr": num(nullable=True, above=0.0),
    "target_entropy": Field("any", nullable=True),
    "entropy_anneal": Field("dict", nullable=True),
    "entropy_penalty_coef": num(low=0.0),
    "log_alpha_min": num(nullable=True),
    "log_alpha_max": num(nullable=True),
    "spectral_norm": BOOL,
    "brn_warmup_steps": Field("int", low=0),  # CrossQ
    "sil_policy_loss_coef": num(low=0.0),
    "sil_val_loss_coef": num(low=0.0),
}

SAC_FAMILY = ("SoftActorCritic", "CrossQ")
SAC_START_STEP = 1000  # SAC's least training_start_step


DERIVED_KEYS = ("training_start_step", "training_iter")


def derived_defaults(algo_name: str, env: dict, memory: dict) -> dict[str, int]:
    """The original lab's defaults that depend on the rest of the spec, for the off-policy
    algorithms (the registry writes them as None): SAC and CrossQ take num_envs gradient steps a
    vector step (one a frame) from max(1000, batch_size) frames on; the DQN family starts
    training at batch_size frames."""
    start = memory["batch_size"]
    if algo_name in SAC_FAMILY:
        return {"training_start_step": max(SAC_START_STEP, start), "training_iter": env["num_envs"]}
    return {"training_start_step": start}


SCHEDULE_FIELDS = {
    "name": Field("str", choices=names.SCHEDULES),
    "start_val": num(),
    "end_val": num(nullable=True),
    "start_step": Field("int", low=0),
    "end_step": Field("int", low=0),
}
SCHEDULE_DEFAULTS = {"start_step": 0, "end_step": 0}

LR_SCHEDULER = Field(
    "named",
    nullable=True,
    named=names.LR_SCHEDULERS,
    named_kind="lr scheduler",
    refused=names.REFUSED_LR_SCHEDULERS,
)
NET_FIELDS = {
    "type": Field("str", choices=names.NETS),
    "shared": BOOL,
    "hid_layers": Field("int_list"),
    "conv_hid_layers": Field("list"),
    "fc_hid_layers": Field("int_list"),
    "cell_type": Field("str", choices=names.RNN_CELLS),
    "rnn_hidden_size": pos_int(),
    "rnn_num_layers": pos_int(),
    "seq_len": pos_int(),
    "bidirectional": BOOL,
    "hid_layers_activation": Field("str", choices=tuple(names.ACTIVATIONS)),
    "out_layer_activation": Field("any", nullable=True),
    "init_fn": Field("str", nullable=True, choices=names.INIT_FNS),
    "clip_grad_val": num(nullable=True, above=0.0),
    "loss_spec": Field(
        "named", named=names.LOSSES, named_kind="loss", refused=names.REFUSED_LOSSES
    ),
    "optim_spec": Field("named", named=names.OPTIMIZERS, named_kind="optimizer"),
    "lr_scheduler_spec": LR_SCHEDULER,
    "update_type": Field("str", choices=("replace", "polyak")),
    "update_frequency": num(above=0.0),  # frames; the original's specs write 0.9 under polyak
    "polyak_coef": unit(),
    "gpu": Field("any"),
    "compile": BOOL,
    "layer_norm": BOOL,
    "batch_norm": BOOL,
    "normalize": BOOL,
    "log_std_init": num(nullable=True),
    "actor_init_std": num(nullable=True, above=0.0),
    "critic_init_std": num(nullable=True, above=0.0),
    "use_same_optim": BOOL,
    "arc": Field("dict", nullable=True),
    "arc_file": Field("str", nullable=True),
    "actor_arc": Field("dict", nullable=True),
    "critic_arc": Field("dict", nullable=True),
}
# keys a net type reads differently: HydraMLPNet's hid_layers is [[head], body, [tails]]
NET_TYPE_FIELDS = {"HydraMLPNet": {"hid_layers": Field("list")}}
NET_PREFIXES = ("actor_", "critic_")
NET_DEFAULTS: dict[str, Any] = {
    "shared": False,
    "hid_layers_activation": "relu",
    "out_layer_activation": None,
    "init_fn": None,
    "clip_grad_val": None,
    "loss_spec": {"name": "MSELoss"},
    "lr_scheduler_spec": None,
    "gpu": "auto",
    "compile": False,
    "layer_norm": False,
    "batch_norm": False,
    "normalize": False,
    "log_std_init": None,
    "actor_init_std": None,
    "critic_init_std": None,
    "use_same_optim": False,
    "update_type": "replace",
    "update_frequency": 1,
    "polyak_coef": 0.005,
}
DEFAULT_OPTIM = {"name": "Adam", "lr": 1e-3}  # the original's {"name": "Adam"}: torch's rate
GPU_VALUES = ("auto", True, False)

MEMORY_FIELDS = {
    "name": Field("str", choices=names.MEMORIES),
    "batch_size": pos_int(),
    "max_size": pos_int(),
    "use_cer": BOOL,
    "alpha": num(low=0.0),
    "epsilon": num(low=0.0),
    "beta": unit(),
    "importance_sampling": BOOL,  # PER's weights (default false: none, as the original lab)
    "cross_entropy": unit(),
    "sil_replay_name": Field("str", nullable=True),  # the original SIL specs name their replay
}
ENV_FIELDS = {
    "name": Field("str"),
    "num_envs": pos_int(),
    "max_frame": pos_int(),
    "max_t": pos_int(nullable=True),
    "normalize_obs": BOOL,
    "normalize_reward": BOOL,
    "clip_obs": num(nullable=True, above=0.0),
    "clip_reward": num(nullable=True, above=0.0),
    "vectorization_mode": Field("str", nullable=True, choices=names.VECTORIZATION_MODES),
}
ENV_DEFAULTS: dict[str, Any] = {
    "num_envs": 1,
    "max_t": None,
    "normalize_obs": False,
    "normalize_reward": False,
    "clip_obs": None,
    "clip_reward": None,
    "vectorization_mode": None,
}
REQUIRED_ENV = ("name", "max_frame")
# keys read by the lab's Atari wrappers rather than by gymnasium.make
ENV_LAB_KEYS = ("life_loss_info", "frame_stack", "noop_max", "fire_reset")
NORMALIZE_CLIP = 10.0  # clip_obs / clip_reward when normalising and the spec names none

ATARI_PREFIX = "ALE/"
# Atari settings (the literature's, ALE v5), written into every Atari run's saved spec
ATARI_FIELDS = {
    "frameskip": pos_int(),
    "repeat_action_probability": unit(),
    "full_action_space": BOOL,
    "max_num_frames_per_episode": pos_int(),
    "continuous": BOOL,
    "continuous_action_threshold": unit(),
    "life_loss_info": BOOL,
    "frame_stack": pos_int(),
    "noop_max": Field("int", low=0),
    "fire_reset": BOOL,
}
ATARI_DEFAULTS: dict[str, Any] = {
    "frameskip": 4,
    "repeat_action_probability": 0.25,
    "full_action_space": False,
    "max_num_frames_per_episode": 108_000,
    "life_loss_info": True,
    "frame_stack": 4,
    "noop_max": 30,
    "fire_reset": True,
    "clip_reward": 1.0,
}


PLAYGROUND_PREFIX = "playground/"
# MuJoCo Playground (JAX): the learner's reward scale (scores stay raw), and where observations go:
# auto (the GPU when torch sees one, else host arrays), null (host arrays), cpu, cuda, cuda:N
# (torch tensors on that device, handed over from JAX through DLPack)
PLAYGROUND_FIELDS = {
    "reward_scale": num(above=0.0),
    "device": Field("str", nullable=True),
}
PLAYGROUND_DEFAULTS: dict[str, Any] = {"reward_scale": 1.0, "device": "auto"}
PLAYGROUND_INSTALL = "uv sync --group playground"


def is_atari(name: str) -> bool:
    return name.startswith(ATARI_PREFIX)


def is_playground(name: str) -> bool:
    return name.startswith(PLAYGROUND_PREFIX)


def family_fields(name: str) -> tuple[dict[str, Field], dict[str, Any]]:
    """The keys and defaults an env family adds to the env section (Atari, Playground)."""
    if is_atari(name):
        return ATARI_FIELDS, ATARI_DEFAULTS
    if is_playground(name):
        return PLAYGROUND_FIELDS, PLAYGROUND_DEFAULTS
    return {}, {}


def default_vectorization(name: str) -> str:
    """ale-py's native vector env for Atari; JAX's vmap for MuJoCo Playground; sync for the
    rest, measured faster than async for classic control, Box2D and MuJoCo (docs/BENCHMARKS.md,
    vector throughput)."""
    if is_atari(name):
        return "native"
    return "jax" if is_playground(name) else "sync"


MAX_SESSIONS = 1024  # seeds per trial
MAX_SEED = 2**31 - 1 - MAX_SESSIONS  # session seeds (random_seed + i) stay valid for numpy
META_FIELDS = {
    "max_session": Field("int", low=1, high=MAX_SESSIONS),
    "max_trial": pos_int(),
    "log_frequency": pos_int(),
    "eval_frequency": pos_int(),
    "rigorous_eval": BOOL,
    "search_resources": Field("dict"),
    "search_scheduler": Field("dict", nullable=True),
    "distributed": Field("any", choices=names.DISTRIBUTED),
    "random_seed": Field("int", nullable=True, low=0, high=MAX_SEED),
    "tensorboard": Field("bool", nullable=True),
    "checkpoint_replay": Field("bool", nullable=True),
    # written by the lab into a run's saved spec
    "session_seeds": Field("list", nullable=True),
    "git_sha": Field("str", nullable=True),
    "git_dirty": Field("bool", nullable=True),
    "versions": Field("dict", nullable=True),
    "spec_file": Field("str", nullable=True),
    "timestamp": Field("str", nullable=True),
}
DEFAULT_LOG_FREQUENCY = 10000
META_DEFAULTS: dict[str, Any] = {
    "max_session": 1,
    "max_trial": 1,
    "rigorous_eval": False,
    "search_resources": {"cpu": 1, "gpu": 0},
    "search_scheduler": None,
    "distributed": False,
    "random_seed": None,
    "tensorboard": None,
    "checkpoint_replay": None,  # null: when the replay is under REPLAY_CHECKPOINT_GIB
}
REPLAY_CHECKPOINT_GIB = 4  # the largest replay a resume checkpoint holds by default
# keys the lab writes into a run's saved spec: a resumed spec may differ from the saved one there
RECORDED_META = ("session_seeds", "git_sha", "git_dirty", "versions", "spec_file", "timestamp")
RUN_META = (*RECORDED_META, "random_seed")  # what a run records or draws into its saved spec
