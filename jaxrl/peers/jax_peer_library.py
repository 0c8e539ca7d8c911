"""What the scripts of the jax peers (rejax, PureJaxRL) share: our evaluation protocol
(deterministic, 10 episodes) on a gymnax 0.0.x env, timing vmapped seeds the way ours are
timed, and the versions their JSON lines report.

Imported by the scripts beside it, in the peer's own virtual environment; it imports nothing
from jaxrl.
"""

import json
import time
from importlib.metadata import version

import jax
import jax.numpy as jnp
import numpy as np


def versions(*names: str) -> dict:
    return {name: version(name) for name in names}


def warm_repeats(num_seeds: int) -> int:
    """As jaxrl.benchmark.warm_repeats: the fastest of a few runs for the short ones."""
    return 5 if num_seeds == 1 else 2 if num_seeds <= 8 else 1


def seed_runs(argv: list[str]) -> tuple[int, list[tuple[int, int]]]:
    """`TOTAL_STEPS SEED_COUNTS [--cold]` -> (total steps, [(seed count, warm runs), ...]):
    with `--cold` one seed run once, else each count run `warm_repeats` times."""
    cold = "--cold" in argv
    argv = [a for a in argv if a != "--cold"]
    total_steps = int(argv[0])
    if cold:
        return total_steps, [(1, 1)]
    return total_steps, [(n, warm_repeats(n)) for n in map(int, argv[1].split(","))]


def print_ppo_result(library: str, total_steps: int, seeds: list[dict], process_start: float,
                     versions_: dict, **fields) -> None:
    """The PPO scripts' one JSON line."""
    print(json.dumps({
        "library": library, "total_steps": total_steps, "cold_seconds": time.perf_counter() - process_start,
        "seeds": seeds, "versions": versions_, "jax_device": str(jax.devices()[0]), **fields,
    }))


def greedy_returns(env, env_params, scores, key, episodes: int = 10):
    """Undiscounted returns `(episodes,)` of the argmax of `scores(obs (B, *obs_shape)) ->
    (B, num_actions)` on a gymnax 0.0.x env (5-tuple steps), each episode cut at the env's
    `max_steps_in_episode`."""

    def episode(key):
        reset_key, key = jax.random.split(key)
        obs, state = env.reset(reset_key, env_params)

        def step(carry):
            obs, state, total, done, t, key = carry
            key, step_key = jax.random.split(key)
            action = jnp.argmax(scores(obs[None])[0])
            obs, state, reward, done, _ = env.step(step_key, state, action, env_params)
            return obs, state, total + reward, done, t + 1, key

        carry = jax.lax.while_loop(
            lambda c: jnp.logical_and(jnp.logical_not(c[3]), c[4] < env_params.max_steps_in_episode),
            step, (obs, state, jnp.zeros(()), jnp.array(False), 0, key))
        return carry[2]

    return jax.vmap(episode)(jax.random.split(key, episodes))


def time_vmapped_seeds(train, num_seeds: int, repeats: int, seed_returns, total_steps: int) -> dict:
    """Compile `jax.jit(jax.vmap(train))` over `num_seeds` keys, time `repeats` warm runs
    (the fastest counts) and evaluate: `seed_returns(output, eval_keys)` gives `(num_seeds,
    episodes)` returns of the trained seeds, one evaluation key each."""
    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    t = time.perf_counter()
    program = jax.jit(jax.vmap(train)).lower(keys).compile()
    compile_seconds = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        output = jax.block_until_ready(program(keys))
        times.append(time.perf_counter() - t)
    eval_keys = jax.random.split(jax.random.PRNGKey(1000), num_seeds)
    per_seed = np.asarray(seed_returns(output, eval_keys)).mean(axis=1)
    return {"num_seeds": num_seeds, "compile_seconds": compile_seconds, "warm_seconds": min(times),
            "steps_per_second": total_steps * num_seeds / min(times), "mean_return": float(per_seed.mean()),
            "min_seed_return": float(per_seed.min())}
