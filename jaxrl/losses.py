"""Policy-gradient losses shared by the on-policy algorithms, as pure functions over
flat batches `(B,)` (means over the batch). Importable and testable on their own."""

from __future__ import annotations

import jax.numpy as jnp


def normalize_advantages(advantages, eps: float = 1e-8):
    return (advantages - advantages.mean()) / (advantages.std() + eps)


def approx_kl(log_ratio):
    """Non-negative, unbiased estimate of KL(old || new) from `log_ratio = log pi_new(a) -
    log pi_old(a)` with `a ~ pi_old` (Schulman's k3 estimator): `(r - 1) - log r`."""
    return (jnp.exp(log_ratio) - 1.0) - log_ratio


def clipped_surrogate_loss(log_ratio, advantages, clip_eps):
    """PPO's clipped objective, negated: `-E[min(r A, clip(r, 1-eps, 1+eps) A)]`."""
    ratio = jnp.exp(log_ratio)
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    return -jnp.minimum(ratio * advantages, clipped * advantages).mean()


def kl_penalty_loss(log_ratio, advantages, kl_coef):
    """PPO's adaptive-KL objective, negated: `-E[r A] + beta * KL(old || new)`."""
    return -(jnp.exp(log_ratio) * advantages).mean() + kl_coef * approx_kl(log_ratio).mean()


def adapt_kl_coef(kl_coef, kl, kl_target, factor: float = 2.0, tolerance: float = 1.5,
                  bounds=(1e-4, 1e4)):
    """The adaptive penalty rule of Schulman et al. (2017): multiply beta by `factor` when
    the measured KL exceeds `tolerance * target`, divide it when KL is below
    `target / tolerance`, keep it otherwise (clipped to `bounds`)."""
    kl_coef = jnp.where(kl > tolerance * kl_target, kl_coef * factor, kl_coef)
    kl_coef = jnp.where(kl < kl_target / tolerance, kl_coef / factor, kl_coef)
    return jnp.clip(kl_coef, *bounds)


def value_loss(values, targets, old_values=None, clip_eps=None):
    """`0.5 * E[(V - target)^2]`; with `old_values` and `clip_eps`, PPO's clipped form
    `0.5 * E[max((V - t)^2, (V_old + clip(V - V_old, -eps, eps) - t)^2)]`."""
    error = jnp.square(values - targets)
    if old_values is not None:
        clipped = old_values + jnp.clip(values - old_values, -clip_eps, clip_eps)
        error = jnp.maximum(error, jnp.square(clipped - targets))
    return 0.5 * error.mean()


def policy_gradient_loss(log_probs, advantages, mask=None):
    """Vanilla policy gradient, negated: `-E[log pi(a|s) * A]` over `mask`ed samples
    (advantages are treated as constants)."""
    if mask is None:
        return -(log_probs * advantages).mean()
    mask = mask.astype(log_probs.dtype)
    return -(log_probs * advantages * mask).sum() / jnp.maximum(mask.sum(), 1.0)
