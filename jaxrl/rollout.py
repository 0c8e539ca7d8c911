"""Experience collection shared by the on-policy algorithms (PPO, A2C, REINFORCE,
recurrent PPO): one `lax.scan` over `num_steps` steps of `num_envs` vectorised envs.

The policy is a function `(policy_carry, obs, first, key) -> (policy_carry, action,
log_prob)` over a batch of observations `(num_envs, *obs_shape)`. `first[i]` says that
`obs[i]` starts a new episode (recurrent policies reset their hidden state there);
feed-forward policies ignore both `policy_carry` and `first`.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class Trajectory:
    """Time-major arrays `(num_steps, num_envs, ...)`.

    obs: raw observation the policy saw; first: obs starts an episode;
    action, log_prob: what the policy sampled (unclipped) and its log-probability;
    reward, terminated, truncated: from the env; final_obs: the observation that followed
    the action within the same episode (before any auto-reset);
    episode_done / episode_return / episode_length: finished-episode statistics.
    """

    obs: jax.Array
    first: jax.Array
    action: jax.Array
    log_prob: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    final_obs: jax.Array
    episode_done: jax.Array
    episode_return: jax.Array
    episode_length: jax.Array


@struct.dataclass
class EnvBatch:
    """The live state of `num_envs` envs between rollouts."""

    env_state: Any
    obs: jax.Array  # (num_envs, *obs_shape)
    first: jax.Array  # (num_envs,) bool: obs starts an episode


def reset_envs(env, env_params, key, num_envs: int) -> EnvBatch:
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, num_envs), env_params)
    return EnvBatch(env_state=env_state, obs=obs, first=jnp.ones(num_envs, bool))


def collect(env, env_params, policy: Callable, policy_carry, envs_: EnvBatch, key, num_steps: int):
    """Run `policy` for `num_steps` steps in every env.

    Returns `(envs, policy_carry, trajectory)`.
    """
    num_envs = envs_.first.shape[0]
    vmap_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def step(carry, keys):
        batch, policy_carry = carry
        act_key, env_keys = keys
        policy_carry, action, log_prob = policy(policy_carry, batch.obs, batch.first, act_key)
        next_obs, env_state, reward, terminated, truncated, info = vmap_step(
            env_keys, batch.env_state, action, env_params
        )
        transition = Trajectory(
            obs=batch.obs, first=batch.first, action=action, log_prob=log_prob,
            reward=reward.astype(jnp.float32), terminated=terminated, truncated=truncated,
            final_obs=info["final_obs"], episode_done=info["episode_done"],
            episode_return=info["episode_return"], episode_length=info["episode_length"],
        )
        done = jnp.logical_or(terminated, truncated)
        return (EnvBatch(env_state, next_obs, done), policy_carry), transition

    def step_keys(step_key):
        act_key, env_key = jax.random.split(step_key)
        return act_key, jax.random.split(env_key, num_envs)

    # Every step's keys in one batched hash before the loop (the same keys a split inside
    # each step would draw): two fewer hash calls, and their kernels, per sequential step.
    keys = jax.vmap(step_keys)(jax.random.split(key, num_steps))
    (envs_, policy_carry), trajectory = jax.lax.scan(step, (envs_, policy_carry), keys)
    return envs_, policy_carry, trajectory


def episode_metrics(trajectory: Trajectory) -> dict[str, jax.Array]:
    """Mean return and length of the episodes that finished in the trajectory, and their
    count (0 when none finished: the driver then logs no return for the iteration)."""
    done = trajectory.episode_done
    episodes = done.sum()
    denominator = jnp.maximum(episodes, 1)
    return {
        "episode_return": jnp.where(done, trajectory.episode_return, 0.0).sum() / denominator,
        "episode_length": jnp.where(done, trajectory.episode_length, 0).sum() / denominator,
        "episodes": episodes,
    }


def permutation(key, size: int) -> jax.Array:
    """A random permutation of `arange(size)` (int32), for shuffling minibatches.

    `jax.random.permutation` sorts random keys with the indices as a second operand, and
    XLA:CPU sorts two operands through a compiled comparator called per comparison: 74 us
    for 512 elements on the CI CPU. Here each index rides in the low bits of its random key,
    so one uint32 array is sorted: 15 us (`scripts/shuffle_cost.py`). Equal keys keep index
    order; with `32 - ceil(log2(size))` random bits that leaves at most about one tied pair
    expected per shuffle up to 2048 elements, and larger sizes (up to 2^20) shuffle twice,
    the second round's ties keeping the first round's random order. Beyond that, jax's.
    """
    index_bits = max(1, (size - 1).bit_length())
    random_bits = 32 - index_bits
    if random_bits < 12:
        return jax.random.permutation(key, size)
    rounds = 1 if 2 * index_bits <= random_bits + 1 else 2
    mask = jnp.uint32((1 << index_bits) - 1)
    slots = jnp.arange(size, dtype=jnp.uint32)
    order = None
    for round_key in ([key] if rounds == 1 else jax.random.split(key, rounds)):
        packed = (jax.random.bits(round_key, (size,), jnp.uint32) << index_bits) | slots
        positions = (jnp.sort(packed) & mask).astype(jnp.int32)
        order = positions if order is None else order[positions]
    return order


def shuffled_minibatches(batch, key, num_minibatches: int):
    """Flatten time-major arrays `(T, N, ...)` to `T*N` transitions, shuffle them and split
    into `(num_minibatches, T*N // num_minibatches, ...)` (one shuffle for every leaf, so
    rows stay aligned). `num_minibatches` must divide `T*N`."""
    leaves = jax.tree.leaves(batch)
    size = leaves[0].shape[0] * leaves[0].shape[1]
    order = permutation(key, size)

    def split(x):
        x = jnp.take(x.reshape((size,) + x.shape[2:]), order, axis=0)
        return x.reshape((num_minibatches, size // num_minibatches) + x.shape[1:])

    return jax.tree.map(split, batch)
