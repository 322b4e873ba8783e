"""Algorithms, found by the `name` written in the spec."""

from slm_lab.agent.algorithm.ppo import PPO
from slm_lab.agent.algorithm.random import Random

ALGORITHMS = {"PPO": PPO, "Random": Random}
