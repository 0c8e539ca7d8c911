"""On-device replay buffers and n-step targets as pure functions over pytree states.

One buffer serves every off-policy algorithm: a transition is any pytree of arrays (a dict
of obs, action, reward, discount, next_obs ... with whatever shapes and dtypes), and the
buffer stores each leaf as a `(capacity, *leaf.shape)` array. States are `flax.struct`
pytrees, so they live inside agent states, go through `lax.scan`, `jax.jit` (donate them:
`add` replaces the storage) and `jax.vmap` (one buffer per seed). Capacity and batch sizes
are static (they set shapes); `gamma`, `alpha`, `beta` may be traced.

Uniform replay::

    example = dict(obs=jnp.zeros(4), action=jnp.int32(0), reward=0.0, discount=0.0,
                   next_obs=jnp.zeros(4))
    buffer = uniform_init(example, capacity=100_000)
    buffer = add(buffer, batch)                          # leaves (B, ...), B <= capacity
    batch, indices = sample(buffer, key, batch_size=256) # uniform over the filled slots
    ready = can_sample(buffer, min_size=1_000)           # bool array, use in lax.cond

Prioritized replay (proportional variant, Schaul et al. 2016)::

    buffer = prioritized_init(example, capacity=100_000)
    buffer = prioritized_add(buffer, batch)              # new items get the max priority
    beta = linear_schedule(0.4, 1.0, num_updates, update_count)
    batch, indices, weights = prioritized_sample(buffer, key, 256, beta)
    loss = jnp.mean(weights * td_errors**2)
    buffer = prioritized_update(buffer, indices, td_errors, alpha=0.6)

n-step transitions from a time-major rollout `(T, N)` of N vectorised envs::

    transitions = n_step_transitions(obs, actions, rewards, terminated, truncated,
                                     final_obs, gamma, n=3)   # leaves (T, N, ...)
    flat = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), transitions)
    buffer = add(buffer, flat)
    # learner target: reward + discount * max_a Q_target(next_obs, a)

`final_obs[t]` is the observation that followed step t *within the same episode* (the env's
`info["final_obs"]`, see DESIGN.md), so truncated episodes bootstrap from the right state.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------


def linear_schedule(start, end, steps, count):
    """Linear interpolation from `start` (at `count = 0`) to `end` (at `count >= steps`),
    held at `end` afterwards. Used for the PER exponent beta (annealed to 1 so the
    importance weights fully correct the sampling bias by the end of training) and for
    epsilon-greedy exploration. All arguments may be traced; `steps <= 0` gives `end`."""
    steps = jnp.asarray(steps, jnp.float32)
    frac = jnp.clip(jnp.asarray(count, jnp.float32) / jnp.maximum(steps, 1.0), 0.0, 1.0)
    frac = jnp.where(steps > 0, frac, 1.0)
    return start + frac * (end - start)


def _capacity(data) -> int:
    return jax.tree.leaves(data)[0].shape[0]


def _batch_size(batch) -> int:
    sizes = {leaf.shape[0] for leaf in jax.tree.leaves(batch)}
    if len(sizes) != 1:
        raise ValueError(f"all leaves of a batch must share the leading axis; got sizes {sorted(sizes)}")
    return sizes.pop()


def example_transition(obs_shape, obs_dtype, action_shape, action_dtype) -> dict:
    """One transition of zeros, `dict(obs, action, reward, discount, next_obs)`, to give a
    buffer's `*_init` its leaves' shapes and dtypes. NumPy, so that building an agent runs
    no eager jax operation (each would compile a small program)."""
    return dict(obs=np.zeros(obs_shape, obs_dtype), action=np.zeros(action_shape, action_dtype),
                reward=np.zeros((), np.float32), discount=np.zeros((), np.float32),
                next_obs=np.zeros(obs_shape, obs_dtype))


def _storage(example_transition, capacity: int):
    if not isinstance(capacity, int) or capacity < 1:
        raise ValueError(f"capacity must be a positive Python int (it sets array shapes); got {capacity!r}")
    return jax.tree.map(
        lambda x: jnp.zeros((capacity,) + jnp.shape(x), jnp.asarray(x).dtype), example_transition
    )


def _set_rows(array, rows, values):
    """`array.at[rows].set(values)` with `rows` `(B,)`, out-of-bounds ones dropped, always
    compiled as a scatter.

    One more row, out of bounds and dropped, rides along: XLA turns a scatter of one row
    into a dynamic-update-slice, which XLA:CPU fuses into the gathers that later read the
    array, so that they read the old array beside the in-place write, and XLA then copies
    the whole array (e.g. a `(capacity, ...)` leaf of the buffer) every iteration. A scatter
    is not fused that way (docs/optimisation.md: SAC with one env and a 1M buffer, 500
    iterations in 3.23 s before, 1.98 s after)."""
    padded_rows = jnp.concatenate([rows, jnp.full((1,), array.shape[0], rows.dtype)])
    values = values.astype(array.dtype)
    return array.at[padded_rows].set(jnp.concatenate([values, values[:1]]), mode="drop")


def _write(data, position, size, batch):
    """Scatter a batch of B transitions at `(position + arange(B)) % capacity`.

    B <= capacity keeps the B target slots distinct, so the scatter has no duplicate
    indices and its result does not depend on XLA's write order."""
    capacity = _capacity(data)
    batch_size = _batch_size(batch)
    if batch_size > capacity:
        raise ValueError(
            f"cannot add a batch of {batch_size} transitions to a buffer of capacity {capacity}; "
            "add it in chunks or raise the capacity"
        )
    slots = (position + jnp.arange(batch_size, dtype=jnp.int32)) % capacity
    data = jax.tree.map(lambda stored, new: _set_rows(stored, slots, new), data, batch)
    position = ((position + batch_size) % capacity).astype(jnp.int32)
    size = jnp.minimum(size + batch_size, capacity).astype(jnp.int32)
    return data, position, size, slots


