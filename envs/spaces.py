"""Small, immutable, jit-friendly action/observation spaces.

``Discrete(n)`` holds the integers ``0 .. n-1`` (int32 scalars). ``Box(low, high,
shape, dtype)`` holds arrays of ``shape`` within ``[low, high]`` elementwise;
``low``/``high`` are stored as read-only numpy arrays broadcast to ``shape``, so they
are compile-time constants when a space is used inside ``jax.jit``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Space", "Discrete", "Box"]


class Space:
    """Base class: a set that can be sampled from and tested for membership."""

    shape: tuple[int, ...]
    dtype: Any

    def sample(self, key: jax.Array) -> jax.Array:
        raise NotImplementedError

    def contains(self, x: Any) -> jax.Array:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Discrete(Space):
    """The integers ``0, 1, ..., n - 1`` as int32 scalars."""

    n: int
    shape: tuple[int, ...] = dataclasses.field(default=(), init=False)
    dtype: Any = dataclasses.field(default=np.dtype(np.int32), init=False)

    def __post_init__(self):
        n = int(self.n)
        if n <= 0:
            raise ValueError(f"Discrete space needs n >= 1, got n={self.n!r}")
        object.__setattr__(self, "n", n)

    def sample(self, key: jax.Array) -> jax.Array:
        """A uniformly random element (int32 scalar)."""
        return jax.random.randint(key, (), 0, self.n, dtype=jnp.int32)

    def contains(self, x: Any) -> jax.Array:
        """Boolean scalar: ``x`` is an integer-valued scalar in ``[0, n)``."""
        x = jnp.asarray(x)
        if x.shape != ():
            return jnp.asarray(False)
        integral = x == jnp.round(x) if jnp.issubdtype(x.dtype, jnp.floating) else True
        return jnp.logical_and(jnp.logical_and(x >= 0, x < self.n), integral)

    def __repr__(self) -> str:
        return f"Discrete({self.n})"


@dataclasses.dataclass(frozen=True, eq=False)
class Box(Space):
    """Arrays of a fixed shape whose entries lie in ``[low, high]``.

    ``low`` and ``high`` may be scalars or arrays; they are broadcast to ``shape``
    (inferred from them when ``shape`` is None). Infinite bounds are allowed.
    """

    low: Any
    high: Any
    shape: tuple[int, ...] | None = None
    dtype: Any = np.float32

    def __post_init__(self):
        dtype = np.dtype(self.dtype)
        low = np.asarray(self.low, dtype=np.float64)
        high = np.asarray(self.high, dtype=np.float64)
        shape = np.broadcast_shapes(low.shape, high.shape) if self.shape is None else self.shape
        shape = tuple(int(d) for d in (shape if isinstance(shape, (tuple, list)) else (shape,)))
        low = np.broadcast_to(low, shape).astype(dtype)
        high = np.broadcast_to(high, shape).astype(dtype)
        if np.any(low > high):
            raise ValueError(f"Box needs low <= high everywhere, got low={low}, high={high}")
        low.setflags(write=False)
        high.setflags(write=False)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "dtype", dtype)

    def sample(self, key: jax.Array) -> jax.Array:
        """A random element: uniform where both bounds are finite, a shifted
        exponential where one side is unbounded, a standard normal where both are."""
        if jnp.issubdtype(self.dtype, jnp.integer):
            info = np.iinfo(self.dtype)
            lo = np.maximum(self.low, info.min // 2)
            hi = np.minimum(self.high, info.max // 2)
            return jax.random.randint(key, self.shape, lo, hi + 1, dtype=self.dtype)
        if jnp.issubdtype(self.dtype, jnp.bool_):
            return jax.random.bernoulli(key, 0.5, self.shape)
        low = np.asarray(self.low, np.float32)
        high = np.asarray(self.high, np.float32)
        lo_fin, hi_fin = np.isfinite(low), np.isfinite(high)
        if np.all(lo_fin & hi_fin):
            x = jax.random.uniform(key, self.shape, jnp.float32, low, high)
            return jnp.clip(x, low, high).astype(self.dtype)
        k_u, k_e, k_n = jax.random.split(key, 3)
        safe_low = np.where(lo_fin, low, 0.0)
        safe_high = np.where(hi_fin, high, 1.0)
        uniform = jax.random.uniform(k_u, self.shape, jnp.float32, safe_low, np.maximum(safe_high, safe_low))
        expo = jax.random.exponential(k_e, self.shape, jnp.float32)
        normal = jax.random.normal(k_n, self.shape, jnp.float32)
        x = jnp.where(
            lo_fin & hi_fin,
            uniform,
            jnp.where(lo_fin, safe_low + expo, jnp.where(hi_fin, safe_high - expo, normal)),
        )
        return x.astype(self.dtype)

    def contains(self, x: Any) -> jax.Array:
        """Boolean scalar: ``x`` has this shape and every entry is in bounds."""
        x = jnp.asarray(x)
        if tuple(x.shape) != self.shape:
            return jnp.asarray(False)
        return jnp.all(jnp.logical_and(x >= self.low, x <= self.high))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Box)
            and self.shape == other.shape
            and self.dtype == other.dtype
            and np.array_equal(self.low, other.low)
            and np.array_equal(self.high, other.high)
        )

    def __hash__(self) -> int:
        return hash((self.shape, str(self.dtype), self.low.tobytes(), self.high.tobytes()))

    def __repr__(self) -> str:
        def fmt(a):
            return str(a.flat[0]) if a.size and np.all(a == a.flat[0]) else np.array2string(a, threshold=6)

        return f"Box(low={fmt(self.low)}, high={fmt(self.high)}, shape={self.shape}, dtype={self.dtype.name})"
