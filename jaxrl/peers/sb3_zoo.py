"""Stable-Baselines3 with RL Zoo's tuned hyperparameters, trained until a deterministic
evaluation reaches a threshold; prints one JSON line.

Run by `jaxrl benchmark` with the interpreter of a virtual environment that has
stable-baselines3 installed:

    python sb3_zoo.py ALGO ENV THRESHOLD MAX_STEPS EVAL_EVERY SEED [same-as-ours] [--library sbx]

`same-as-ours` swaps the zoo hyperparameters for the identical-hyperparameter throughput
configuration (see IDENTICAL below). `--library sbx` (in a virtual environment with sbx-rl)
trains sbx's class with the same hyperparameters, as near as sbx has them (peer_library.py
lists the differences, reported as "notes"). Wall times are from process start (imports
included).
"""

import sys
import time

process_start = time.perf_counter()

import gymnasium as gym  # noqa: E402
from peer_library import adapt, algorithm, print_result, split_argv  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402

# rl-baselines3-zoo hyperparams/<algo>.yml entries (n_envs 1 unless stated).
ZOO = {
    ("dqn", "CartPole-v1"): dict(
        policy_kwargs=dict(net_arch=[256, 256]), learning_rate=2.3e-3, batch_size=64,
        buffer_size=100_000, learning_starts=1000, gamma=0.99, target_update_interval=10,
        train_freq=256, gradient_steps=128, exploration_fraction=0.16,
        exploration_final_eps=0.04),
    # hyperparams/sac.yml: learning_rate 1e-3, everything else SB3's SAC defaults (1 env,
    # buffer 1e6, 100 warm-up steps, batch 256, tau 0.005, one gradient step per env step,
    # automatic entropy, 256-256).
    ("sac", "Pendulum-v1"): dict(learning_rate=1e-3),
}
ZOO_STEPS = {("dqn", "CartPole-v1"): 50_000}  # the zoo's n_timesteps (sets exploration_fraction's horizon)

# Identical hyperparameters for a throughput comparison: 1 env, one gradient step per
# env step, the same network as our side.
IDENTICAL = {
    ("dqn", "CartPole-v1"): dict(
        policy_kwargs=dict(net_arch=[64, 64]), learning_rate=2.5e-4, batch_size=128,
        buffer_size=10_000, learning_starts=1000, gamma=0.99, target_update_interval=50,
        train_freq=1, gradient_steps=1, exploration_fraction=0.4, exploration_final_eps=0.05,
        max_grad_norm=10.0),
    ("sac", "Pendulum-v1"): dict(
        policy_kwargs=dict(net_arch=[256, 256]), learning_rate=1e-3, batch_size=256,
        buffer_size=1_000_000, learning_starts=100, gamma=0.99, tau=0.005, train_freq=1,
        gradient_steps=1),
}


class StopAtThreshold(BaseCallback):
    """Every `eval_every` env steps, evaluate deterministically (10 episodes); stop once the
    mean return reaches `threshold`, recording the wall time since process start."""

    def __init__(self, eval_env, threshold, eval_every):
        super().__init__()
        self.eval_env, self.threshold, self.eval_every = eval_env, threshold, eval_every
        self.next_eval = eval_every
        self.evaluations = []
        self.reached = None

    def _on_step(self) -> bool:
        if self.num_timesteps < self.next_eval:
            return True
        self.next_eval += self.eval_every
        mean, _ = evaluate_policy(self.model, self.eval_env, n_eval_episodes=10, deterministic=True)
        seconds = time.perf_counter() - process_start
        self.evaluations.append((self.num_timesteps, float(mean), seconds))
        if mean >= self.threshold:
            self.reached = {"env_steps": self.num_timesteps, "seconds": seconds, "return": float(mean)}
            return False
        return True


def main():
    library, argv = split_argv(sys.argv[1:])
    algo, env_id, threshold, max_steps, eval_every, seed = argv[:6]
    identical = len(argv) > 6 and argv[6] == "same-as-ours"
    threshold, max_steps, eval_every, seed = float(threshold), int(max_steps), int(eval_every), int(seed)
    hyper = (IDENTICAL if identical else ZOO)[(algo, env_id)]
    env = gym.make(env_id)
    if not identical and "exploration_fraction" in hyper:
        # The zoo's schedule is a fraction of its own budget, not of our (longer) cap.
        hyper = {**hyper, "exploration_fraction": hyper["exploration_fraction"]
                 * ZOO_STEPS[(algo, env_id)] / max_steps}
    model = algorithm(library, algo)("MlpPolicy", env, device="cpu", seed=seed, verbose=0,
                                     **adapt(library, algo, hyper))
    eval_env = gym.make(env_id)
    eval_env.reset(seed=seed + 1000)
    callback = StopAtThreshold(eval_env, threshold, eval_every)
    learn_start = time.perf_counter()
    model.learn(total_timesteps=max_steps, callback=callback)
    learn_seconds = time.perf_counter() - learn_start
    print_result(library, algo, process_start, algo=algo, env=env_id,
                 hyperparameters="identical" if identical else "rl-zoo", threshold=threshold,
                 reached=callback.reached, evaluations=callback.evaluations, env_steps=model.num_timesteps,
                 learn_seconds=learn_seconds, steps_per_second=model.num_timesteps / learn_seconds)


if __name__ == "__main__":
    main()
