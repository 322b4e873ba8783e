"""Agent = algorithm + memory: acts on observations, stores each vector step in its memory, and
lets its algorithm learn when the algorithm's cadence says so."""

import numpy as np

from slm_lab.agent.compile import compile_algorithm
from slm_lab.agent.memory.base import Layout
from slm_lab.agent.registered import registered_class


def host(obs):
    """numpy observations as they are; a tensor as a numpy array (a view on the CPU)."""
    return obs if isinstance(obs, np.ndarray) else obs.cpu().numpy()


class Agent:
    def __init__(
        self, spec: dict, env, clock, dev_checks: bool = False, memory: bool = True
    ) -> None:
        """`memory=False`: an agent that only acts (enjoy), with no replay to allocate."""
        agent_spec = spec["agent"]
        algo_cls = registered_class("algorithm", agent_spec["algorithm"]["name"])
        self.algorithm = algo_cls(agent_spec, env, clock, dev_checks)
        if self.algorithm.learns and agent_spec["net"]["compile"]:
            compile_algorithm(self.algorithm)
        self.memory = None
        if self.algorithm.learns and memory:
            memory_spec = agent_spec["memory"]
            layout = Layout(
                num_envs=spec["env"]["num_envs"],
                obs_space=env.observation_space,
                action_space=env.action_space,
                rollout=self.algorithm.rollout,
                device=self.algorithm.device,
                clock=clock,
                frame_stack=env.frame_stack,
            )
            self.memory = registered_class("memory", memory_spec["name"])(memory_spec, layout)
            self.algorithm.wants_td = getattr(self.memory, "prioritized", False)

    def act(self, obs: np.ndarray, explore: bool = True) -> np.ndarray:
        """Actions as the memory stores them (continuous ones in the distribution's own range)."""
        return self.algorithm.act(obs, explore)

    def to_env(self, action: np.ndarray) -> np.ndarray:
        """Stored actions -> the env's action space (continuous ones rescaled to its bounds)."""
        pd = self.algorithm.pd
        return action if pd is None else pd.to_env(action)

    def store(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """One vector step into the memory (next_obs: each step's real next observation).
        Memories live on the host: observations an env hands over as tensors on a device are
        copied there (none on the CPU)."""
        if self.memory is not None:
            obs, next_obs = host(obs), host(next_obs)
            self.memory.add(obs, action, reward, next_obs, terminated, truncated)

    def learn(self) -> None:
        """The algorithm trains if its cadence says it is due."""
        if self.memory is not None:
            self.algorithm.learn(self.memory)

    @property
    def nets(self) -> dict:
        return self.algorithm.nets
