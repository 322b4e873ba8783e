"""PPO CartPole-v1 frames/s: SLM Lab vs Stable-Baselines3, side by side, same hyperparameters.

    uv run --group bench python bench/speed_ppo.py [--reps 2] [--frames 100000]

1 session, 4 envs, 128 steps per env per rollout, 4 epochs x 4 minibatches (128), separate
64x64 tanh actor and critic, Adam lr 3e-4, gamma 0.99, lambda 0.95, clip 0.2, grad clip 0.5.
Ours runs as shipped (checkpoint rows, model saves every 500 frames); each program runs in a fresh
process, alternating, so machine noise hits both. Frames/s = frames / training-loop wall time.
"""

import harness

FRAMES = 100_000
NUM_ENVS = 4
HORIZON = 128
EPOCHS = 4
MINIBATCH = 128
LR = 3e-4
LOG_FREQUENCY = 500

SPEC = {
    "agent": {
        "name": "PPO",
        "algorithm": {
            "name": "PPO",
            "gamma": 0.99,
            "lam": 0.95,
            "clip_eps_spec": {"name": "no_decay", "start_val": 0.2},
            "entropy_coef_spec": {"name": "no_decay", "start_val": 0.0},
            "val_loss_coef": 0.5,
            "time_horizon": HORIZON,
            "minibatch_size": MINIBATCH,
            "training_epoch": EPOCHS,
        },
        "memory": {"name": "OnPolicyBatchReplay"},
        "net": {
            "type": "MLPNet",
            "shared": False,
            "hid_layers": [64, 64],
            "hid_layers_activation": "tanh",
            "init_fn": "orthogonal_",
            "actor_init_std": 0.01,
            "critic_init_std": 1.0,
            "clip_grad_val": 0.5,
            "use_same_optim": True,
            "optim_spec": {"name": "Adam", "lr": LR},
            "gpu": False,
        },
    },
    "env": {"name": "CartPole-v1", "num_envs": NUM_ENVS, "max_frame": FRAMES},
    "meta": {"max_session": 1, "log_frequency": LOG_FREQUENCY, "random_seed": 0},
}


def run_sb3(threads: int, frames: int) -> float:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(threads)
    env = make_vec_env("CartPole-v1", n_envs=NUM_ENVS, seed=0)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=HORIZON,
        batch_size=MINIBATCH,
        n_epochs=EPOCHS,
        learning_rate=LR,
        gamma=0.99,
        gae_lambda=0.95,
        clip_range=0.2,
        ent_coef=0.0,
        vf_coef=0.5,
        max_grad_norm=0.5,
        policy_kwargs={"net_arch": {"pi": [64, 64], "vf": [64, 64]}},
        device="cpu",
        seed=0,
        verbose=0,
    )
    return harness.time_learn(model, frames)


if __name__ == "__main__":
    harness.main(__file__, SPEC, run_sb3, FRAMES)
