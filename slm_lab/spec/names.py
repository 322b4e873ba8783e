"""Valid names a spec may use, as data, so specs validate without importing torch.

test/spec/test_names.py checks these tables against torch and the lab's registries.
"""

import json
from difflib import get_close_matches
from functools import cache
from pathlib import Path

from slm_lab.spec.errors import SpecError, unknown_name

ALGORITHMS = (
    "Random",
    "Reinforce",
    "SARSA",
    "VanillaDQN",
    "DQN",
    "DoubleDQN",
    "ActorCritic",
    "PPO",
    "SoftActorCritic",
    "CrossQ",
    "SIL",
    "PPOSIL",
)
NETS = ("MLPNet", "ConvNet", "RecurrentNet", "DuelingMLPNet", "DuelingConvNet", "TorchArcNet")
MEMORIES = ("Replay", "PrioritizedReplay", "OnPolicyReplay", "OnPolicyBatchReplay")
PDTYPES = (
    "default",
    "Categorical",
    "Argmax",
    "GumbelSoftmax",
    "Normal",
    "Beta",
    "MultivariateNormal",
    "MultiCategorical",
    "Bernoulli",
)
ACTION_POLICIES = ("default", "epsilon_greedy", "boltzmann", "random")
SCHEDULES = ("no_decay", "linear_decay", "rate_decay", "periodic_decay")
# torch.optim classes usable with plain `step()`, plus the lab's shared-memory optimizers (A3C)
OPTIMIZERS = (
    "ASGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "RAdam",
    "RMSprop",
    "Rprop",
    "SGD",
    "GlobalAdam",
    "GlobalRMSprop",
)
LAB_OPTIMIZERS = ("GlobalAdam", "GlobalRMSprop")
LOSSES = ("MSELoss", "SmoothL1Loss", "HuberLoss", "L1Loss")
LAB_LR_SCHEDULERS = ("LinearToZero", "LinearToMin")
LR_SCHEDULERS = (
    *LAB_LR_SCHEDULERS,
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "PolynomialLR",
    "StepLR",
)
# spec name (lower case, as users write it) -> torch.nn class name
ACTIVATIONS = {
    "celu": "CELU",
    "elu": "ELU",
    "gelu": "GELU",
    "hardswish": "Hardswish",
    "hardtanh": "Hardtanh",
    "identity": "Identity",
    "leakyrelu": "LeakyReLU",
    "linear": "Identity",
    "mish": "Mish",
    "relu": "ReLU",
    "relu6": "ReLU6",
    "selu": "SELU",
    "sigmoid": "Sigmoid",
    "silu": "SiLU",
    "softplus": "Softplus",
    "softsign": "Softsign",
    "tanh": "Tanh",
}
INIT_FNS = (
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "orthogonal_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
)
RNN_CELLS = ("RNN", "LSTM", "GRU")
VECTORIZATION_MODES = ("sync", "async", "native")  # native: ale-py's own (Atari only)
DISTRIBUTED = (False, "synced", "shared")
MODES = ("dev", "train", "search", "enjoy")
SEARCH_SAMPLERS = (
    "uniform",
    "loguniform",
    "quniform",
    "qloguniform",
    "randn",
    "randint",
    "qrandint",
    "choice",
    "grid_search",
)


ENV_IDS_FILE = Path(__file__).parent / "env_ids.json"  # scripts/gen_env_ids.py writes it


@cache
def env_ids() -> frozenset[str]:
    """The Gymnasium and ALE env ids, as data (no gymnasium import)."""
    return frozenset(json.loads(ENV_IDS_FILE.read_text()))


def check_env_id(name: str) -> None:
    """Without gymnasium (the minimal install): refuse an env name that is neither a known id nor
    a custom `module:EnvId`, as slm_lab.env.registry does with gymnasium's own registry."""
    if ":" in name:
        split_custom(name)
        return
    if name in env_ids():
        return
    close = get_close_matches(name, sorted(env_ids()), n=8, cutoff=0.5)
    raise unknown_name("environment", name, "env.name", close)


def split_custom(name: str) -> tuple[str, str]:
    """`module:EnvId` -> (module, EnvId); both parts must be there."""
    module, _, env_id = name.partition(":")
    if not module or not env_id:
        raise SpecError(
            f"custom env {name!r} must be module:EnvId (e.g. my_pkg.envs:Maze-v0)", "env.name"
        )
    return module, env_id
