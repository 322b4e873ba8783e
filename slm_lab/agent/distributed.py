"""A3C-style training (Mnih et al. 2016): the sessions of a trial train one global net in shared
memory, each from its own env and seed (`meta.distributed`).

- `shared` (Hogwild, Recht et al. 2011): every session's nets are views of the global weights, and
  its optimizer steps write into them directly;
- `synced`: every session learns on a local copy, hands its gradients to the global optimizer,
  then pulls the global weights back.
With `GlobalAdam` or `GlobalRMSprop`, the optimizer's moments are shared too; other optimizers
keep per-session moments. Which algorithms may: their registration (spec/registry.py).
Parameters of an optimizer outside the nets (SAC's temperature) stay each session's own, as the
original's async SAC kept its alpha per worker.
"""

import inspect

import torch
from torch import nn


def optim_params(optim: torch.optim.Optimizer) -> list[nn.Parameter]:
    return [p for group in optim.param_groups for p in group["params"]]


def share(algorithm) -> dict:
    """Move the algorithm's nets (and Global* optimizer states) to shared memory; the handle that
    session processes attach to."""
    for net in algorithm.nets.values():
        net.share_memory()
    states = []
    for optim in algorithm.optims:
        if hasattr(optim, "share_memory"):
            optim.share_memory()
            states.append([optim.state[p] for p in optim_params(optim)])
        else:
            states.append(None)
    params = {name: list(net.parameters()) for name, net in algorithm.nets.items()}
    return {"params": params, "optim_states": states}


def attach(algorithm, shared: dict, mode: str) -> None:
    """Make this session's algorithm train the global net of `shared`."""
    global_of = {
        id(p): g
        for name, net in algorithm.nets.items()
        for p, g in zip(net.parameters(), shared["params"][name], strict=True)
    }
    for optim, states in zip(algorithm.optims, shared["optim_states"], strict=True):
        if mode == "shared":
            for p in optim_params(optim):
                if id(p) in global_of:
                    p.data = global_of[id(p)].data
            share_state(optim, states)
    if mode == "synced":
        algorithm.optims = [
            Synced(optim, global_of, states)
            for optim, states in zip(algorithm.optims, shared["optim_states"], strict=True)
        ]
        for p in (p for net in algorithm.nets.values() for p in net.parameters()):
            p.data.copy_(global_of[id(p)].data)
    algorithm.attached()


def share_state(optim: torch.optim.Optimizer, states: list[dict] | None) -> None:
    if states is None:
        return
    for p, state in zip(optim_params(optim), states, strict=True):
        optim.state[p] = state


class Synced:
    """Stands in for a session's optimizer: steps a global twin with the local gradients, then
    copies the global weights into the local net."""

    def __init__(self, local: torch.optim.Optimizer, global_of: dict, states) -> None:
        self.local = optim_params(local)
        twin = {id(p): global_twin(p, global_of) for p in self.local}
        self.glob = [twin[id(p)] for p in self.local]
        groups = [
            {
                **{k: v for k, v in g.items() if k != "params"},
                "params": [twin[id(p)] for p in g["params"]],
            }
            for g in local.param_groups
        ]
        self.optim = type(local)(groups, **constructor_kwargs(local))
        share_state(self.optim, states)
        self.param_groups = local.param_groups  # what LR schedulers change

    def step(self) -> None:
        for group, local in zip(self.optim.param_groups, self.param_groups, strict=True):
            group["lr"] = local["lr"]
        for g, p in zip(self.glob, self.local, strict=True):
            g.grad = p.grad
        self.optim.step()
        with torch.no_grad():
            for g, p in zip(self.glob, self.local, strict=True):
                p.copy_(g)

    def state_dict(self) -> dict:
        return self.optim.state_dict()


def constructor_kwargs(optim: torch.optim.Optimizer) -> dict:
    """The optimizer's defaults that its class takes back (AdamW keeps `decoupled_weight_decay`
    among them but does not accept it; the groups carry every value anyway)."""
    accepted = inspect.signature(type(optim).__init__).parameters
    return {k: v for k, v in optim.defaults.items() if k in accepted}


def global_twin(p: nn.Parameter, global_of: dict) -> nn.Parameter:
    """The global parameter a local one steps; a parameter outside the nets is its own."""
    return nn.Parameter(global_of[id(p)].data) if id(p) in global_of else p
