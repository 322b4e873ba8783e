"""Random: uniform random actions, no learning (the baseline every score is measured against)."""

import numpy as np

from slm_lab.agent.algorithm.base import Algorithm


class Random(Algorithm):
    learns = False

    def act(self, obs: np.ndarray, explore: bool = True) -> np.ndarray:
        return self.env.batch_action_space.sample()
