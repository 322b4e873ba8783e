"""Memories, found by the `name` written in the spec (its registration names the module)."""
