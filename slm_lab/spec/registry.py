"""One registration per algorithm, net and memory, as torch-free data: the names a spec may use,
the keys each class reads with their defaults, which memories an algorithm learns from, its
training cadence and its label in graphs all come from here. The class itself is found at run
time in `slm_lab.agent.<family>.<module>` under the registered name (slm_lab.agent.registered).

Adding an algorithm: its file in slm_lab/agent/algorithm/ and one entry in ALGORITHMS below
(docs/ARCHITECTURE.md, "Adding an algorithm").
"""

from dataclasses import dataclass, field
from typing import Any

ON_POLICY = "on_policy"  # learns from the rollout just collected, when it is complete
OFF_POLICY = "off_policy"  # learns from a replay, when due by frames
NO_LEARNING = "none"


@dataclass(frozen=True)
class AlgorithmEntry:
    module: str  # slm_lab.agent.algorithm.<module> holds the class of the registered name
    cadence: str  # ON_POLICY, OFF_POLICY or NO_LEARNING
    defaults: dict[str, Any]  # every agent.algorithm key it reads, with its default
    memories: tuple[str, ...] | None  # the memories it learns from (None: any)
    label: str  # its name in graph legends
    q_values: bool = False  # learns a Q-value per action (the only use of a dueling net)
    distributed: bool = False  # its sessions may train one global net (meta.distributed)
    net_defaults: dict[str, Any] = field(default_factory=dict)  # agent.net defaults it changes
    memory_defaults: dict[str, Any] = field(default_factory=dict)  # agent.memory defaults


@dataclass(frozen=True)
class NetEntry:
    module: str  # slm_lab.agent.net.<module>
    defaults: dict[str, Any]  # the agent.net keys of this type, with their defaults
    dueling: bool = False  # outputs Q-values as V + A - mean(A)


@dataclass(frozen=True)
class MemoryEntry:
    module: str  # slm_lab.agent.memory.<module>
    defaults: dict[str, Any]
    on_policy: bool


_COMMON = {"action_pdtype": "default", "action_policy": "default", "explore_var_spec": None}
_GAMMA = {"gamma": 0.99}
_A2C = {
    **_COMMON,
    **_GAMMA,
    "lam": None,
    "num_step_returns": None,
    "val_loss_coef": 1.0,
    "policy_loss_coef": 1.0,
    "entropy_coef_spec": None,
    "normalize_v_targets": False,
    "training_frequency": 1,
}
_PPO = {
    **_A2C,
    "lam": 0.95,
    "clip_eps_spec": {"name": "no_decay", "start_val": 0.2, "end_val": 0.2},
    "time_horizon": 128,
    "minibatch_size": 4,
    "training_epoch": 4,
    "clip_vloss": False,
    "normalize_advantages": True,
    "symlog": False,
}
# None: derived from the rest of the spec (schema.derived_defaults), as the original lab does
_DQN = {
    **_COMMON,
    **_GAMMA,
    "training_start_step": None,
    "training_frequency": 1,
    "training_iter": 1,
    "training_batch_iter": 1,
}
_SAC = {
    **_COMMON,
    **_GAMMA,
    "training_iter": None,
    "training_frequency": 1,
    "training_start_step": None,
    "policy_delay": 1,
    "fixed_alpha": None,
    "alpha_anneal_frames": 0,
    "alpha_lr": None,  # null: the actor's lr
    "target_entropy": "auto",
    "entropy_anneal": None,  # {start_ratio, end_ratio, frames}: the discrete auto target's
    "entropy_penalty_coef": 0.0,
    "log_alpha_min": -5.0,  # the original's clamp of log alpha
    "log_alpha_max": 2.0,
    "symlog": False,
    "spectral_norm": False,
}
# CrossQ's MLPNet critics: batch renorm warm-up in training steps (the original's specs: 5000)
_CROSSQ = {**_SAC, "brn_warmup_steps": 5000}
_SIL = {
    "sil_policy_loss_coef": 1.0,
    "sil_val_loss_coef": 0.01,
    "training_iter": 1,
    "training_batch_iter": 1,
}
# the self-imitation replay: memory.batch_size and memory.max_size when the spec gives none
_SIL_MEMORY = {"batch_size": 64, "max_size": 10_000}
_ROLLOUTS = ("OnPolicyBatchReplay", "OnPolicyReplay", "OnPolicyCrossEntropy")
_BATCHES = ("OnPolicyBatchReplay",)
_REPLAYS = ("Replay", "PrioritizedReplay")
_POLYAK = {"update_type": "polyak"}  # SAC's target critics follow the online ones

