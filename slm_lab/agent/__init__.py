"""Agent = algorithm + memory: acts on observations, stores transitions, trains when due."""

import numpy as np

from slm_lab.agent.algorithm import ALGORITHMS
from slm_lab.agent.memory import MEMORIES
from slm_lab.lib.registry import lookup


class Agent:
    def __init__(self, spec: dict, env, clock, dev_checks: bool = False) -> None:
        agent_spec = spec["agent"]
        algo_cls = lookup(
            ALGORITHMS, agent_spec["algorithm"]["name"], "algorithm", "agent.algorithm.name"
        )
        self.algorithm = algo_cls(agent_spec, env, clock, dev_checks)
        self.memory = None
        if self.algorithm.learns:
            memory_spec = agent_spec["memory"]
            mem_cls = lookup(MEMORIES, memory_spec["name"], "memory", "agent.memory.name")
            self.memory = mem_cls(
                memory_spec,
                self.algorithm.horizon,
                spec["env"]["num_envs"],
                env.observation_space,
                env.action_space,
                self.algorithm.device,
            )

    def act(self, obs: np.ndarray, explore: bool = True) -> np.ndarray:
        return self.algorithm.act(obs, explore)

    def update(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """Store the vector step; train when the memory says a batch is ready."""
        if self.memory is not None and self.memory.add(
            obs, action, reward, next_obs, terminated, truncated
        ):
            self.algorithm.train(self.memory.sample())

    @property
    def nets(self) -> dict:
        return self.algorithm.nets