def can_sample(state, min_size) -> jax.Array:
    """Bool scalar array: does the buffer (uniform or prioritized) hold at least
    `min_size` transitions? Sampling an empty buffer returns slot 0 (zeros), so guard
    learning with this (e.g. `lax.cond` or a mask on the loss)."""
    return state.size >= min_size


# --------------------------------------------------------------------------------------
# Uniform circular buffer
# --------------------------------------------------------------------------------------


@struct.dataclass
class BufferState:
    """Circular replay buffer.

    data: the transition pytree with every leaf stored as `(capacity, *leaf.shape)`.
    position: int32 scalar, the slot the next transition is written to.
    size: int32 scalar, the number of valid slots; valid slots are `[0, size)` because the
      buffer fills from slot 0 and only wraps once it is full.
    """

    data: object
    position: jax.Array
    size: jax.Array

    @property
    def capacity(self) -> int:
        return _capacity(self.data)


def uniform_init(example_transition, capacity: int) -> BufferState:
    """Empty buffer for transitions shaped like `example_transition` (ONE unbatched
    transition: a pytree of arrays or scalars). `capacity` is a static Python int."""
    return BufferState(
        data=_storage(example_transition, capacity),
        position=jnp.zeros((), jnp.int32),
        size=jnp.zeros((), jnp.int32),
    )


def add(state: BufferState, batch) -> BufferState:
    """Add B transitions (leaves `(B, *leaf.shape)`, B static and <= capacity), overwriting
    the oldest ones once full."""
    data, position, size, _ = _write(state.data, state.position, state.size, batch)
    return BufferState(data=data, position=position, size=size)


