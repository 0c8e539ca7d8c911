"""The standard wrappers. ``envs.make`` stacks them (inner to outer) as

    FlattenObservation (non-image, non-1-D observations only)
    ClipAction         (Box action spaces only)
    AutoReset
    EpisodeStatistics

Every wrapper is pure and jit/vmap-safe; extra state lives in ``flax.struct``
pytrees.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.core import Environment, StepResult, Wrapper  # noqa: F401
from envs.spaces import Box

__all__ = [
    "FlattenObservation",
    "ObservationWrapper",
    "ClipAction",
    "AutoReset",
    "EpisodeStatistics",
    "EpisodeStatisticsState",
    "is_image_space",
]


def is_image_space(space: Any) -> bool:
    """True for (height, width, channels) Box observations, which are kept as images."""
    return isinstance(space, Box) and len(space.shape) == 3


def _select(pred: jax.Array, on_true: Any, on_false: Any) -> Any:
    """Leafwise ``where(pred, on_true, on_false)`` keeping ``on_false``'s dtypes."""

    def sel(t, f):
        out = jnp.where(pred, t, f)
        dtype = jnp.result_type(f)
        return out if out.dtype == dtype else out.astype(dtype)

    return jax.tree.map(sel, on_true, on_false)


class ObservationWrapper(Wrapper):
    """Base for wrappers that map every observation through ``observation(obs)``, including
    ``info["final_obs"]`` when an inner AutoReset put one there."""

    def observation(self, obs: jax.Array) -> jax.Array:
        raise NotImplementedError

    def action_mask(self, obs, params=None):
        # The inner env reads its mask from observations this wrapper has transformed, so a
        # masked env is only supported when the transform keeps the observation as is
        # (FlattenObservation of an already flat observation).
        inner_shape = self._env.observation_space(params).shape
        if self._env.action_mask(jnp.zeros(inner_shape, jnp.float32), params) is None:
            return None
        if type(self) is FlattenObservation and len(self._env.observation_space(params).shape) == 1:
            return self._env.action_mask(obs, params)
        raise NotImplementedError(
            f"{type(self).__name__} changes the observation {self._env!r} reads its action mask "
            "from; apply it only to envs without action masks.")

    def reset(self, key, params=None):
        obs, state = self._env.reset(key, params)
        return self.observation(obs), state

    def step(self, key, state, action, params=None) -> StepResult:
        obs, state, reward, terminated, truncated, info = self._env.step(key, state, action, params)
        if "final_obs" in info:
            info = {**info, "final_obs": self.observation(info["final_obs"])}
        return self.observation(obs), state, reward, terminated, truncated, info


class FlattenObservation(ObservationWrapper):
    """Reshapes observations to 1-D float32 vectors."""

    def observation(self, obs: jax.Array) -> jax.Array:
        return jnp.reshape(jnp.asarray(obs, jnp.float32), (-1,))

    def observation_space(self, params=None) -> Box:
        space = self._env.observation_space(params)
        return Box(space.low.reshape(-1), space.high.reshape(-1), (int(np.prod(space.shape)),), np.float32)


class ClipAction(Wrapper):
    """Clips Box actions into ``[low, high]`` before the inner env sees them.

    Learners keep (and compute log-probabilities of) the unclipped action. The
    bounds are those of ``env.action_space(params)`` for the ``params`` given here
    (default: ``env.default_params``); they are constants of the compiled step, so
    ``step`` also works when ``params`` is traced.
    """

    def __init__(self, env: Environment, params: Any = None):
        super().__init__(env)
        space = env.action_space(env.default_params if params is None else params)
        if not isinstance(space, Box):
            raise TypeError(f"ClipAction needs a Box action space, got {space}")
        self._space = space

    def step(self, key, state, action, params=None) -> StepResult:
        space = self._space
        action = jnp.clip(jnp.asarray(action, space.dtype), space.low, space.high)
        return self._env.step(key, state, action, params)


class AutoReset(Wrapper):
    """Starts a new episode as soon as one ends.

    The step key is split in two: the first half drives the inner step, the second
    the reset. When ``terminated or truncated``, the returned obs/state are those of
    the new episode. ``info["final_obs"]`` always holds the observation that followed
    the action, before any reset (equal to the returned obs when not done), so
    learners can bootstrap truncated episodes from V(final_obs).
    """

    def step(self, key, state, action, params=None) -> StepResult:
        key_step, key_reset = jax.random.split(key)
        obs_step, state_step, reward, terminated, truncated, info = self._env.step(
            key_step, state, action, params
        )
        done = jnp.logical_or(terminated, truncated)
        obs_reset, state_reset = self._env.reset(key_reset, params)
        obs = _select(done, obs_reset, obs_step)
        state = _select(done, state_reset, state_step)
        info = {**info, "final_obs": obs_step}
        return obs, state, reward, terminated, truncated, info


@struct.dataclass
class EpisodeStatisticsState:
    env_state: Any
    episode_return: jax.Array  # float32, running undiscounted return of the current episode
    episode_length: jax.Array  # int32, steps taken in the current episode


class EpisodeStatistics(Wrapper):
    """Tracks the running return/length and reports finished episodes in ``info``.

    Writes ``info["episode_done"]`` (bool), ``info["episode_return"]`` (float32) and
    ``info["episode_length"]`` (int32); the latter two are 0 where no episode ended.
    Place it outside ``AutoReset``.
    """

    def reset(self, key, params=None):
        obs, env_state = self._env.reset(key, params)
        return obs, EpisodeStatisticsState(
            env_state, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32)
        )

    def step(self, key, state: EpisodeStatisticsState, action, params=None) -> StepResult:
        obs, env_state, reward, terminated, truncated, info = self._env.step(
            key, state.env_state, action, params
        )
        done = jnp.logical_or(terminated, truncated)
        ret = state.episode_return + jnp.asarray(reward, jnp.float32)
        length = state.episode_length + jnp.int32(1)
        info = {
            **info,
            "episode_done": done,
            "episode_return": jnp.where(done, ret, jnp.float32(0.0)),
            "episode_length": jnp.where(done, length, jnp.int32(0)),
        }
        new_state = EpisodeStatisticsState(
            env_state,
            jnp.where(done, jnp.float32(0.0), ret),
            jnp.where(done, jnp.int32(0), length),
        )
        return obs, new_state, reward, terminated, truncated, info


# Observation indices that are positions (not velocities), for the envs where hiding the
# velocities makes a memoryless policy insufficient.
POSITION_INDICES: dict[str, tuple[int, ...]] = {
    "CartPole-v1": (0, 2),  # cart position, pole angle (hides both velocities)
    "Pendulum-v1": (0, 1),  # cos and sin of the angle (hides the angular velocity)
    "Acrobot-v1": (0, 1, 2, 3),  # cos/sin of both joint angles (hides both velocities)
    "MountainCar-v0": (0,),  # position (hides the velocity)
    "MountainCarContinuous-v0": (0,),
}


class ObservationSubset(ObservationWrapper):
    """Partial observability: keep only the observation entries at `indices` (a 1-D
    observation is assumed). `envs.make(ID, hide_velocity=True)` uses it to show only
    positions, so the agent must infer velocities from memory."""

    def __init__(self, env: Environment, indices: tuple[int, ...]):
        super().__init__(env)
        self._indices = np.asarray(indices, np.int32)

    def observation(self, obs):
        return jnp.take(obs, self._indices, axis=-1)

    def observation_space(self, params=None) -> Box:
        space = self._env.observation_space(params)
        return Box(space.low[self._indices], space.high[self._indices], (len(self._indices),), np.float32)
