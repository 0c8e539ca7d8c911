"""Stable-Baselines3 PPO on CartPole-v1 with the reference hyperparameters; prints one JSON line.

Run by `jaxrl benchmark --sb3` with the interpreter of a virtual environment that has
stable-baselines3 installed: `python sb3_ppo.py TOTAL_STEPS SEED`. With `--library sbx`
(in a virtual environment with sbx-rl) it trains sbx's PPO on the same hyperparameters, as
near as sbx has them (peer_library.py lists the differences, reported as "notes").
"""

import sys
import time

process_start = time.perf_counter()

import gymnasium as gym  # noqa: E402
import torch  # noqa: E402
from peer_library import adapt, algorithm, print_result, split_argv  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402


def main():
    library, argv = split_argv(sys.argv[1:])
    total_steps, seed = int(argv[0]), int(argv[1])
    env = make_vec_env("CartPole-v1", n_envs=4, seed=seed)
    hyperparameters = adapt(library, "ppo", dict(
        n_steps=128, batch_size=128, n_epochs=4,
        learning_rate=lambda progress_remaining: 2.5e-4 * progress_remaining,
        gamma=0.99, gae_lambda=0.95, clip_range=0.2, clip_range_vf=0.2, ent_coef=0.01,
        vf_coef=0.5, max_grad_norm=0.5, normalize_advantage=True,
        policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64]), activation_fn=torch.nn.Tanh),
    ))
    model = algorithm(library, "ppo")("MlpPolicy", env, device="cpu", seed=seed, verbose=0, **hyperparameters)
    learn_start = time.perf_counter()
    model.learn(total_timesteps=total_steps)
    learn_seconds = time.perf_counter() - learn_start
    eval_env = gym.make("CartPole-v1")
    eval_env.reset(seed=seed + 1000)
    mean_return, std_return = evaluate_policy(model, eval_env, n_eval_episodes=10, deterministic=True)
    print_result(library, "ppo", process_start, total_steps=total_steps, learn_seconds=learn_seconds,
                 mean_return=float(mean_return), std_return=float(std_return))


if __name__ == "__main__":
    main()
