"""A wide sum tree over priorities in numpy, updated and searched a whole batch at a time."""

import numpy as np

from slm_lab.lib.state import Stateful

FAN_OUT = 64  # children per node: 3 levels hold 262k priorities, 4 levels 16.8M


class SumTree(Stateful):
    """Leaf i holds priority p_i; every node above holds the sum of its FAN_OUT children.

    `find(u)` returns the leaf where the running sum of priorities first exceeds u, so a uniform u
    in [0, total) picks leaf i with probability p_i / total. A wide tree keeps the levels few, and
    each level is one vectorised gather and sum for the whole batch.
    """

    state_attrs = ("levels", "root")  # restored in place: the block views stay valid

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.levels: list[np.ndarray] = []  # leaves first; each level's length a multiple of B
        size = capacity
        while True:
            padded = -(-size // FAN_OUT) * FAN_OUT
            self.levels.append(np.zeros(padded, np.float64))
            size = padded // FAN_OUT
            if size == 1:
                break
        self.blocks = [level.reshape(-1, FAN_OUT) for level in self.levels]
        self.root = np.zeros(1, np.float64)
        # running sums within a block as one matrix product (faster than cumsum along rows)
        self.upper = np.triu(np.ones((FAN_OUT, FAN_OUT)))

    @property
    def total(self) -> float:
        return float(self.root[0])

    def get(self, idx: np.ndarray) -> np.ndarray:
        return self.levels[0][idx]

    def set(self, idx: np.ndarray, priority: np.ndarray | float) -> None:
        """Write leaves, then recompute the sums above them (repeated indices are harmless)."""
        node = np.asarray(idx)
        self.levels[0][node] = priority
        for depth, blocks in enumerate(self.blocks):
            node = node // FAN_OUT
            sums = blocks[node].sum(1)
            above = self.levels[depth + 1] if depth + 1 < len(self.levels) else self.root
            above[node] = sums

    def find(self, u: np.ndarray) -> np.ndarray:
        """Leaf index for each running-sum value u (0 <= u < total)."""
        u = u.astype(np.float64, copy=True)
        node = np.zeros(len(u), np.int64)
        rows = np.arange(len(u))
        for blocks in reversed(self.blocks):
            cum = blocks[node] @ self.upper
            child = np.minimum((cum <= u[:, None]).sum(1), FAN_OUT - 1)
            u -= np.where(child > 0, cum[rows, child - 1], 0.0)
            node = node * FAN_OUT + child
        return node

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n leaves drawn in proportion to priority, one from each of n equal slices of the total."""
        u = (np.arange(n) + rng.random(n)) * (self.total / n)
        idx = self.find(np.minimum(u, np.nextafter(self.total, 0)))
        empty = self.get(idx) <= 0  # float round-off can land on a zero leaf at a slice edge
        if empty.any():
            live = np.flatnonzero(self.levels[0][: self.capacity] > 0)
            idx[empty] = rng.choice(live, int(empty.sum()))
        return idx