def sample(state: BufferState, key, batch_size: int):
    """Sample `batch_size` transitions uniformly, with replacement, from the valid slots.

    Returns:
      `(batch, indices)`: the transition pytree with leaves `(batch_size, *leaf.shape)` and
      the int32 slot indices `(batch_size,)`, all in `[0, size)`.
    """
    # maxval >= 1 so an empty buffer yields slot 0 rather than an undefined draw.
    indices = jax.random.randint(key, (batch_size,), 0, jnp.maximum(state.size, 1), dtype=jnp.int32)
    batch = jax.tree.map(lambda d: d[indices], state.data)
    return batch, indices


# --------------------------------------------------------------------------------------
# Prioritized replay: sum-tree in a flat array
# --------------------------------------------------------------------------------------
#
# Layout: `tree` has 2L entries for L = the smallest power of two >= capacity. Node 1 is
# the root (the total priority), node i has children 2i and 2i+1, and leaf j (slot j) is
# node L + j. Entry 0 is unused. Leaves past `capacity` and unfilled slots hold 0, so they
# carry no mass and are never sampled. Parents are always recomputed as the sum of their
# children (never adjusted by deltas), so the totals do not drift with round-off.


@struct.dataclass
class PrioritizedBufferState:
    """Proportional prioritized replay buffer.

    data, position, size: as in `BufferState`.
    tree: float32 `(2L,)` sum-tree over the stored priorities `p_i = (|delta_i| + eps)^alpha`
      (L = next power of two >= capacity); `tree[1]` is their total.
    max_priority: float32 scalar, the largest priority ever set (starts at 1.0); new
      transitions get it so each is likely to be replayed at least once.
    """

    data: object
    position: jax.Array
    size: jax.Array
    tree: jax.Array
    max_priority: jax.Array

    @property
    def capacity(self) -> int:
        return _capacity(self.data)

    @property
    def num_leaves(self) -> int:
        return self.tree.shape[0] // 2

    def priorities(self) -> jax.Array:
        """Stored priorities of the `capacity` slots, `(capacity,)` (0 for empty slots)."""
        return self.tree[self.num_leaves : self.num_leaves + self.capacity]


def _last_occurrence_sorted(sorted_slots):
    """Bool `(B,)` for slots sorted stably: True at the last entry of each run of equal
    slots, i.e. the last occurrence in the original batch order."""
    return jnp.concatenate([sorted_slots[1:] != sorted_slots[:-1], jnp.array([True])])


def _tree_set(tree, slots, values, keep):
    """Set leaves `slots` (B,) to `values` (B,) where `keep`, then recompute their
    ancestors level by level (log2 L vectorised steps, each a gather and a scatter).

    Duplicate slots: the last occurrence in the batch wins. XLA leaves the order of
    duplicate scatter writes unspecified (CPU happens to apply them in order, GPU need not),
    so earlier duplicates are dropped explicitly: a stable sort by slot groups equal slots
    in batch order and the last of each run is kept. Ancestors shared by several slots all
    receive the same sum, so those duplicate writes are harmless.

    Every index below is computed from the sort's outputs, not from `slots` itself. When
    `slots` come from reading `tree` (sampling descends the tree, then the same slots'
    priorities are set), XLA would otherwise fuse those reads of the old tree into the
    ancestor updates that run after the first write, and to keep them valid it copies the
    whole tree before writing (3 copies of a 2M-entry tree per gradient step with a 1M
    buffer). The sort is not fusible, so the old tree's last reader runs before any write.
    """
    num_leaves = tree.shape[0] // 2
    slots, values, keep = jax.lax.sort(
        (jnp.asarray(slots, jnp.int32), values, keep.astype(jnp.int32)), num_keys=1, is_stable=True)
    keep = (keep > 0) & _last_occurrence_sorted(slots)
    node = num_leaves + jnp.clip(slots, 0, num_leaves - 1)
    # Dropped writes go out of bounds and are discarded by mode="drop".
    tree = _set_rows(tree, jnp.where(keep, node, tree.shape[0]), values)
    for _ in range(num_leaves.bit_length() - 1):
        node = node // 2
        tree = _set_rows(tree, node, tree[2 * node] + tree[2 * node + 1])
    return tree


