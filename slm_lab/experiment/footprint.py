"""The memory a run needs, estimated before it starts: the sessions that train at once, each
holding its replay, its envs and its nets, against the memory available now. A run that cannot
fit is refused in one line before any folder, with the number per session (ResourceError); a
replay alone that cannot fit is already refused where it is built
(agent/memory/base.py:check_fits). The interpreter itself (Python, torch: a few hundred MB a
session process) is left out: what this process holds says little about a session's."""

import os
from dataclasses import dataclass
from pathlib import Path

from slm_lab.lib.errors import ResourceError, fmt_bytes
from slm_lab.lib.util import available_memory

NET_COPIES = 4  # a net's weights, their gradients and an optimizer's two moments (Adam)
STATM = Path("/proc/self/statm")


def resident() -> int:
    """Bytes this process holds in RAM now (0 where unknown)."""
    try:
        return int(STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@dataclass(frozen=True)
class Footprint:
    """One session's memory, in bytes."""

    replay: int
    envs: int
    nets: int
    num_envs: int

    @property
    def total(self) -> int:
        return self.replay + self.envs + self.nets

    def parts(self) -> str:
        return (
            f"replay {fmt_bytes(self.replay)}, {self.num_envs} envs {fmt_bytes(self.envs)}, "
            f"nets {fmt_bytes(self.nets)}"
        )


def session_footprint(agent, num_envs: int, one_env: int) -> Footprint:
    """A session of this agent with num_envs envs; `one_env`: the memory building one env
    added (its packages' first import included, as a session process pays it too)."""
    memory = agent.memory
    replay = getattr(memory, "stored_bytes", 0) if memory is not None else 0
    params = sum(
        p.numel() * p.element_size() for net in agent.nets.values() for p in net.parameters()
    )
    return Footprint(replay, num_envs * max(0, one_env), NET_COPIES * params, num_envs)


def check_fits(footprint: Footprint, sessions: int) -> None:
    """Refuse a run whose `sessions` at once would not fit in the memory available now."""
    need, free = sessions * footprint.total, available_memory()
    if need <= free:
        return
    raise ResourceError(
        f"the run needs about {fmt_bytes(need)} of memory and {fmt_bytes(free)} are available: "
        f"{sessions} sessions at once x {fmt_bytes(footprint.total)} each "
        f"({footprint.parts()}); lower meta.max_session, agent.memory.max_size or env.num_envs",
        "meta.max_session",
    )
