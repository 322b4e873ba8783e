"""Valid names a spec may use, as data, so specs validate without importing torch.

Algorithms, nets and memories are named by their registration (registry.py);
test/spec/test_names.py checks the other tables against torch.
"""

from slm_lab.spec import registry

ALGORITHMS = tuple(registry.ALGORITHMS)
NETS = tuple(registry.NETS)
MEMORIES = tuple(registry.MEMORIES)
PDTYPES = (
    "default",
    "Categorical",
    "Argmax",
    "GumbelSoftmax",
    "Normal",
    "Beta",
    "MultivariateNormal",
    "Gumbel",
    "LogNormal",
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
# the lab's own LR schedulers and the arguments they take
LAB_LR_SCHEDULER_ARGS = {"LinearToZero": ("frame",), "LinearToMin": ("frame", "min_factor")}
LAB_LR_SCHEDULERS = tuple(LAB_LR_SCHEDULER_ARGS)
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
