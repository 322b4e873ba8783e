"""Agent = algorithm + memory: acts on observations, stores transitions, trains when due."""

import numpy as np

from slm_lab.agent.algorithm import ALGORITHMS
from slm_lab.agent.memory import MEMORIES
from slm_lab.agent.memory.base import Layout
from slm_lab.lib.registry import lookup


class Agent:
    def __init__(
        self, spec: dict, env, clock, dev_checks: bool = False, memory: bool = True
    ) -> None:
        """`memory=False`: an agent that only acts (enjoy), with no replay to allocate."""
        agent_spec = spec["agent"]
        algo_cls = lookup(
            ALGORITHMS, agent_spec["algorithm"]["name"], "algorithm", "agent.algorithm.name"
        )
        self.algorithm = algo_cls(agent_spec, env, clock, dev_checks)
        self.memory = None
        if self.algorithm.learns and memory:
            memory_spec = agent_spec["memory"]
            mem_cls = lookup(MEMORIES, memory_spec["name"], "memory", "agent.memory.name")
            layout = Layout(
                num_envs=spec["env"]["num_envs"],
                obs_space=env.observation_space,
                action_space=env.action_space,
                horizon=self.algorithm.horizon,
                device=self.algorithm.device,
                clock=clock,
                frame_stack=env.frame_stack,
            )
            self.memory = mem_cls(memory_spec, layout)

    def act(self, obs: np.ndarray, explore: bool = True) -> np.ndarray:
        """Actions as the memory stores them (continuous ones in the distribution's own range)."""
        return self.algorithm.act(obs, explore)

    def to_env(self, action: np.ndarray) -> np.ndarray:
        """Stored actions -> the env's action space (continuous ones rescaled to its bounds)."""
        pd = self.algorithm.pd
        return action if pd is None else pd.to_env(action)

    def update(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """Store the vector step; the algorithm trains when it is due."""
        if self.memory is not None:
            ready = self.memory.add(obs, action, reward, next_obs, terminated, truncated)
            self.algorithm.learn(self.memory, ready)

    @property
    def nets(self) -> dict:
        return self.algorithm.nets