def _find_leaves(tree, targets, size):
    """Slots whose cumulative-priority interval contains `targets` (B,), and their
    priorities, by descending the sum-tree one level per step for the whole batch.

    A target at (or, through round-off, past) the right edge of a node's mass would step
    into an empty right subtree; the descent only goes right when that subtree has mass,
    so it always ends on a leaf with positive priority (given a non-empty tree).

    The descent is a loop, not unrolled: its outputs are then materialised, and nothing
    after it reads `tree` again (the priorities are the last level's reads). Unrolled, XLA
    fuses the descent's reads into later kernels, some of which it cannot order before the
    priority update's in-place writes, and it then copies the whole tree every gradient
    step to keep those reads valid.

    Returns:
      `(slots, priorities)`: int32 `(B,)` and float32 `(B,)`.
    """
    num_leaves = tree.shape[0] // 2

    def descend(_, carry):
        node, targets, _ = carry
        left = tree[2 * node]
        right = tree[2 * node + 1]
        go_right = (targets >= left) & (right > 0)
        targets = jnp.where(go_right, targets - left, targets)
        return 2 * node + go_right.astype(jnp.int32), targets, jnp.where(go_right, right, left)

    # With one leaf the root is that leaf, and the loop runs no step.
    start = (jnp.ones(targets.shape, jnp.int32), targets, jnp.broadcast_to(tree[1], targets.shape))
    node, _, priorities = jax.lax.fori_loop(0, num_leaves.bit_length() - 1, descend, start)
    slots = jnp.clip(node - num_leaves, 0, jnp.maximum(size - 1, 0)).astype(jnp.int32)
    return slots, priorities


def prioritized_init(example_transition, capacity: int) -> PrioritizedBufferState:
    """Empty prioritized buffer (see `uniform_init` for the arguments)."""
    data = _storage(example_transition, capacity)
    num_leaves = 1 << (capacity - 1).bit_length()
    return PrioritizedBufferState(
        data=data,
        position=jnp.zeros((), jnp.int32),
        size=jnp.zeros((), jnp.int32),
        tree=jnp.zeros((2 * num_leaves,), jnp.float32),
        max_priority=jnp.ones((), jnp.float32),
    )


def prioritized_add(state: PrioritizedBufferState, batch) -> PrioritizedBufferState:
    """Add B transitions (as in `add`), each with priority `state.max_priority`."""
    data, position, size, slots = _write(state.data, state.position, state.size, batch)
    values = jnp.broadcast_to(state.max_priority, slots.shape)
    tree = _tree_set(state.tree, slots, values, jnp.ones(slots.shape, bool))
    return state.replace(data=data, position=position, size=size, tree=tree)


def prioritized_sample(state: PrioritizedBufferState, key, batch_size: int, beta):
    """Stratified proportional sampling with importance weights.

    The total mass is cut into `batch_size` equal segments and one point is drawn uniformly
    in each, so slot i is drawn with probability `P(i) = p_i / sum_j p_j` (marginally over
    the batch) with lower variance than independent draws. Each point descends the
    sum-tree in log2(L) vectorised steps.

    Importance weights: `w_i = (N * P(i))^-beta / max_j (N * P(j))^-beta`, with N = `size`
    and the max over the sampled batch, so weights are in (0, 1] and only ever scale the
    loss down. Computed as `(p_i / min_j p_j)^-beta`, which is the same quantity without
    overflow.

    Never returns an empty slot: the descent only enters subtrees with positive mass (a
    point that round-off pushes past the edge of a segment is steered back into the
    non-empty side) and the result is clipped to `[0, size)`. The buffer must not be
    empty (see `can_sample`).

    Args:
      beta: exponent in [0, 1] (may be traced), e.g. `linear_schedule(0.4, 1.0, ...)`.

    Returns:
      `(batch, indices, weights)`: transitions with leaves `(batch_size, ...)`, int32 slots
      `(batch_size,)`, float32 weights `(batch_size,)`.
    """
    total = state.tree[1]
    uniforms = jax.random.uniform(key, (batch_size,), jnp.float32)
    targets = (jnp.arange(batch_size, dtype=jnp.float32) + uniforms) * (total / batch_size)
    indices, priorities = _find_leaves(state.tree, targets, state.size)
    weights = (priorities / jnp.min(priorities)) ** (-jnp.asarray(beta, jnp.float32))
    batch = jax.tree.map(lambda d: d[indices], state.data)
    return batch, indices, weights


