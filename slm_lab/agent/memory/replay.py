"""Replay and PrioritizedReplay: preallocated circular arrays of (row = vector step, env) slots.

Each slot stores the observation acted on, the action, reward and end flags; the next observation
is the next row's, so it is never stored twice. Exceptions are few and kept aside: the real last
observation of a truncated episode (the next row holds the reset observation), and, for stacked
image frames, the first stack of each episode. Image slots hold only the newest frame of their
stack; stacks are rebuilt from the previous rows when sampled. Terminal transitions are not
bootstrapped, so their next observation is a placeholder (their own).
"""

import math

import numpy as np
import torch

from slm_lab.agent.memory.base import ITEM_BYTES, Layout, check_fits, to_device
from slm_lab.agent.memory.sum_tree import SumTree
from slm_lab.lib.state import Stateful

SEED_RANGE = 2**31


class Replay(Stateful):
    """Uniform sampling with replacement; `use_cer` also puts the newest vector step in every batch
    (combined experience replay, Zhang & Sutton 2017)."""

    prioritized = False  # takes new priorities after each batch (update_priorities)
    arrays = ("frames", "action", "reward", "terminated", "truncated", "first")
    state_attrs = (*arrays, "finals", "starts", "head", "count", "new_episode", "rng")

    def __init__(self, memory_spec: dict, layout: Layout) -> None:
        self.batch_size = memory_spec["batch_size"]
        self.max_size = memory_spec["max_size"]
        self.use_cer = memory_spec["use_cer"]
        self.device = layout.device
        self.envs = layout.num_envs
        self.k = layout.frame_stack
        self.capacity = math.ceil(self.max_size / self.envs)  # rows that can be sampled
        self.rows = self.capacity + self.k  # room for the next row and the oldest stacks' history
        obs_shape = layout.obs_space.shape
        frame_shape = obs_shape[1:] if self.k > 1 else obs_shape
        check_fits(
            self.nbytes(layout, frame_shape),
            f"a replay of {self.max_size} transitions",
            "agent.memory.max_size",
        )
        shape = (self.rows, self.envs)
        self.frames = np.zeros((*shape, *frame_shape), layout.obs_dtype)
        self.action = np.zeros((*shape, *layout.action_shape), layout.action_dtype)
        self.reward = np.zeros(shape, np.float32)
        self.terminated = np.zeros(shape, np.float32)
        self.truncated = np.zeros(shape, bool)
        self.first = np.zeros(shape, bool)  # the slot starts an episode
        # flat (slot,) views of the same memory: one index per item when sampling
        self.flat = {
            name: getattr(self, name).reshape(self.rows * self.envs, *getattr(self, name).shape[2:])
            for name in ("frames", "action", "reward", "terminated", "truncated")
        }
        self.finals: dict[int, np.ndarray] = {}  # slot -> real last obs of a truncated episode
        self.starts: dict[int, np.ndarray] = {}  # slot -> first stack of an episode (k > 1)
        self.head = -1  # newest row written
        self.count = 0  # rows written in all
        self.new_episode = np.ones(self.envs, bool)
        self.all_envs = np.arange(self.envs)
        self.rng = np.random.default_rng(np.random.randint(SEED_RANGE))

    def nbytes(self, layout: Layout, frame_shape: tuple) -> int:
        frame_bytes = math.prod(frame_shape) * layout.obs_dtype.itemsize
        act_bytes = max(1, math.prod(layout.action_shape)) * layout.action_dtype.itemsize
        slot_bytes = frame_bytes + act_bytes + ITEM_BYTES + 2  # reward+terminated, two flags
        return (self.capacity + layout.frame_stack) * layout.num_envs * slot_bytes

    @property
    def stored_bytes(self) -> int:
        """The memory a checkpoint of this replay takes."""
        return sum(getattr(self, name).nbytes for name in self.arrays)

    @property
    def size(self) -> int:
        """Transitions that can be sampled."""
        return min(self.count, self.capacity) * self.envs

    def slot(self, row: int, env: int) -> int:
        return row * self.envs + env

    def newest(self, x: np.ndarray) -> np.ndarray:
        """The frame a slot stores: the newest of a stack, or the whole observation."""
        return x[:, -1] if self.k > 1 else x

    def add(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """Store one vector step; its transitions can be sampled at once."""
        t = (self.head + 1) % self.rows
        self.head = t
        self.count += 1
        self.frames[t] = self.newest(obs)
        self.action[t] = action
        self.reward[t] = reward
        self.terminated[t] = terminated
        self.truncated[t] = truncated
        self.first[t] = self.new_episode
        if self.k > 1 and self.new_episode.any():
            for env in np.flatnonzero(self.new_episode):
                self.starts[self.slot(t, env)] = obs[env].copy()
        if truncated.any():
            for env in np.flatnonzero(truncated):
                self.finals[self.slot(t, env)] = next_obs[env].copy()
        self.new_episode = terminated | truncated
        self.prepare_next_row(next_obs)

    def prepare_next_row(self, next_obs: np.ndarray) -> None:
        """Write the next observations into the next row (the oldest, now given up), so the
        newest transitions have theirs; the next `add` rewrites the row with what is acted on."""
        n = (self.head + 1) % self.rows
        if self.finals or self.starts:
            for env in range(self.envs):
                self.finals.pop(self.slot(n, env), None)
                self.starts.pop(self.slot(n, env), None)
        self.frames[n] = self.newest(next_obs)
        self.first[n] = self.new_episode

    def draw(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows and envs of a uniform batch (age 0 is the head row)."""
        item = self.rng.integers(0, self.size, self.batch_size)
        age, envs = np.divmod(item, self.envs)
        return (self.head - age) % self.rows, envs

    def with_cer(self, rows: np.ndarray, envs: np.ndarray) -> None:
        """Put the newest vector step at the end of the batch."""
        if not self.use_cer:
            return
        n = min(self.envs, len(rows))
        rows[-n:] = self.head
        envs[-n:] = self.all_envs[:n]

    def sample(self) -> dict[str, torch.Tensor]:
        rows, envs = self.draw()
        self.with_cer(rows, envs)
        return to_device(self.gather(rows, envs), self.device)

    def gather(self, rows: np.ndarray, envs: np.ndarray) -> dict[str, np.ndarray]:
        slots = rows * self.envs + envs
        flat = self.flat
        terminated = flat["terminated"][slots]
        truncated = flat["truncated"][slots]
        next_rows = (rows + 1) % self.rows
        if terminated.any() or truncated.any():
            next_rows[(terminated > 0) | truncated] = rows[(terminated > 0) | truncated]
        next_obs = self.stack(next_rows, envs)
        for i in np.flatnonzero(truncated):
            next_obs[i] = self.finals[int(slots[i])]
        return {
            "obs": self.stack(rows, envs),
            "action": flat["action"][slots],
            "reward": flat["reward"][slots],
            "next_obs": next_obs,
            "terminated": terminated,
        }

    def stack(self, rows: np.ndarray, envs: np.ndarray) -> np.ndarray:
        """Observations of these slots (stacks rebuilt from the previous rows of the same env)."""
        if self.k == 1:
            return self.flat["frames"][rows * self.envs + envs]
        k = self.k
        hist = (rows[:, None] + np.arange(1 - k, 1)) % self.rows  # oldest .. newest
        out = self.frames[hist, envs[:, None]]
        starts = self.first[hist[:, 1:], envs[:, None]]  # an episode starts inside the stack
        for i in np.flatnonzero(starts.any(1)):
            p = k - 1 - int(np.argmax(starts[i, ::-1]))  # position of the latest start
            first = self.starts[self.slot(hist[i, p], envs[i])]
            out[i, :p] = first[k - 1 - p : k - 1]  # the frames that start stack held before it
        return out


class PrioritizedReplay(Replay):
    """Prioritized experience replay (Schaul et al. 2016), proportional variant.

    Priority (|td| + epsilon)^alpha in a sum tree; new transitions get the highest priority seen.
    No importance-sampling weights by default, as the original lab; `importance_sampling: true`
    adds (N P(i))^-beta / max over the batch, with beta annealed linearly from its spec value to
    1 at the last frame.
    """

    prioritized = True
    state_attrs = (*Replay.state_attrs, "tree", "max_priority")

    def __init__(self, memory_spec: dict, layout: Layout) -> None:
        super().__init__(memory_spec, layout)
        self.alpha = memory_spec["alpha"]
        self.epsilon = memory_spec["epsilon"]
        self.beta0 = memory_spec["beta"]
        self.importance_sampling = memory_spec["importance_sampling"]
        self.clock = layout.clock
        self.tree = SumTree(self.rows * self.envs)
        self.max_priority = 1.0
        self.idx = np.zeros(0, np.int64)

    @property
    def beta(self) -> float:
        progress = min(1.0, self.clock.frame / max(1, self.clock.max_frame))
        return self.beta0 + (1.0 - self.beta0) * progress

    def add(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        super().add(obs, action, reward, next_obs, terminated, truncated)
        slots = self.head * self.envs + self.all_envs
        if self.count <= self.capacity:
            self.tree.set(slots, self.max_priority)
            return
        # the oldest row left the sampled window: one tree update for both rows
        old = (self.head - self.capacity) % self.rows * self.envs + self.all_envs
        priority = np.repeat([self.max_priority, 0.0], self.envs)
        self.tree.set(np.concatenate([slots, old]), priority)

    def sample(self) -> dict[str, torch.Tensor]:
        idx = self.tree.sample(self.batch_size, self.rng)
        rows, envs = np.divmod(idx, self.envs)
        self.with_cer(rows, envs)
        self.idx = rows * self.envs + envs
        batch = self.gather(rows, envs)
        if self.importance_sampling:
            batch["weight"] = self.weights(self.idx)
        return to_device(batch, self.device)

    def weights(self, idx: np.ndarray) -> np.ndarray:
        prob = self.tree.get(idx) / self.tree.total
        w = (self.size * prob) ** -self.beta
        return (w / w.max()).astype(np.float32)

    def update_priorities(self, td_error: np.ndarray) -> None:
        """New priorities for the batch last sampled, from its absolute TD errors."""
        priority = (np.abs(td_error) + self.epsilon) ** self.alpha
        self.tree.set(self.idx, priority)
        self.max_priority = max(self.max_priority, float(priority.max()))
