"""The policy distributions of the actor-critics (PPO, A2C, REINFORCE): a categorical for
discrete actions and a diagonal Gaussian for continuous ones, written here instead of taken
from distrax.

Why not distrax's: on XLA:CPU every `reduce` is a kernel of its own that nothing fuses
into, and a categorical over a few actions reduces its last axis many times per gradient
step (max and sum for the normalisation, once more for log-probabilities, entropy, and
the validity check distrax runs on every sample). Over `SMALL_ACTION_COUNT` or fewer
actions the reductions here are written out as sums of slices, which XLA fuses with the
elementwise work around them, so PPO's gradient step runs fewer, larger kernels
(docs/optimisation.md gives the before/after). Discrete policies also no longer import
distrax (with TensorFlow Probability), which took ~0.4 s of every cold start.

Samples use `jax.random.categorical` (Gumbel-max over the logits), as distrax does.

The diagonal Gaussian computes what distrax's `MultivariateNormalDiag(loc, scale)` computes,
in the same order of floating-point operations, so policies train the same parameters bit
for bit as they did with distrax (tests/test_networks.py), without importing it
(with TensorFlow Probability: ~0.3-0.5 s of every continuous-action cold start).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import struct

# Up to this many actions the action-axis reductions are unrolled (MinAtar has at most 6,
# Atari 18); beyond it a plain reduction is cheaper to compile and run.
SMALL_ACTION_COUNT = 18


def _reduce_actions(x, combine, reduce):
    """Reduce the last axis of `x` `(..., n)` -> `(...)`: `combine` over slices for small
    `n` (fusible), `reduce(x, axis=-1)` otherwise."""
    n = x.shape[-1]
    if n > SMALL_ACTION_COUNT:
        return reduce(x, axis=-1)
    out = x[..., 0]
    for i in range(1, n):
        out = combine(out, x[..., i])
    return out


def _sum_actions(x):
    return _reduce_actions(x, jnp.add, jnp.sum)


def _max_actions(x):
    return _reduce_actions(x, jnp.maximum, jnp.max)


@struct.dataclass
class Categorical:
    """A batch of categorical distributions over `n` actions, from unnormalised `logits`
    of shape `(..., n)` (masked actions carry a very negative logit: see
    `networks.masked_logits`). Batch shape `(...)`; actions are int32 in `[0, n)`."""

    logits: jax.Array

    @property
    def num_actions(self) -> int:
        return self.logits.shape[-1]

    def log_probs(self) -> jax.Array:
        """Normalised log-probabilities `(..., n)` (a log-softmax; the max is subtracted
        for stability and, as in `jax.nn.log_softmax`, not differentiated)."""
        shifted = self.logits - jax.lax.stop_gradient(_max_actions(self.logits))[..., None]
        return shifted - jnp.log(_sum_actions(jnp.exp(shifted)))[..., None]

    @property
    def probs(self) -> jax.Array:
        return jnp.exp(self.log_probs())

    def log_prob(self, action) -> jax.Array:
        """`log pi(action)` `(...)` for int actions `(...)`."""
        one_hot = action[..., None] == jnp.arange(self.num_actions)
        return _sum_actions(jnp.where(one_hot, self.log_probs(), 0.0))

    def entropy(self) -> jax.Array:
        """`-sum_a pi(a) log pi(a)` `(...)`; actions of probability 0 contribute 0."""
        log_probs = self.log_probs()
        probs = jnp.exp(log_probs)
        return -_sum_actions(jnp.where(probs > 0, probs * log_probs, 0.0))

    def mode(self) -> jax.Array:
        return jnp.argmax(self.logits, axis=-1).astype(jnp.int32)

    def sample(self, seed) -> jax.Array:
        return jax.random.categorical(seed, self.logits, axis=-1).astype(jnp.int32)

    def sample_and_log_prob(self, seed):
        action = self.sample(seed)
        return action, self.log_prob(action)


HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@struct.dataclass
class DiagGaussian:
    """A batch of Gaussians over `d`-dimensional actions with independent coordinates:
    means `loc` and standard deviations `scale`, both `(..., d)`. Batch shape `(...)`.
    Build one with `DiagGaussian.create(loc, scale)`.

    The formulas follow distrax's affine construction (a standard normal `z`, then
    `scale * z + loc`); where they look roundabout (`log(abs(scale))` and `1 / scale`
    computed once, up front, and the inverse as a product with the latter) it is to keep
    its arithmetic, gradients included, and so the parameters it trains, exactly.
    """

    loc: jax.Array
    scale: jax.Array
    inv_scale: jax.Array  # 1 / scale
    log_scale: jax.Array  # log |scale|

    @classmethod
    def create(cls, loc, scale) -> "DiagGaussian":
        inv_scale = 1.0 / scale
        return cls(loc=loc, scale=scale, inv_scale=inv_scale, log_scale=jnp.log(jnp.abs(scale)))

    def _log_det(self) -> jax.Array:
        """`sum(log |scale|)` `(...)`: the log-determinant of `z -> scale * z + loc`."""
        return jnp.sum(self.log_scale, axis=-1)

    @staticmethod
    def _standard_log_density(z) -> jax.Array:
        """Log-density `(...)` of standard normal draws `z` `(..., d)`."""
        return jnp.sum(-0.5 * jnp.square(z) - HALF_LOG_2PI, axis=-1)

    def log_prob(self, action) -> jax.Array:
        """`log pi(action)` `(...)` for actions `(..., d)`."""
        z = self.inv_scale * (action - self.loc)
        return self._standard_log_density(z) - self._log_det()

    def entropy(self) -> jax.Array:
        """`sum_i (1/2 + log(sqrt(2 pi) scale_i))` `(...)`."""
        standard = jnp.sum(0.5 + jnp.full(self.loc.shape, HALF_LOG_2PI, self.loc.dtype), axis=-1)
        return standard + self._log_det()

    def mode(self) -> jax.Array:
        return self.loc

    def sample(self, seed) -> jax.Array:
        return self.sample_and_log_prob(seed)[0]

    def sample_and_log_prob(self, seed):
        """An action `(..., d)` and its log-probability `(...)`."""
        z = jax.random.normal(seed, self.loc.shape, self.loc.dtype)
        return self.scale * z + self.loc, self._standard_log_density(z) - self._log_det()
