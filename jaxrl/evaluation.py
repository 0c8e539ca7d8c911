"""Policy evaluation: complete episodes from parallel envs, as a pure jit/vmap-able function."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.agent import Agent
from jaxrl.compilation import jit_light


def evaluate(agent: Agent, policy_params, key, num_episodes: int = 10, deterministic: bool = True,
             max_steps: int | None = None):
    """Run `num_episodes` episodes in parallel (one per env) until each has finished once.

    Args:
      agent: the agent whose `act`, `env` and `env_params` are used.
      policy_params: `agent.policy_params(state)` for one seed.
      key: PRNG key.
      num_episodes: static number of parallel episodes.
      deterministic: greedy/mean actions (default) or sampled ones.
      max_steps: static cap on steps; defaults to the env's time limit (every episode ends
        by then since the env truncates there).

    Returns:
      `(returns, lengths)`, each of shape `(num_episodes,)`: undiscounted return and length
      of the first episode of each env.
    """
    env, env_params = agent.env, agent.env_params
    limit = max_steps if max_steps is not None else int(env.max_episode_steps(env_params))
    reset_key, key = jax.random.split(key)
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(reset_key, num_episodes), env_params
    )
    act_keys = lambda k: jax.random.split(k, num_episodes)  # noqa: E731
    if agent.recurrent:
        # Each env plays only its first episode, so the hidden state starts at the first step.
        act = jax.vmap(agent.act, in_axes=(None, 0, 0, None, 0, None))
    else:
        act = jax.vmap(agent.act, in_axes=(None, 0, 0, None))

    def policy(obs, key, hidden, step):
        if agent.recurrent:
            return act(policy_params, obs, act_keys(key), deterministic, hidden, step == 0)
        return act(policy_params, obs, act_keys(key), deterministic), hidden

    hidden = None
    if agent.recurrent:  # zeros of the hidden state's shape
        hidden_shape = jax.eval_shape(lambda: policy(obs, key, None, 0))[1]
        hidden = jnp.zeros(hidden_shape.shape, hidden_shape.dtype)

    def cond(carry):
        step, finished = carry[0], carry[4]
        return jnp.logical_and(step < limit, ~finished.all())

    def body(carry):
        step, env_state, obs, key, finished, returns, lengths, hidden = carry
        key, act_key, env_key = jax.random.split(key, 3)
        action, hidden = policy(obs, act_key, hidden, step)
        obs, env_state, reward, terminated, truncated, _ = jax.vmap(
            env.step, in_axes=(0, 0, 0, None)
        )(jax.random.split(env_key, num_episodes), env_state, action, env_params)
        active = ~finished
        returns = returns + jnp.where(active, reward, 0.0)
        lengths = lengths + active.astype(jnp.int32)
        finished = finished | terminated | truncated
        return step + 1, env_state, obs, key, finished, returns, lengths, hidden

    init = (
        jnp.zeros((), jnp.int32), env_state, obs, key,
        jnp.zeros(num_episodes, bool), jnp.zeros(num_episodes, jnp.float32),
        jnp.zeros(num_episodes, jnp.int32), hidden,
    )
    final = jax.lax.while_loop(cond, body, init)
    return final[5], final[6]


def evaluate_seeds(agent: Agent, state, keys, episodes: int, deterministic: bool = True):
    """Evaluate every seed of a seed-vmapped train state (leading axis = seeds), one key per
    seed. Returns `(returns, lengths)`, each `(num_seeds, episodes)`; lightly compiled."""
    params = jax.vmap(agent.policy_params)(state)
    program = jit_light(jax.vmap(lambda p, k: evaluate(agent, p, k, episodes, deterministic)))
    return program(params, keys)


def evaluate_run(logdir, episodes: int = 10, deterministic: bool = True, seed: int = 0,
                 step: int | None = None) -> dict:
    """Evaluate every seed of a run directory's newest (or `step`) checkpoint.

    Runs `episodes` episodes per trained seed (keys from `seed`), deterministic by default.
    Returns statistics over all episodes and over seeds (per-seed means with their IQM and
    bootstrap 95% intervals)."""
    import numpy as np

    from jaxrl import stats
    from jaxrl.train import restore, run_keys

    agent, run_config, state, iteration = restore(logdir, step)
    num_seeds = int(run_config["num_seeds"])
    keys, _ = run_keys(seed, num_seeds)  # split(PRNGKey(seed), num_seeds), in one small program
    returns, lengths = (np.asarray(x) for x in evaluate_seeds(agent, state, keys, episodes, deterministic))
    per_seed = returns.mean(axis=1)
    over_seeds = stats.summarize(per_seed)
    return {
        "algo": agent.algo, "env": run_config["env"], "iteration": iteration,
        "env_steps": iteration * agent.steps_per_iteration, "num_seeds": num_seeds,
        "episodes_per_seed": episodes, "deterministic": deterministic, "seed": seed,
        "mean_return": float(returns.mean()), "std_return": float(returns.std()),
        "min_return": float(returns.min()), "max_return": float(returns.max()),
        "mean_episode_length": float(lengths.mean()),
        "per_seed_return": [float(r) for r in per_seed],
        "seeds": over_seeds,
    }
