"""The torch-free name tables match torch and the lab's registries."""

import inspect

import torch

from slm_lab.agent.algorithm import ALGORITHMS
from slm_lab.agent.memory import MEMORIES
from slm_lab.agent.net import NETS
from slm_lab.agent.net.global_optim import GLOBAL_OPTIMIZERS
from slm_lab.spec import names


def test_registries_are_subsets_of_the_tables():
    assert set(ALGORITHMS) == set(names.ALGORITHMS)  # every algorithm of the spec format runs
    assert set(GLOBAL_OPTIMIZERS) == set(names.LAB_OPTIMIZERS)
    assert set(NETS) <= set(names.NETS)
    assert set(MEMORIES) <= set(names.MEMORIES)


def test_torch_names_exist():
    for name in set(names.OPTIMIZERS) - set(names.LAB_OPTIMIZERS):
        assert issubclass(getattr(torch.optim, name), torch.optim.Optimizer), name
    for name in set(names.LR_SCHEDULERS) - set(names.LAB_LR_SCHEDULERS):
        assert inspect.isclass(getattr(torch.optim.lr_scheduler, name)), name
    for name in names.LOSSES:
        assert issubclass(getattr(torch.nn, name), torch.nn.Module), name
    for cls_name in names.ACTIVATIONS.values():
        assert issubclass(getattr(torch.nn, cls_name), torch.nn.Module), cls_name
    for fn in names.INIT_FNS:
        assert callable(getattr(torch.nn.init, fn)), fn


def test_every_plain_step_optimizer_is_listed():
    plain = {
        n
        for n, c in vars(torch.optim).items()
        if inspect.isclass(c)
        and issubclass(c, torch.optim.Optimizer)
        and c is not torch.optim.Optimizer
    }
    needs_more = {"LBFGS", "SparseAdam", "Muon"}  # closure, sparse grads, 2-D params only
    assert plain - needs_more <= set(names.OPTIMIZERS)