def set_priorities(state: PrioritizedBufferState, indices, priorities) -> PrioritizedBufferState:
    """Set stored priorities directly (already exponentiated, must be > 0) for slots
    `indices` (B,). Slots outside `[0, size)` are ignored so they never gain mass. With
    duplicate indices the last one in the batch wins. Updates `max_priority`."""
    indices = jnp.asarray(indices, jnp.int32)
    priorities = jnp.asarray(priorities, jnp.float32)
    valid = (indices >= 0) & (indices < state.size)
    tree = _tree_set(state.tree, indices, priorities, valid)
    max_priority = jnp.maximum(state.max_priority, jnp.max(jnp.where(valid, priorities, 0.0)))
    return state.replace(tree=tree, max_priority=max_priority)


def prioritized_update(state: PrioritizedBufferState, indices, td_errors, alpha, eps=1e-6):
    """Set `p_i = (|td_i| + eps)^alpha` for the sampled `indices` (B,) after a learning step.

    `alpha` (0 = uniform, 1 = fully proportional) and `eps` may be traced. Duplicate
    indices (stratified sampling can draw a slot twice): the last one in the batch wins.
    If a slot was overwritten by `prioritized_add` between sampling and this update, the
    new transition receives the old one's priority; add and update in the same order each
    iteration to keep that window small.
    """
    td_errors = jnp.asarray(td_errors, jnp.float32)
    return set_priorities(state, indices, (jnp.abs(td_errors) + eps) ** alpha)


# --------------------------------------------------------------------------------------
# n-step targets
# --------------------------------------------------------------------------------------


class NStepTargets(NamedTuple):
    """Per start step t (all `(T, ...)`):

    returns: `R_t = sum_{j<k} gamma^j r_{t+j}`.
    discounts: `gamma^k`, or 0 if the episode terminated at step t+k-1.
    lengths: int32 k in [1, n], the number of rewards summed.
    bootstrap_indices: int32 `t + k - 1`, the step whose `final_obs` is the bootstrap
      observation (its value is multiplied by `discounts`).
    """

    returns: jax.Array
    discounts: jax.Array
    lengths: jax.Array
    bootstrap_indices: jax.Array


