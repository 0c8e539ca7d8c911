"""Returns and advantages as pure functions over time-major arrays.

Conventions (shared by every algorithm): arrays are time-major `(T, ...)`; for step t,
`rewards[t]` follows the action at t, `terminated[t]` says the episode truly ended there
(no bootstrap), `truncated[t]` says it was cut by a time limit (bootstrap from the final
observation), and `next_values[t]` is V of the observation that followed step t *within the
same episode* (the env's `info["final_obs"]`), so truncated steps bootstrap correctly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def td_errors(rewards, values, next_values, terminated, gamma):
    """One-step TD errors `r_t + gamma * (1 - terminated_t) * V(s'_t) - V(s_t)`."""
    not_terminated = 1.0 - terminated.astype(values.dtype)
    return rewards + gamma * not_terminated * next_values - values


def gae(rewards, values, next_values, terminated, truncated, gamma, gae_lambda):
    """Generalised advantage estimation (Schulman et al., 2016).

    Args:
      rewards, values, next_values: float arrays `(T, ...)`.
      terminated, truncated: bool arrays `(T, ...)`.
      gamma, gae_lambda: scalars (may be traced).

    Returns:
      `(advantages, returns)`, both `(T, ...)`, with `returns = advantages + values`.
      Bootstraps from `next_values` unless terminated; the recursion never crosses an
      episode boundary (terminated or truncated).
    """
    deltas = td_errors(rewards, values, next_values, terminated, gamma)
    continues = 1.0 - jnp.logical_or(terminated, truncated).astype(values.dtype)

    def backward(carry, xs):
        delta, cont = xs
        advantage = delta + gamma * gae_lambda * cont * carry
        return advantage, advantage

    _, advantages = jax.lax.scan(
        backward, jnp.zeros_like(deltas[0]), (deltas, continues), reverse=True
    )
    return advantages, advantages + values


def lambda_returns(rewards, next_values, terminated, truncated, gamma, lambda_):
    """TD(lambda) returns within episodes (Watkins' Q(lambda) targets when `next_values`
    holds `max_a Q(s'_t, a)`, as in PQN).

    `G_t = r_t + gamma * (1 - terminated_t) * tail_t`, with `tail_t = next_values[t]` at the
    last step of the batch and wherever the episode ended (a truncation bootstraps from
    the final observation's value), else `(1 - lambda) * next_values[t] + lambda * G_{t+1}`.
    lambda = 0 gives one-step targets; lambda = 1 the bootstrapped discounted return.

    Args:
      rewards, next_values: float arrays `(T, ...)`; `next_values[t]` is the value of the
        observation that followed step t within its episode (`info["final_obs"]`).
      terminated, truncated: bool arrays `(T, ...)`.
      gamma, lambda_: scalars (may be traced).

    Returns:
      `(T, ...)` returns.
    """
    not_terminated = 1.0 - terminated.astype(rewards.dtype)
    done = jnp.logical_or(terminated, truncated).astype(rewards.dtype)

    def backward(next_return, xs):
        reward, next_value, not_term, is_done = xs
        blended = (1.0 - lambda_) * next_value + lambda_ * next_return
        tail = is_done * next_value + (1.0 - is_done) * blended
        ret = reward + gamma * not_term * tail
        return ret, ret

    _, returns = jax.lax.scan(
        backward, next_values[-1], (rewards, next_values, not_terminated, done), reverse=True
    )
    return returns


def discounted_returns(rewards, next_values, terminated, truncated, gamma):
    """Bootstrapped discounted returns `G_t = r_t + gamma * G_{t+1}` within episodes.

    At the last step of the batch and at truncations the tail is `V(s'_t)` (`next_values`);
    at terminations it is zero. With `next_values = 0` this is the Monte-Carlo
    return-to-go over complete episodes. Shapes `(T, ...)`. (`lambda_returns` with
    lambda = 1.)
    """
    return lambda_returns(rewards, next_values, terminated, truncated, gamma, 1.0)
