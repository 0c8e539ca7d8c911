"""Roll complete fab episodes under a policy and collect their figures (pure, jit/vmap-safe)."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

__all__ = ["rollout_episodes"]

FIGURES = ("total_cost", "mean_tardiness", "mean_cycle_time", "throughput", "utilisation",
           "tardy_fraction", "lots_finished")


def rollout_episodes(env, params, policy: Callable, keys) -> dict[str, jax.Array]:
    """One episode per key on the bare (unwrapped) env: ``policy(obs, key) -> action``.

    Returns arrays ``(len(keys),)``: ``return`` (sum of rewards, = -total_cost), ``steps``
    (decisions) and the final ``info`` figures in FIGURES. The env's randomness is fixed by
    the reset key (processing-time noise is drawn at reset), so different policies run on
    the same keys see the same lots, due dates and processing times.
    """
    env = env.unwrapped

    def episode(key):
        reset_key, key = jax.random.split(key)
        obs, state = env.reset(reset_key, params)
        info_shape = jax.eval_shape(lambda: env.step(key, state, 0, params))[5]
        info = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), info_shape)

        def body(carry):
            obs, state, ret, done, key, steps, info = carry
            key, act_key, step_key = jax.random.split(key, 3)
            obs, state, reward, terminated, _, info = env.step(step_key, state,
                                                               policy(obs, act_key), params)
            return obs, state, ret + reward, terminated, key, steps + 1, info

        # At least one step: an episode whose every epoch was trivial ends inside reset, and
        # its single step (any action) terminates it and pays out the whole cost.
        carry = (obs, state, jnp.zeros((), jnp.float32), jnp.zeros((), bool), key,
                 jnp.zeros((), jnp.int32), info)
        _, _, ret, _, _, steps, info = jax.lax.while_loop(lambda c: ~c[3], body, carry)
        return {"return": ret, "steps": steps, **{k: info[k] for k in FIGURES}}

    return jax.vmap(episode)(keys)
