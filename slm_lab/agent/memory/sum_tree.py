"""A sum tree over priorities in one numpy array, updated and searched a whole batch at a time."""

import numpy as np


class SumTree:
    """Leaf i holds priority p_i; every inner node holds the sum of its two children.

    `find(u)` returns the leaf where the running sum of priorities first exceeds u, so a uniform u
    in [0, total) picks leaf i with probability p_i / total.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.leaf0 = 1 << max(0, (capacity - 1).bit_length())  # first leaf: a power of two
        self.depth = self.leaf0.bit_length() - 1
        self.tree = np.zeros(2 * self.leaf0, np.float64)

    @property
    def total(self) -> float:
        return float(self.tree[1])

    def get(self, idx: np.ndarray) -> np.ndarray:
        return self.tree[self.leaf0 + idx]

    def set(self, idx: np.ndarray, priority: np.ndarray | float) -> None:
        """Write leaves, then recompute their ancestors level by level (repeats are harmless)."""
        tree = self.tree
        node = self.leaf0 + np.asarray(idx)
        tree[node] = priority
        for _ in range(self.depth):
            node = node >> 1
            tree[node] = tree[2 * node] + tree[2 * node + 1]

    def find(self, u: np.ndarray) -> np.ndarray:
        """Leaf index for each running-sum value u (0 <= u < total)."""
        tree = self.tree
        node = np.ones(len(u), np.int64)
        u = u.astype(np.float64, copy=True)
        for _ in range(self.depth):
            left = 2 * node
            left_sum = tree[left]
            right = u >= left_sum
            u -= np.where(right, left_sum, 0.0)
            node = left + right
        return node - self.leaf0

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n leaves drawn in proportion to priority, one from each of n equal slices of the total."""
        u = (np.arange(n) + rng.random(n)) * (self.total / n)
        idx = self.find(np.minimum(u, np.nextafter(self.total, 0)))
        empty = self.get(idx) <= 0  # float round-off can land on a zero leaf at a slice edge
        if empty.any():
            live = np.flatnonzero(self.tree[self.leaf0 : self.leaf0 + self.capacity] > 0)
            idx[empty] = rng.choice(live, int(empty.sum()))
        return idx
