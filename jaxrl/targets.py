"""Target-network updates shared by the value-based and off-policy actor-critic agents, as
pure functions over parameter pytrees (jit- and vmap-safe; `tau` and `step` may be traced)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def hard_update(target, online, step, interval: int):
    """`online` where `step % interval == 0`, else `target` (a jit-safe periodic copy)."""
    copy = jnp.asarray(step) % interval == 0
    return jax.tree.map(lambda t, o: jnp.where(copy, o, t), target, online)


def soft_update(target, online, tau):
    """Polyak averaging: `tau * online + (1 - tau) * target`."""
    return jax.tree.map(lambda t, o: tau * o + (1.0 - tau) * t, target, online)
