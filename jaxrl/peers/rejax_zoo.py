"""rejax with its own tuned CartPole-v1 hyperparameters, trained until a deterministic
evaluation reaches a threshold; prints one JSON line.

Run by `jaxrl benchmark --peers rejax` with the interpreter of a virtual environment that has
rejax installed:

    python rejax_zoo.py ALGO ENV THRESHOLD MAX_STEPS EVAL_EVERY SEED

ALGO is ppo, dqn or pqn and ENV CartPole-v1, with the hyperparameters of rejax's
`configs/gymnax/cartpole.yaml` (TUNED below). rejax trains the whole budget in one compiled
program and evaluates inside it every `eval_freq` env steps; here that evaluation is ours
(the argmax action, 10 episodes, every EVAL_EVERY env steps) and reports each result to the
host with the wall time since process start. A compiled rejax run cannot stop early, so it
runs on to MAX_STEPS, and the time reported is that of the first evaluation at or above
THRESHOLD (imports and compilation included, the later training not).
"""

import json
import sys
import time

process_start = time.perf_counter()

import jax  # noqa: E402
import rejax  # noqa: E402
from jax_peer_library import versions  # noqa: E402
from rejax_library import REJAX_VERSIONS, rejax_returns  # noqa: E402

# rejax's configs/gymnax/cartpole.yaml, per algorithm (rejax's defaults for the rest).
TUNED = {
    ("ppo", "CartPole-v1"): dict(
        agent_kwargs={"activation": "tanh"}, num_envs=5, num_steps=100, num_epochs=5, num_minibatches=5,
        learning_rate=7.5e-4, max_grad_norm=0.5, total_timesteps=100_000, gamma=0.99, gae_lambda=0.95,
        clip_eps=0.2, ent_coef=0.01, vf_coef=0.5),
    ("dqn", "CartPole-v1"): dict(
        agent="DuelingQNetwork", agent_kwargs={"activation": "swish"}, num_envs=10, buffer_size=50_000,
        fill_buffer=5_000, batch_size=100, max_grad_norm=10, learning_rate=1e-3, num_epochs=5,
        total_timesteps=100_000, polyak=0.98, eps_start=1, eps_end=0.05, exploration_fraction=0.5,
        gamma=0.99, ddqn=True, normalize_observations=False),
    ("pqn", "CartPole-v1"): dict(
        num_envs=16, num_steps=128, num_minibatches=16, max_grad_norm=10, learning_rate=3e-4, num_epochs=5,
        total_timesteps=524_288, eps_start=1, eps_end=0.05, exploration_fraction=0.5, gamma=0.99,
        td_lambda=0.9, normalize_observations=False),
}
CLASSES = {"ppo": rejax.PPO, "dqn": rejax.DQN, "pqn": rejax.PQN}


def main():
    algo_name, env_id, threshold, max_steps, eval_every, seed = sys.argv[1:7]
    threshold, max_steps, eval_every, seed = float(threshold), int(max_steps), int(eval_every), int(seed)
    hyper = dict(TUNED[(algo_name, env_id)])
    if "exploration_fraction" in hyper:
        # The tuned schedule is a fraction of rejax's own budget, not of the cap.
        hyper["exploration_fraction"] *= hyper["total_timesteps"] / max_steps
    hyper.update(env=env_id, total_timesteps=max_steps, eval_freq=eval_every, skip_initial_evaluation=True)
    evaluations = []

    def record(env_steps, mean_return):
        evaluations.append((int(env_steps), float(mean_return), time.perf_counter() - process_start))

    def evaluate(algo, train_state, key):
        mean_return = rejax_returns(algo_name, algo, train_state, key).mean()
        jax.debug.callback(record, train_state.global_step, mean_return)
        return mean_return

    algo = CLASSES[algo_name].create(**hyper).replace(eval_callback=evaluate)
    learn_start = time.perf_counter()
    train_state, _ = jax.block_until_ready(jax.jit(algo.train)(jax.random.PRNGKey(seed)))
    learn_seconds = time.perf_counter() - learn_start
    reached = next(({"env_steps": steps, "seconds": seconds, "return": mean}
                    for steps, mean, seconds in evaluations if mean >= threshold), None)
    env_steps = int(train_state.global_step)
    print(json.dumps({
        "library": "rejax", "algo": algo_name, "env": env_id, "hyperparameters": "rejax-tuned",
        "threshold": threshold, "reached": reached, "evaluations": evaluations,
        "env_steps": env_steps, "learn_seconds": learn_seconds, "steps_per_second": env_steps / learn_seconds,
        "cold_seconds": time.perf_counter() - process_start, "versions": versions(*REJAX_VERSIONS),
        "jax_device": str(jax.devices()[0]),
    }))


if __name__ == "__main__":
    main()
