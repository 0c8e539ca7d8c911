"""What the rejax peer scripts share: our evaluation protocol (deterministic, 10 episodes)
over a rejax agent, and the versions the JSON lines report.

Imported by the scripts beside it, in rejax's own virtual environment; it imports nothing
from jaxrl.
"""

from importlib.metadata import version

import jax
import jax.numpy as jnp

VERSIONS = ("rejax", "jax", "flax", "gymnax")


def versions() -> dict:
    return {name: version(name) for name in VERSIONS}


def greedy_scores(algo_name: str, algo, train_state):
    """`obs (B, *obs_shape) -> (B, num_actions)` scores whose argmax is the deterministic
    action of rejax's trained agent: the policy's logits (PPO) or the Q-values (DQN, PQN)."""
    if algo_name == "ppo":
        return lambda obs: algo.actor.apply(train_state.actor_ts.params, obs,
                                            method=lambda m, o: m.action_logits(m.features(o)))
    return lambda obs: algo.agent.apply(train_state.q_ts.params, obs)


def greedy_returns(algo, scores, key, episodes: int = 10):
    """Undiscounted returns `(episodes,)` of the argmax of `scores` on rejax's env, each
    episode cut at the env's `max_steps_in_episode`."""
    env, env_params = algo.env, algo.env_params

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
