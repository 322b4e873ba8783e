"""Memories, found by the `name` written in the spec."""

from slm_lab.agent.memory.onpolicy import OnPolicyBatchReplay, OnPolicyReplay
from slm_lab.agent.memory.replay import PrioritizedReplay, Replay

MEMORIES = {
    "OnPolicyBatchReplay": OnPolicyBatchReplay,
    "OnPolicyReplay": OnPolicyReplay,
    "Replay": Replay,
    "PrioritizedReplay": PrioritizedReplay,
}