def n_step_targets(rewards, terminated, truncated, gamma, n: int) -> NStepTargets:
    """n-step returns over time-major arrays from vectorised envs.

    For each start step t the window covers steps t, t+1, ..., t+k-1 where k <= n stops
    early at the first episode end:
      - termination at t+k-1: the sum includes r_{t+k-1}, discount 0 (no bootstrap);
      - truncation at t+k-1: the sum includes r_{t+k-1}, discount gamma^k, bootstrap from
        `final_obs[t+k-1]` (the last observation of the truncated episode);
      - otherwise k = n (or fewer, see below), discount gamma^k, bootstrap from
        `final_obs[t+k-1]`, which is the ordinary next observation there.
    Windows never run past the batch: the last n-1 start steps get shorter windows that
    bootstrap from the last available `final_obs[T-1]`. That is still a correct k-step
    target, just a less multi-step one; n=1 gives one-step TD targets.

    Args:
      rewards: float `(T, ...)`; terminated, truncated: bool `(T, ...)`.
      gamma: scalar (may be traced). n: static int >= 1.

    Returns:
      `NStepTargets(returns, discounts, lengths, bootstrap_indices)`, each `(T, ...)`.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n (the number of steps) must be a Python int >= 1; got {n!r}")
    num_steps = rewards.shape[0]
    dtype = rewards.dtype if jnp.issubdtype(rewards.dtype, jnp.floating) else jnp.float32
    rewards = rewards.astype(dtype)
    done = jnp.logical_or(terminated, truncated)
    # Pad the time axis so step t+j is a plain slice for every offset j < n; the padded
    # steps are excluded by `in_batch` below.
    pad = [(0, n - 1)] + [(0, 0)] * (rewards.ndim - 1)
    rewards_p = jnp.pad(rewards, pad)
    terminated_p = jnp.pad(terminated, pad)
    done_p = jnp.pad(done, pad)
    time = jnp.arange(num_steps).reshape((num_steps,) + (1,) * (rewards.ndim - 1))

    # alive: step t+j is inside the window (same episode as t, within the batch).
    # A static loop over n keeps this to n large elementwise ops, no scan.
    alive = jnp.ones(rewards.shape, bool)
    returns = jnp.zeros(rewards.shape, dtype)
    lengths = jnp.zeros(rewards.shape, jnp.int32)
    ended_by_termination = jnp.zeros(rewards.shape, bool)
    for j in range(n):
        if j > 0:
            in_batch = time + j < num_steps
            alive = alive & ~done_p[j - 1 : j - 1 + num_steps] & in_batch
        returns = returns + jnp.where(alive, gamma**j * rewards_p[j : j + num_steps], 0.0)
        lengths = lengths + alive.astype(jnp.int32)
        ended_by_termination = ended_by_termination | (alive & terminated_p[j : j + num_steps])
    discounts = jnp.where(ended_by_termination, 0.0, gamma ** lengths.astype(dtype)).astype(dtype)
    return NStepTargets(
        returns=returns,
        discounts=discounts,
        lengths=lengths,
        bootstrap_indices=(time + lengths - 1).astype(jnp.int32),
    )


def gather_steps(x, step_indices):
    """`out[t, i...] = x[step_indices[t, i...], i...]`: pick, per env, the array at another
    time step. x: `(T, N, ...)` (any number of trailing feature axes); step_indices:
    int `(T, N)` (the batch axes of x). Returns `(T, N, ...)`."""
    extra = x.ndim - step_indices.ndim
    index = step_indices.reshape(step_indices.shape + (1,) * extra)
    return jnp.take_along_axis(x, index, axis=0, mode="clip")


def n_step_transitions(obs, actions, rewards, terminated, truncated, final_obs, gamma, n: int):
    """Replay transitions `dict(obs, action, reward, discount, next_obs)` for every start
    step of a time-major rollout, ready to flatten to `(T*N, ...)` and `add`.

    Args:
      obs: `(T, N, *obs_shape)`, the observation each action was taken in.
      actions: `(T, N, ...)`.
      rewards, terminated, truncated: `(T, N)`.
      final_obs: `(T, N, *obs_shape)`, the observation after step t within the same episode
        (`info["final_obs"]`, NOT the auto-reset observation).
      gamma: scalar (may be traced). n: static int >= 1.

    Returns:
      A dict of `(T, N, ...)` arrays: `reward` is the n-step return, `discount` multiplies
      the bootstrap value of `next_obs` (0 after a termination), so the learner's target is
      `reward + discount * V(next_obs)` for any n. See `n_step_targets` for the windows.
    """
    targets = n_step_targets(rewards, terminated, truncated, gamma, n)
    return dict(
        obs=obs,
        action=actions,
        reward=targets.returns,
        discount=targets.discounts,
        next_obs=gather_steps(final_obs, targets.bootstrap_indices),
    )
