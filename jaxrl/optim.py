"""Optimizers whose numeric hyperparameters are traced values from the train state, so one
compiled program serves a whole sweep (an optax transform built inside the update closes
over the traced scalars; its state layout does not depend on them)."""

from __future__ import annotations

import jax.numpy as jnp
import optax


def linear_decay(value, iteration, num_iterations: int, enabled: bool):
    """`value * (1 - iteration / num_iterations)` (floored at 0) if enabled, else `value`."""
    if not enabled:
        return value
    fraction = 1.0 - jnp.asarray(iteration, jnp.float32) / num_iterations
    return value * jnp.maximum(fraction, 0.0)


def on_one_vector(transform):
    """`transform` applied to the parameters and gradients raveled into one vector.

    The same arithmetic per element, in a few kernels over one array instead of a few per
    parameter array (the global norm sums the squares in another order, so floats may differ
    in the last bits). Small networks' updates are kernel-count bound on CPU: PPO's reference
    config on CartPole-v1 trains ~5-8% faster (docs/optimisation.md), and PQN's chunk
    compiles in ~0.3 s less. The optimizer state holds flat vectors. PPO and PQN use it; the
    others keep per-array updates, because a change in the last bits moves their learning
    tests (DQN's default config on CartPole-v1 ended at 415 instead of >= 475 with it) and
    their speed-up was not measured apart from noise."""
    return optax.flatten(transform)


def adam(learning_rate, max_grad_norm, eps=1e-5):
    """Global-norm gradient clipping, then Adam."""
    return optax.chain(
        optax.clip_by_global_norm(max_grad_norm),
        optax.scale_by_adam(eps=eps),
        optax.scale(-learning_rate),
    )


def rmsprop(learning_rate, max_grad_norm, decay=0.99, eps=1e-5):
    """Global-norm gradient clipping, then RMSProp (A2C's classic optimizer). The epsilon
    is added outside the square root, as in PyTorch's RMSprop (which SB3's A2C uses)."""
    return optax.chain(
        optax.clip_by_global_norm(max_grad_norm),
        optax.scale_by_rms(decay=decay, eps=eps, eps_in_sqrt=False),
        optax.scale(-learning_rate),
    )


def radam(learning_rate, max_grad_norm, eps=1e-8):
    """Global-norm gradient clipping, then Rectified Adam (Liu et al., 2020; PQN's choice):
    Adam whose early steps, while the second-moment estimate is unreliable, fall back to
    momentum SGD."""
    return optax.chain(
        optax.clip_by_global_norm(max_grad_norm),
        optax.scale_by_radam(eps=eps),
        optax.scale(-learning_rate),
    )
