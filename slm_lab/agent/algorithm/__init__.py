"""Algorithms, found by the `name` written in the spec."""

from slm_lab.agent.algorithm.dqn import DQN, DoubleDQN, VanillaDQN
from slm_lab.agent.algorithm.ppo import PPO
from slm_lab.agent.algorithm.random import Random
from slm_lab.agent.algorithm.sarsa import SARSA

ALGORITHMS = {
    "PPO": PPO,
    "Random": Random,
    "SARSA": SARSA,
    "VanillaDQN": VanillaDQN,
    "DQN": DQN,
    "DoubleDQN": DoubleDQN,
}
