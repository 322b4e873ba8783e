"""The torch-free name tables match torch and the lab's registries."""

import inspect
import json
import subprocess
import sys

import pytest
import torch
from torch.nn.modules.loss import _Loss

from slm_lab.agent.net.global_optim import GLOBAL_OPTIMIZERS
from slm_lab.agent.net.net_util import make_loss
from slm_lab.lib import distribution
from slm_lab.lib.errors import SpecError
from slm_lab.spec import env_ids, names
from test.conftest import REPO


def test_registries_are_subsets_of_the_tables():
    assert set(GLOBAL_OPTIMIZERS) == set(names.LAB_OPTIMIZERS)


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


LOSS_NOT_ARGS = {"size_average", "reduce", "reduction", "weight", "pos_weight"}
SCHEDULER_NOT_ARGS = {"optimizer", "last_epoch", "scale_fn"}  # the lab's; a function


def torch_losses() -> set[str]:
    return {
        n
        for n, c in vars(torch.nn).items()
        if inspect.isclass(c) and issubclass(c, _Loss) and c is not _Loss
    }


def torch_lr_schedulers() -> set[str]:
    module = torch.optim.lr_scheduler
    return {
        n
        for n, c in vars(module).items()
        if inspect.isclass(c) and c.__module__ == module.__name__ and not n.startswith("_")
    }


def test_every_torch_loss_is_allowed_or_refused_with_a_reason():
    assert torch_losses() == set(names.LOSSES) | set(names.REFUSED_LOSSES)
    assert not set(names.LOSSES) & set(names.REFUSED_LOSSES)


@pytest.mark.parametrize("name", names.LOSSES)
def test_allowed_losses_take_their_listed_arguments_and_compare_floats(name: str):
    params = set(inspect.signature(getattr(torch.nn, name)).parameters)
    assert set(names.LOSS_ARGS[name]) == params - LOSS_NOT_ARGS
    loss = make_loss({"name": name}, "agent.net.loss_spec")(torch.rand(5), torch.rand(5))
    assert loss.shape in ((5,), ()) and torch.isfinite(loss).all()  # per element, or per row


@pytest.mark.filterwarnings("ignore:`NLLLoss2d` has been deprecated")
@pytest.mark.parametrize("name", sorted(names.REFUSED_LOSSES))
def test_refused_losses_cannot_compare_a_float_prediction_with_a_float_target(name: str):
    with pytest.raises((TypeError, RuntimeError)):
        getattr(torch.nn, name)(reduction="none")(torch.rand(5), torch.rand(5))


def test_every_torch_lr_scheduler_is_allowed_or_refused_with_a_reason():
    torch_names = set(names.LR_SCHEDULERS) - set(names.LAB_LR_SCHEDULERS)
    assert torch_lr_schedulers() == torch_names | set(names.REFUSED_LR_SCHEDULERS)
    assert not set(names.LR_SCHEDULERS) & set(names.REFUSED_LR_SCHEDULERS)


@pytest.mark.parametrize("name", sorted(set(names.LR_SCHEDULERS) - set(names.LAB_LR_SCHEDULERS)))
def test_lr_schedulers_take_their_listed_arguments(name: str):
    params = set(inspect.signature(getattr(torch.optim.lr_scheduler, name)).parameters)
    assert set(names.LR_SCHEDULER_ARGS[name]) == params - SCHEDULER_NOT_ARGS


def test_pdtypes_are_the_distributions():
    by_space = distribution.PDTYPES.values()
    assert set(names.PDTYPES) == {name for table in by_space for name in table}


def test_env_id_table_matches_the_installed_registry():
    """scripts/gen_env_ids.py wrote the table; rerun it when gymnasium or ale-py change. Asked
    in a fresh interpreter: tests register their own envs in this one."""
    script = REPO / "scripts" / "gen_env_ids.py"
    code = f"import runpy, json; print(json.dumps(runpy.run_path({str(script)!r})['env_ids']()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert sorted(env_ids.env_ids()) == json.loads(out.stdout)


def test_shipped_specs_use_known_env_ids():
    found = 0
    for path in (REPO / "slm_lab" / "spec").rglob("*.json"):
        if path.name == "env_ids.json":
            continue
        for spec in json.loads(path.read_text()).values():
            env = spec.get("env", {}).get("name", "")
            if "${" not in env:
                env_ids.check_listed(env)
                found += 1
    assert found > 20


def test_without_gymnasium_an_unknown_env_id_is_refused_from_the_table():
    env_ids.check_listed("my_pkg.envs:Maze-v0")  # a custom env names its module: accepted
    with pytest.raises(SpecError) as e:
        env_ids.check_listed("CartPole-v7")
    assert e.value.path == "env.name"
    assert e.value.problem == "unknown environment 'CartPole-v7' (did you mean 'CartPole-v1'?)"
    assert "CartPole-v1" in e.value.allowed and len(e.value.allowed) <= 8


@pytest.mark.parametrize("name", [":", "pkg:", ":Maze-v0"])
def test_a_custom_env_needs_both_module_and_id(name: str):
    with pytest.raises(SpecError, match="must be module:EnvId"):
        env_ids.check_listed(name)
    with pytest.raises(SpecError, match="must be module:EnvId"):
        env_ids.check_env_id(name)


def test_a_custom_env_module_that_cannot_be_imported_is_named():
    with pytest.raises(SpecError, match=r"cannot import '\.relative' for its env"):
        env_ids.check_env_id(".relative:Maze-v0")
