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

import json
import sys
import time

process_start = time.perf_counter()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from rejax import PPO  # noqa: E402
from rejax_library import greedy_returns, greedy_scores, versions  # noqa: E402

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


def warm_repeats(num_seeds: int) -> int:
    """As jaxrl.benchmark.warm_repeats: the fastest of a few runs for the short ones."""
    return 3 if num_seeds == 1 else 2 if num_seeds <= 8 else 1


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


def run(algo, num_seeds: int, repeats: int) -> dict:
    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    t = time.perf_counter()
    train = jax.jit(jax.vmap(algo.train)).lower(keys).compile()
    compile_seconds = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        train_state, _ = jax.block_until_ready(train(keys))
        times.append(time.perf_counter() - t)
    returns = jax.jit(jax.vmap(lambda ts, k: greedy_returns(algo, greedy_scores("ppo", algo, ts), k)))(
        train_state, jax.random.split(jax.random.PRNGKey(1000), num_seeds))
    per_seed = np.asarray(returns).mean(axis=1)
    steps = algo.total_timesteps
    return {"num_seeds": num_seeds, "compile_seconds": compile_seconds, "warm_seconds": min(times),
            "steps_per_second": steps * num_seeds / min(times), "mean_return": float(per_seed.mean()),
            "min_seed_return": float(per_seed.min())}


def main():
    argv = sys.argv[1:]
    cold = "--cold" in argv
    argv = [a for a in argv if a != "--cold"]
    total_steps, seed_counts = int(argv[0]), [int(n) for n in argv[1].split(",")]
    algo = make_algo(total_steps)
    if cold:
        seeds = [run(algo, 1, repeats=1)]
    else:
        seeds = [run(algo, n, warm_repeats(n)) for n in seed_counts]
    print(json.dumps({
        "library": "rejax",
        "total_steps": algo.total_timesteps,
        "cold_seconds": time.perf_counter() - process_start,
        "seeds": seeds,
        "versions": versions(),
        "jax_device": str(jax.devices()[0]),
        "notes": NOTES,
    }))


if __name__ == "__main__":
    main()
