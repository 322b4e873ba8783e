"""Memories, found by the `name` written in the spec."""

from slm_lab.agent.memory.onpolicy import OnPolicyBatchReplay

MEMORIES = {"OnPolicyBatchReplay": OnPolicyBatchReplay}
