"""rejax's PPO on CartPole-v1 with the reference hyperparameters; prints one JSON line.

Run by `jaxrl benchmark --peers rejax` with the interpreter of a virtual environment that has
rejax installed (rejax 0.1.3 steps gymnax's environments with the 0.0.x API: gymnax 0.0.9):
`python rejax_ppo.py TOTAL_STEPS SEED_COUNTS [--cold]`, SEED_COUNTS comma-separated (1,4,16).

For each seed count, rejax's `train` is vmapped over that many keys and jit-compiled (the way
rejax trains seeds in parallel), compiled once and then timed warm, the fastest of as many
runs as ours gets (3 for one seed, 2 up to 8, then 1). rejax evaluates its policy inside
`train` every `eval_freq` env steps; that callback is replaced by one that does nothing, so
the warm seconds are training only, as ours are. The return is ours too: a deterministic
(argmax) evaluation of 10 episodes per seed on gymnax's CartPole-v1, after training.
With `--cold`: one seed, trained once, and the JSON line is printed as soon as it is
evaluated (the benchmark times that process from the outside).
"""

import sys
import time

process_start = time.perf_counter()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax_peer_library import print_ppo_result, seed_runs, time_vmapped_seeds, versions  # noqa: E402
from rejax import PPO  # noqa: E402
from rejax_library import REJAX_VERSIONS, rejax_returns  # noqa: E402

ENV_ID = "CartPole-v1"
STEPS_PER_ITERATION = 4 * 128
# How rejax 0.1.3's PPO differs from the reference config given these arguments.
NOTES = [
    "constant learning rate 2.5e-4: rejax's PPO takes a scalar learning rate, no schedule (reference: "
    "annealed linearly to 0)",
    "actor and critic have separate Adam optimizers, each clipping its own gradient norm at max_grad_norm "
    "(SB3: one optimizer and one clip over both networks)",
    "init: flax's default (lecun normal) for every layer, where SB3 uses orthogonal gains sqrt(2), 0.01 and 1",
    "gymnax 0.0.9's CartPole-v1 (rejax steps envs with gymnax's 0.0.x API), resetting inside its step",
    "rejax's periodic evaluation inside train replaced by a no-op, so its warm seconds are training only",
]


def make_algo(total_steps: int):
    """rejax's PPO on the reference hyperparameters, training exactly `total_steps`
    (rounded down to whole 512-step iterations, as ours) with no evaluation inside."""
    steps = total_steps // STEPS_PER_ITERATION * STEPS_PER_ITERATION
    algo = PPO.create(
        env=ENV_ID, num_envs=4, num_steps=128, num_epochs=4, num_minibatches=4,
        learning_rate=2.5e-4, max_grad_norm=0.5, gamma=0.99, gae_lambda=0.95, clip_eps=0.2,
        ent_coef=0.01, vf_coef=0.5, total_timesteps=steps, eval_freq=steps,
        skip_initial_evaluation=True, normalize_observations=False, normalize_rewards=False,
        agent_kwargs={"activation": "tanh", "hidden_layer_sizes": (64, 64)},
    )
    return algo.replace(eval_callback=lambda algo, ts, rng: jnp.zeros(()))


def main():
    total_steps, counts = seed_runs(sys.argv[1:])
    algo = make_algo(total_steps)

    def seed_returns(output, eval_keys):
        train_states, _ = output
        return jax.jit(jax.vmap(lambda ts, key: rejax_returns("ppo", algo, ts, key)))(train_states, eval_keys)

    seeds = [time_vmapped_seeds(algo.train, n, repeats, seed_returns, algo.total_timesteps) for n, repeats in counts]
    print_ppo_result("rejax", algo.total_timesteps, seeds, process_start,
                     versions(*REJAX_VERSIONS), notes=NOTES)


if __name__ == "__main__":
    main()
