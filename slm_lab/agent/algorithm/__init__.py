"""Algorithms, found by the `name` written in the spec."""

from slm_lab.agent.algorithm.actor_critic import ActorCritic, Reinforce
from slm_lab.agent.algorithm.dqn import DQN, DoubleDQN, VanillaDQN
from slm_lab.agent.algorithm.ppo import PPO
from slm_lab.agent.algorithm.random import Random
from slm_lab.agent.algorithm.sac import CrossQ, SoftActorCritic
from slm_lab.agent.algorithm.sarsa import SARSA
from slm_lab.agent.algorithm.sil import PPOSIL, SIL

ALGORITHMS = {
    "Reinforce": Reinforce,
    "ActorCritic": ActorCritic,
    "PPO": PPO,
    "SoftActorCritic": SoftActorCritic,
    "CrossQ": CrossQ,
    "SIL": SIL,
    "PPOSIL": PPOSIL,
    "Random": Random,
    "SARSA": SARSA,
    "VanillaDQN": VanillaDQN,
    "DQN": DQN,
    "DoubleDQN": DoubleDQN,
}
