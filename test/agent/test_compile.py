"""`agent.net.compile`: the compiled acting forward and loss functions against eager ones on the
same weights and batch; the eager fallback on a compile failure; plain state dicts."""

import pytest
import torch
from loguru import logger

from slm_lab.agent.compile import Compiled
from slm_lab.lib.errors import SpecError
from slm_lab.spec.validate import validate
from test.agent.algorithm.test_sac import collect
from test.conftest import make_agent, tiny_dqn, tiny_ppo, tiny_sac

TOL = 1e-5  # fused kernels reorder float sums


def warnings_during(fn) -> list[str]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        fn()
    finally:
        logger.remove(sink)
    return lines


def test_a_compile_failure_runs_eagerly_after_one_warning(monkeypatch):
    def broken(fn, **_):
        def run(*args):
            raise RuntimeError("C++ compile error\nthe compiler's whole output")

        return run

    monkeypatch.setattr(torch, "compile", broken)
    f = Compiled(lambda x: x + 1, "f", None)
    results = []
    lines = warnings_during(lambda: results.extend([f(1), f(2), f(3)]))
    assert results == [2, 3, 4]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert lines[0].startswith("torch.compile failed on f (RuntimeError: C++ compile error)")


def graph_replay(fn, **_):
    """A stand-in for a CUDA graph: every call writes its outputs into the same static memory."""
    static = [torch.zeros(1), torch.zeros(1)]

    def run(*args):
        for buf, out in zip(static, fn(*args), strict=True):
            buf.copy_(out)
        return tuple(static)

    return run


@pytest.mark.parametrize(("mode", "kept"), [("reduce-overhead", [1.0, 2.0]), (None, [2.0, 4.0])])
def test_outputs_of_cuda_graphs_outlive_the_next_call(monkeypatch, mode, kept):
    """PPO keeps each minibatch's loss until its epochs end: under CUDA graphs
    (`reduce-overhead`) the outputs are copied, so an earlier one is not the later replay's."""
    monkeypatch.setattr(torch, "compile", graph_replay)
    f = Compiled(lambda x: (x, 2 * x), "f", mode)
    first, _ = f(torch.ones(1)), f(torch.full((1,), 2.0))
    assert [t.item() for t in first] == kept


def test_an_error_of_the_function_itself_still_raises(monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda fn, **_: fn)

    def bad(x):
        raise ValueError("shape mismatch")

    with pytest.raises(ValueError, match="shape mismatch"):
        Compiled(bad, "bad", None)(1)


def test_compile_is_a_boolean_net_key():
    raw = tiny_ppo()
    assert validate(raw)[0]["agent"]["net"]["compile"] is False
    raw["agent"]["net"]["compile"] = "yes"
    with pytest.raises(SpecError, match=r"agent\.net\.compile"):
        validate(raw)


def test_compile_wraps_functions_and_keeps_plain_state_dicts(monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda fn, **_: fn)  # no compiler run: wiring only
    raw = tiny_sac()
    raw["agent"]["net"]["compile"] = True
    agent, _ = make_agent(raw)
    algo = agent.algorithm
    for name in ("acting", "critic_loss", "actor_loss"):
        assert isinstance(getattr(algo, name), Compiled)
    keys = set(algo.nets["q1"].state_dict())
    assert keys == {k for k in keys if "_orig_mod" not in k} and keys


def tiny_crossq() -> dict:
    raw = tiny_sac()
    raw["agent"]["name"] = raw["agent"]["algorithm"]["name"] = "CrossQ"
    return raw


def tiny_discrete_crossq() -> dict:
    raw = tiny_crossq()
    raw["env"]["name"] = "CartPole-v1"  # its actor reads Q(s, .) kept by the critics' step
    return raw


def pair(raw: dict):
    """An eager agent and a compiled one built from the same seed (same weights, targets and
    temperature), and the eager one's env."""
    torch.manual_seed(0)
    eager, env = make_agent(raw)
    raw["agent"]["net"]["compile"] = True
    torch.manual_seed(0)
    compiled, _ = make_agent(raw)
    for name, net in eager.algorithm.nets.items():
        torch.testing.assert_close(compiled.algorithm.nets[name].state_dict(), net.state_dict())
    return eager, compiled, env


def loss_and_grads(algo, name: str, args: tuple):
    torch.manual_seed(1)
    out = getattr(algo, name)(*args)
    loss = out[0] if isinstance(out, tuple) else out
    params = [p for net in algo.nets.values() for p in net.parameters()]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return loss.detach(), [torch.zeros(()) if g is None else g for g in grads]


def off_policy_args(agent, env) -> dict[str, tuple]:
    collect(agent, env, 40)
    torch.manual_seed(2)
    batch = agent.memory.sample()
    return {"critic_loss": (batch,), "actor_loss": (batch["obs"],), "loss": (batch,)}


def ppo_args(agent, env) -> dict[str, tuple]:
    collect(agent, env, agent.algorithm.rollout)
    data = agent.algorithm.prepare(agent.memory.sample())
    return {"loss": (data, 0.2, 0.01)}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("raw", "args"),
    [
        (tiny_sac, off_policy_args),
        (tiny_crossq, off_policy_args),
        (tiny_discrete_crossq, off_policy_args),
        (tiny_dqn, off_policy_args),
        (tiny_ppo, ppo_args),
    ],
)
def test_compiled_learn_step_equals_eager(raw, args):
    import torch._inductor.config as inductor

    with inductor.patch(fallback_random=True):  # eager's random streams
        check_compiled_equals_eager(raw(), args)


def check_compiled_equals_eager(raw: dict, args) -> None:
    eager, compiled, env = pair(raw)
    inputs = args(eager, env)
    for name in compiled.algorithm.compiled_steps:
        loss_e, grads_e = loss_and_grads(eager.algorithm, name, inputs[name])
        loss_c, grads_c = loss_and_grads(compiled.algorithm, name, inputs[name])
        assert compiled.algorithm.__dict__[name].fn is not None, f"{name} fell back to eager"
        torch.testing.assert_close(loss_c, loss_e, atol=TOL, rtol=TOL)
        for g_c, g_e in zip(grads_c, grads_e, strict=True):
            torch.testing.assert_close(g_c, g_e, atol=TOL, rtol=TOL)
    obs = torch.as_tensor(env.reset(seed=3))
    with torch.inference_mode():
        torch.testing.assert_close(
            compiled.algorithm.acting(obs.float()), eager.algorithm.acting(obs.float())
        )
