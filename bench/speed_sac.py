"""SAC Pendulum-v1 frames/s: SLM Lab vs Stable-Baselines3, side by side, same hyperparameters.

    uv run --group bench python bench/speed_sac.py [--reps 2] [--frames 10000]

1 session, 1 env, replay 100k, batch 256, 256x256 ReLU MLPs (actor and twin critics), Adam lr 3e-4
for actor, critics and temperature, gamma 0.99, polyak 0.005, automatic temperature with target
entropy -1, one gradient step per env step after 1,000 random frames (SB3's defaults), CPU. Ours
runs as shipped (checkpoint rows every 500 frames); each program runs in a fresh process,
alternating. Frames/s = frames / training-loop wall time.
"""

import harness

FRAMES = 10_000
REPLAY = 100_000
BATCH = 256
LR = 3e-4
START = 1_000
TAU = 0.005
LOG_FREQUENCY = 500

SPEC = {
    "agent": {
        "name": "SoftActorCritic",
        "algorithm": {
            "name": "SoftActorCritic",
            "gamma": 0.99,
            "training_start_step": START,
            "training_frequency": 1,
            "training_iter": 1,
            "alpha_lr": LR,
        },
        "memory": {"name": "Replay", "batch_size": BATCH, "max_size": REPLAY},
        "net": {
            "type": "MLPNet",
            "hid_layers": [256, 256],
            "hid_layers_activation": "relu",
            "optim_spec": {"name": "Adam", "lr": LR},
            "polyak_coef": TAU,
            "gpu": False,
        },
    },
    "env": {"name": "Pendulum-v1", "num_envs": 1, "max_frame": FRAMES},
    "meta": {"max_session": 1, "log_frequency": LOG_FREQUENCY, "random_seed": 0},
}


def run_sb3(threads: int, frames: int) -> float:
    import torch
    from stable_baselines3 import SAC

    torch.set_num_threads(threads)
    model = SAC(
        "MlpPolicy",
        "Pendulum-v1",
        learning_rate=LR,
        buffer_size=REPLAY,
        learning_starts=START,
        batch_size=BATCH,
        tau=TAU,
        gamma=0.99,
        train_freq=1,
        gradient_steps=1,
        policy_kwargs={"net_arch": [256, 256]},
        device="cpu",
        seed=0,
        verbose=0,
    )
    return harness.time_learn(model, frames)


if __name__ == "__main__":
    harness.main(__file__, SPEC, run_sb3, FRAMES)