ALGORITHMS: dict[str, AlgorithmEntry] = {
    # gamma: the discount of the reward normaliser's returns (env.normalize_reward)
    "Random": AlgorithmEntry("random", NO_LEARNING, {**_COMMON, **_GAMMA}, None, "Random"),
    "Reinforce": AlgorithmEntry(
        "reinforce",
        ON_POLICY,
        {
            **_COMMON,
            **_GAMMA,
            "training_frequency": 1,
            "center_return": False,
            "entropy_coef_spec": None,
            "policy_loss_coef": 1.0,
        },
        _ROLLOUTS,
        "REINFORCE",
        distributed=True,
    ),
    "SARSA": AlgorithmEntry(
        "sarsa",
        ON_POLICY,
        {**_COMMON, **_GAMMA, "training_frequency": 1},
        _ROLLOUTS,
        "SARSA",
        q_values=True,
    ),
    "VanillaDQN": AlgorithmEntry("dqn", OFF_POLICY, _DQN, _REPLAYS, "DQN", q_values=True),
    "DQN": AlgorithmEntry("dqn", OFF_POLICY, _DQN, _REPLAYS, "DQN", q_values=True),
    "DoubleDQN": AlgorithmEntry("dqn", OFF_POLICY, _DQN, _REPLAYS, "DDQN", q_values=True),
    "ActorCritic": AlgorithmEntry(
        "actor_critic", ON_POLICY, _A2C, _ROLLOUTS, "A2C", distributed=True
    ),
    "PPO": AlgorithmEntry("ppo", ON_POLICY, _PPO, _BATCHES, "PPO", distributed=True),
    "SoftActorCritic": AlgorithmEntry(
        "sac", OFF_POLICY, _SAC, _REPLAYS, "SAC", distributed=True, net_defaults=_POLYAK
    ),
    "CrossQ": AlgorithmEntry("crossq", OFF_POLICY, _CROSSQ, _REPLAYS, "CrossQ"),
    "SIL": AlgorithmEntry(
        "sil",
        ON_POLICY,
        {**_A2C, **_SIL},
        _ROLLOUTS,
        "A2C+SIL",
        distributed=True,
        memory_defaults=_SIL_MEMORY,
    ),
    "PPOSIL": AlgorithmEntry(
        "sil",
        ON_POLICY,
        {**_PPO, **_SIL},
        _BATCHES,
        "PPO+SIL",
        distributed=True,
        memory_defaults=_SIL_MEMORY,
    ),
}

# the Nature DQN convolutions (Mnih et al. 2015): [out_channels, kernel, stride, padding, dilation]
NATURE_CNN = [[32, 8, 4, 0, 1], [64, 4, 2, 0, 1], [64, 3, 1, 0, 1]]
_MLP = {"hid_layers": [64, 64]}
_CONV = {"conv_hid_layers": NATURE_CNN, "fc_hid_layers": [512]}
NETS: dict[str, NetEntry] = {
    "MLPNet": NetEntry("mlp", _MLP),
    "ConvNet": NetEntry("conv", _CONV),
    "RecurrentNet": NetEntry(
        "recurrent",
        {
            "fc_hid_layers": [],
            "cell_type": "GRU",
            "rnn_hidden_size": 64,
            "rnn_num_layers": 1,
            "seq_len": 4,
            "bidirectional": False,
        },
    ),
    "DuelingMLPNet": NetEntry("mlp", _MLP, dueling=True),
    # [[head widths], body widths, [tail widths per output]]: see agent/net/mlp.py
    "HydraMLPNet": NetEntry("mlp", {"hid_layers": [[[64]], [64], []]}),
    "DuelingConvNet": NetEntry("conv", _CONV, dueling=True),
    "TorchArcNet": NetEntry("torcharc_net", {"arc": None, "arc_file": None}),
}

# the lab's own torch modules an arc (TorchArcNet) may name, found by torcharc in torch.nn:
# class name -> its module in slm_lab.agent.net (registered by torcharc_net.register_arc_modules)
ARC_MODULES: dict[str, str] = {
    "BatchRenorm1d": "batch_renorm",
    "LazyBatchRenorm1d": "batch_renorm",
    "WeightNormLinear": "weight_norm",
    "LazyWeightNormLinear": "weight_norm",
}

_REPLAY = {"batch_size": 32, "max_size": 10000, "use_cer": False}
MEMORIES: dict[str, MemoryEntry] = {
    "Replay": MemoryEntry("replay", _REPLAY, on_policy=False),
    "PrioritizedReplay": MemoryEntry(
        "replay",
        {**_REPLAY, "alpha": 0.6, "epsilon": 1e-4, "beta": 0.4, "importance_sampling": False},
        on_policy=False,
    ),
    "OnPolicyReplay": MemoryEntry("onpolicy", {}, on_policy=True),
    "OnPolicyBatchReplay": MemoryEntry("onpolicy", {}, on_policy=True),
    # cross_entropy: the quantile of episode returns an episode needs to be learnt from
    "OnPolicyCrossEntropy": MemoryEntry("onpolicy", {"cross_entropy": 1.0}, on_policy=True),
}


def label(name: str) -> str:
    """An algorithm's name in graph legends (A2C, SAC, DDQN, ...); unknown names as written."""
    entry = ALGORITHMS.get(name)
    return entry.label if entry else name
