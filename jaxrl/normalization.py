"""Running statistics for observation normalisation and reward scaling, kept in train states."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class RunningStats:
    """Mean and variance of a stream of arrays of shape `shape`, merged batch by batch
    (Chan et al.'s parallel algorithm). `count` starts at a tiny epsilon so the first
    batch dominates."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def create(cls, shape=()):
        return cls(
            mean=jnp.zeros(shape, jnp.float32),
            var=jnp.ones(shape, jnp.float32),
            count=jnp.asarray(1e-4, jnp.float32),
        )

    def update(self, batch) -> "RunningStats":
        """Merge `batch` of shape `(B, *shape)` (any number of leading axes)."""
        batch = batch.reshape((-1,) + self.mean.shape).astype(jnp.float32)
        batch_mean = batch.mean(0)
        batch_var = batch.var(0)
        batch_count = jnp.asarray(batch.shape[0], jnp.float32)
        delta = batch_mean - self.mean
        total = self.count + batch_count
        mean = self.mean + delta * batch_count / total
        m2 = self.var * self.count + batch_var * batch_count + delta**2 * self.count * batch_count / total
        return RunningStats(mean=mean, var=m2 / total, count=total)


def normalize(x, stats: RunningStats | None, clip: float = 10.0, eps: float = 1e-8):
    """`(x - mean) / std`, clipped to [-clip, clip]; identity when `stats` is None."""
    if stats is None:
        return x
    return jnp.clip((x - stats.mean) / jnp.sqrt(stats.var + eps), -clip, clip)


def scale_rewards(rewards, running_returns, stats: RunningStats, done, gamma, eps: float = 1e-8):
    """Reward scaling as in SB3's VecNormalize: divide rewards by the running std of the
    discounted return.

    Args:
      rewards, done: `(T, N)`; running_returns: `(N,)` discounted return carried across
      batches; stats: RunningStats over scalars; gamma: scalar.
    Returns:
      `(scaled_rewards, running_returns, stats)`.
    """

    def step(ret, xs):
        reward, is_done = xs
        ret = ret * gamma + reward
        return ret * (1.0 - is_done.astype(ret.dtype)), ret

    running_returns, returns = jax.lax.scan(step, running_returns, (rewards, done))
    stats = stats.update(returns)
    return rewards / jnp.sqrt(stats.var + eps), running_returns, stats


def scale_rollout_rewards(state, traj, gamma):
    """`scale_rewards` over a rollout `traj` (episodes end where it terminated or
    truncated) with the running returns and statistics an on-policy train state carries
    (`state.running_returns`, `state.reward_stats`). Returns `(scaled rewards (T, N), state)`
    with both moved on."""
    rewards, running_returns, reward_stats = scale_rewards(
        traj.reward, state.running_returns, state.reward_stats,
        jnp.logical_or(traj.terminated, traj.truncated), gamma)
    return rewards, state.replace(running_returns=running_returns, reward_stats=reward_stats)
