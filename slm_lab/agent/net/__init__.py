"""Nets, found by the `type` written in the spec (its registration names the module)."""

from slm_lab.agent.net.base import WithLogStd
from slm_lab.agent.registered import registered_class


def build_net(net_spec: dict, in_shape, out_dims: list[int], head_stds, role: str | None = None):
    cls = registered_class("net", net_spec["type"])
    return cls(net_spec, tuple(in_shape), out_dims, head_stds, role=role)


def policy_net(net_spec: dict, shape: tuple, pd, extra_dims: list[int], role: str | None):
    """A net whose first head parametrises the action distribution (plus `extra_dims` heads);
    with `log_std_init`, a Gaussian's log std is a learnt parameter instead of an output."""
    stds = [net_spec["actor_init_std"], *[net_spec["critic_init_std"]] * len(extra_dims)]
    log_std = net_spec["log_std_init"]
    if log_std is None or not hasattr(pd, "split"):
        return build_net(net_spec, shape, [pd.param_dim, *extra_dims], stds, role=role)
    net = build_net(net_spec, shape, [pd.action_dim, *extra_dims], stds, role=role)
    return WithLogStd(net, pd.action_dim, log_std)
