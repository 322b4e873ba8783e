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
    "NormalTanh",
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
# torch.nn losses of a float prediction and a float target of its shape, with the arguments each
# takes; not `reduction` (the lab's: per element, then a mean or PER's weighted mean) nor the
# per-class tensors `weight` and `pos_weight` (class weights mean nothing to a value's loss)
LOSS_ARGS: dict[str, tuple[str, ...]] = {
    "BCELoss": (),
    "BCEWithLogitsLoss": (),
    "CrossEntropyLoss": ("ignore_index", "label_smoothing"),
    "HingeEmbeddingLoss": ("margin",),
    "HuberLoss": ("delta",),
    "KLDivLoss": ("log_target",),
    "L1Loss": (),
    "MSELoss": (),
    "MultiLabelSoftMarginLoss": (),
    "PoissonNLLLoss": ("log_input", "full", "eps"),
    "SmoothL1Loss": ("beta",),
    "SoftMarginLoss": (),
}
LOSSES = tuple(LOSS_ARGS)
_CLASS_TARGETS = "needs integer class targets; the lab's targets are floats"
# the other torch.nn losses, and why a spec cannot use them
REFUSED_LOSSES = {
    "CTCLoss": "takes sequence lengths besides a prediction and a target",
    "CosineEmbeddingLoss": "compares two inputs under a target",
    "GaussianNLLLoss": "takes a variance besides a prediction and a target",
    "LinearCrossEntropyLoss": "is a layer with its own weights",
    "MarginRankingLoss": "compares two inputs under a target",
    "MultiLabelMarginLoss": _CLASS_TARGETS,
    "MultiMarginLoss": _CLASS_TARGETS,
    "NLLLoss": _CLASS_TARGETS,
    "NLLLoss2d": _CLASS_TARGETS,
    "TripletMarginLoss": "compares three inputs",
    "TripletMarginWithDistanceLoss": "compares three inputs",
}
# LR schedulers and the arguments each takes: the lab's own (counting frames), then
# torch.optim.lr_scheduler's (stepped once per training call; `last_epoch` is the checkpoint's)
LAB_LR_SCHEDULER_ARGS = {"LinearToZero": ("frame",), "LinearToMin": ("frame", "min_factor")}
LAB_LR_SCHEDULERS = tuple(LAB_LR_SCHEDULER_ARGS)
LR_SCHEDULER_ARGS: dict[str, tuple[str, ...]] = {
    **LAB_LR_SCHEDULER_ARGS,
    "ChainedScheduler": ("schedulers",),
    "ConstantLR": ("factor", "total_iters"),
    "CosineAnnealingLR": ("T_max", "eta_min"),
    "CosineAnnealingWarmRestarts": ("T_0", "T_mult", "eta_min"),
    "CyclicLR": (
        "base_lr",
        "max_lr",
        "step_size_up",
        "step_size_down",
        "mode",
        "gamma",
        "scale_mode",
        "cycle_momentum",
        "base_momentum",
        "max_momentum",
    ),
    "ExponentialLR": ("gamma",),
    "LinearLR": ("start_factor", "end_factor", "total_iters"),
    "MultiStepLR": ("milestones", "gamma"),
    "OneCycleLR": (
        "max_lr",
        "total_steps",
        "epochs",
        "steps_per_epoch",
        "pct_start",
        "anneal_strategy",
        "cycle_momentum",
        "base_momentum",
        "max_momentum",
        "div_factor",
        "final_div_factor",
        "three_phase",
    ),
    "PolynomialLR": ("total_iters", "power"),
    "SequentialLR": ("schedulers", "milestones"),
    "StepLR": ("step_size", "gamma"),
}
LR_SCHEDULERS = tuple(LR_SCHEDULER_ARGS)
NESTED_LR_SCHEDULERS = ("ChainedScheduler", "SequentialLR")  # `schedulers`: a list of specs
_FUNCTION = "takes a Python function, which a spec cannot hold; LinearLR or LinearToZero may do"
REFUSED_LR_SCHEDULERS = {
    "LRScheduler": "is the base class of the schedulers",
    "LambdaLR": _FUNCTION,
    "MultiplicativeLR": _FUNCTION,
    "ReduceLROnPlateau": "steps on a metric, and the lab steps its schedulers without one",
}
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
# native: ale-py's vector env (Atari only); jax: MuJoCo Playground's vmap (playground/ only)
VECTORIZATION_MODES = ("sync", "async", "native", "jax")
ADVANTAGE_NORMS = (True, False, "standardize", "percentile")
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
