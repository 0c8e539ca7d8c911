"""Stable-Baselines3 SAC on Pendulum-v1; prints one JSON line. Run with the interpreter of a
virtual environment that has stable-baselines3 installed (scripts/bench_sac.py does):

    python sb3_sac.py threshold SEED MAX_STEPS EVAL_EVERY THRESHOLD
        RL Zoo hyperparameters (hyperparams/sac.yml, Pendulum-v1: learning_rate 1e-3, the
        rest SB3's SAC defaults: 1 env, buffer 1e6, learning_starts 100, batch 256,
        tau 0.005, gamma 0.99, one gradient step per env step, automatic entropy, 256-256).
        Evaluates deterministically (10 episodes) every EVAL_EVERY env steps and stops at
        the first evaluation >= THRESHOLD; reports the wall time since process start.
    python sb3_sac.py throughput SEED STEPS
        The same hyperparameters; env steps per second of `learn` over STEPS steps.
"""

import json
import sys
import time

process_start = time.perf_counter()

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from stable_baselines3 import SAC  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402


def model_for(seed):
    return SAC("MlpPolicy", gym.make("Pendulum-v1"), learning_rate=1e-3, device="cpu", seed=seed,
               verbose=0)


class ThresholdCallback(BaseCallback):
    def __init__(self, eval_every, threshold, seed):
        super().__init__()
        self.eval_every, self.threshold = eval_every, threshold
        self.eval_env = gym.make("Pendulum-v1")
        self.eval_env.reset(seed=seed + 1000)
        self.evaluations = []
        self.reached = None

    def _on_step(self):
        if self.num_timesteps % self.eval_every:
            return True
        mean, _ = evaluate_policy(self.model, self.eval_env, n_eval_episodes=10, deterministic=True)
        elapsed = time.perf_counter() - process_start
        self.evaluations.append({"env_steps": self.num_timesteps, "mean_return": float(mean),
                                 "seconds": elapsed})
        if mean >= self.threshold:
            self.reached = {"env_steps": self.num_timesteps, "seconds": elapsed, "mean_return": float(mean)}
            return False
        return True


def main():
    mode, seed = sys.argv[1], int(sys.argv[2])
    versions = {"torch": torch.__version__, "stable_baselines3": __import__("stable_baselines3").__version__}
    model = model_for(seed)
    if mode == "threshold":
        max_steps, eval_every, threshold = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
        callback = ThresholdCallback(eval_every, threshold, seed)
        model.learn(total_timesteps=max_steps, callback=callback)
        print(json.dumps({"library": "stable-baselines3", "mode": mode, "seed": seed,
                          "reached": callback.reached, "evaluations": callback.evaluations,
                          "torch_threads": torch.get_num_threads(), "versions": versions}))
    else:
        steps = int(sys.argv[3])
        start = time.perf_counter()
        model.learn(total_timesteps=steps)
        seconds = time.perf_counter() - start
        print(json.dumps({"library": "stable-baselines3", "mode": mode, "seed": seed, "env_steps": steps,
                          "learn_seconds": seconds, "steps_per_second": steps / seconds,
                          "torch_threads": torch.get_num_threads(), "versions": versions}))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
