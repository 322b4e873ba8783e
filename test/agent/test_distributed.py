"""A3C: sessions in other processes train the one global net, and share Global* optimizer state."""

import pytest
import torch

from slm_lab.agent import Agent
from slm_lab.agent.distributed import attach, share
from slm_lab.experiment.loop import Clock
from slm_lab.experiment.session import make_env
from slm_lab.lib.errors import SpecError
from slm_lab.spec.validate import validate
from test.conftest import tiny_a2c, tiny_dqn, tiny_sac

PROCESS_TIMEOUT_S = 120


def a3c_spec(mode: str, optim: str = "GlobalAdam") -> dict:
    raw = tiny_a2c(max_session=2, distributed=mode)
    raw["agent"]["net"]["optim_spec"] = {"name": optim, "lr": 0.01}
    return validate(raw)[0]


def build(spec: dict) -> Agent:
    clock = Clock(spec["env"]["max_frame"], 1)
    return Agent(spec, make_env(spec, num_envs=1), clock)


def one_step(spec: dict, shared: dict) -> None:
    """A session process: attach to the global net and take one gradient step."""
    torch.manual_seed(1)
    algo = build(spec).algorithm
    attach(algo, shared, spec["meta"]["distributed"])
    out, value = algo.forward(torch.randn(8, 4))
    algo.optimize(out.square().mean() + value.square().mean())


def run_in_other_process(spec: dict, shared: dict) -> None:
    proc = torch.multiprocessing.get_context("spawn").Process(target=one_step, args=(spec, shared))
    proc.start()
    proc.join(PROCESS_TIMEOUT_S)
    assert proc.exitcode == 0


@pytest.mark.parametrize(
    ("mode", "optim"), [("shared", "GlobalAdam"), ("synced", "GlobalRMSprop"), ("synced", "AdamW")]
)
def test_a_step_in_another_process_changes_the_global_net(mode: str, optim: str):
    """AdamW (the original's a3c_cartpole specs): its defaults hold a key its class refuses."""
    spec = a3c_spec(mode, optim)
    algo = build(spec).algorithm
    assert type(algo.optims[0]).__name__ == optim
    shared = share(algo)
    before = [p.detach().clone() for p in shared["params"]["actor"]]
    run_in_other_process(spec, shared)
    after = shared["params"]["actor"]
    assert all(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    if optim.startswith("Global"):  # their moments are shared: the step counter moved here too
        steps = {float(state["step"]) for state in shared["optim_states"][0]}
        assert steps == {1.0}


def test_hogwild_session_nets_are_views_of_the_global_weights():
    spec = a3c_spec("shared")
    shared = share(build(spec).algorithm)
    algo = build(spec).algorithm
    attach(algo, shared, "shared")
    with torch.no_grad():
        next(algo.nets["critic"].parameters()).add_(1.0)
    torch.testing.assert_close(
        shared["params"]["critic"][0], next(algo.nets["critic"].parameters())
    )


def test_distributed_refused_for_off_policy():
    raw = tiny_dqn(distributed="shared")
    with pytest.raises(
        SpecError, match=r"shares the nets of .*SoftActorCritic.*not DoubleDQN"
    ) as err:
        validate(raw)
    assert err.value.path == "meta.distributed"


def test_distributed_sessions_all_run_at_once():
    from slm_lab.experiment import trial

    assert trial.worker_count(4, distributed=True, cores=2) == 4  # Hogwild: all together
    assert trial.worker_count(4, distributed=False, cores=2) == 2  # one session per core
    assert trial.worker_count(1, distributed=False, cores=2) == 1


@pytest.mark.parametrize("mode", ["shared", "synced"])
def test_sac_sessions_train_the_global_nets_with_their_own_temperature(mode: str):
    raw = tiny_sac(max_session=2, distributed=mode)
    spec = validate(raw)[0]
    shared = share(build(spec).algorithm)
    algo = build(spec).algorithm
    attach(algo, shared, mode)
    critic = next(algo.nets["q1"].parameters())
    torch.testing.assert_close(critic, shared["params"]["q1"][0])
    target = next(algo.target_nets.nets[0].parameters())
    torch.testing.assert_close(target, critic)  # the targets start from the global critics
    before = shared["params"]["actor"][0].clone()
    log_alpha = algo.log_alpha.item()
    actor_loss, entropy = algo.actor_loss(torch.randn(8, 3))
    algo.update_actor(actor_loss, entropy)
    assert not torch.equal(shared["params"]["actor"][0], before)  # the global actor moved
    assert algo.log_alpha.item() != log_alpha  # the session's own temperature stepped
