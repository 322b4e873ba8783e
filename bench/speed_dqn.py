"""DQN CartPole-v1 frames/s: SLM Lab vs Stable-Baselines3, side by side, same hyperparameters.

    uv run --group bench python bench/speed_dqn.py [--reps 2] [--frames 50000]

1 session, 1 env, replay 10k, batch 64, Adam lr 1e-3, gamma 0.99, one gradient step per env step
after 1,000 frames, target net replaced every 500 steps, 64x64 ReLU MLP, Huber loss, gradient
norm clip 10, epsilon 1 -> 0.05 over the first 5,000 frames (SB3's defaults), CPU. Ours runs as
shipped (checkpoint rows every 500 frames); each program runs in a fresh process, alternating.
Frames/s = frames / training-loop wall time.
"""

import harness

FRAMES = 50_000
REPLAY = 10_000
BATCH = 64
LR = 1e-3
START = 1_000
TARGET_EVERY = 500
EXPLORE_FRAMES = 5_000
FINAL_EPS = 0.05
CLIP = 10.0
LOG_FREQUENCY = 500

SPEC = {
    "agent": {
        "name": "DQN",
        "algorithm": {
            "name": "DQN",
            "action_pdtype": "Argmax",
            "action_policy": "epsilon_greedy",
            "explore_var_spec": {
                "name": "linear_decay",
                "start_val": 1.0,
                "end_val": FINAL_EPS,
                "start_step": 0,
                "end_step": EXPLORE_FRAMES,
            },
            "gamma": 0.99,
            "training_start_step": START,
            "training_frequency": 1,
            "training_iter": 1,
            "training_batch_iter": 1,
        },
        "memory": {"name": "Replay", "batch_size": BATCH, "max_size": REPLAY},
        "net": {
            "type": "MLPNet",
            "hid_layers": [64, 64],
            "hid_layers_activation": "relu",
            "clip_grad_val": CLIP,
            "loss_spec": {"name": "SmoothL1Loss"},
            "optim_spec": {"name": "Adam", "lr": LR},
            "update_type": "replace",
            "update_frequency": TARGET_EVERY,
            "gpu": False,
        },
    },
    "env": {"name": "CartPole-v1", "num_envs": 1, "max_frame": FRAMES},
    "meta": {"max_session": 1, "log_frequency": LOG_FREQUENCY, "random_seed": 0},
}


def run_sb3(threads: int, frames: int) -> float:
    import torch
    from stable_baselines3 import DQN

    torch.set_num_threads(threads)
    model = DQN(
        "MlpPolicy",
        "CartPole-v1",
        learning_rate=LR,
        buffer_size=REPLAY,
        learning_starts=START,
        batch_size=BATCH,
        gamma=0.99,
        train_freq=1,
        gradient_steps=1,
        target_update_interval=TARGET_EVERY,
        exploration_fraction=EXPLORE_FRAMES / frames,
        exploration_final_eps=FINAL_EPS,
        max_grad_norm=CLIP,
        policy_kwargs={"net_arch": [64, 64]},
        device="cpu",
        seed=0,
        verbose=0,
    )
    return harness.time_learn(model, frames)


if __name__ == "__main__":
    harness.main(__file__, SPEC, run_sb3, FRAMES)
