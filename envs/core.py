"""The functional environment interface every env in ``envs`` implements.

An :class:`Environment` is a stateless description of dynamics: all mutable data
lives in the ``state`` pytree it returns, and every method is a pure function of its
arguments, so ``reset``/``step`` can be ``jax.jit``-ed and ``jax.vmap``-ed freely.
Base environments do NOT auto-reset; :class:`envs.wrappers.AutoReset` does that.
"""

from __future__ import annotations

import abc
from typing import Any

import jax

from envs.spaces import Space

__all__ = ["Environment", "Wrapper", "StepResult", "key_spec"]

# (obs, state, reward, terminated, truncated, info)
StepResult = tuple[Any, Any, jax.Array, jax.Array, jax.Array, dict[str, Any]]


def key_spec() -> jax.ShapeDtypeStruct:
    """The shape and dtype of `jax.random.PRNGKey(0)`, to pass to `jax.eval_shape`: a
    concrete key made eagerly compiles two small programs (~30 ms of a cold start)."""
    return jax.eval_shape(jax.random.PRNGKey, 0)


class Environment(abc.ABC):
    """Abstract single (unbatched) environment.

    Subclasses implement ``reset``, ``step``, ``observation_space``,
    ``action_space``, ``max_episode_steps`` and ``default_params``.

    ``step`` returns ``(obs, state, reward, terminated, truncated, info)`` with
    ``reward`` a float32 scalar and ``terminated`` (a true end of the episode: do not
    bootstrap) / ``truncated`` (time limit reached: bootstrap) bool scalars that are
    never both true. ``info`` must have the same structure on every step.
    """

    #: The id the environment was made with (set by ``envs.make``/adapters).
    name: str = "Environment"

    @property
    @abc.abstractmethod
    def default_params(self) -> Any:
        """Default environment parameters (a pytree, possibly with static fields)."""

    @abc.abstractmethod
    def reset(self, key: jax.Array, params: Any = None) -> tuple[Any, Any]:
        """Start an episode: returns ``(obs, state)``."""

    @abc.abstractmethod
    def step(self, key: jax.Array, state: Any, action: Any, params: Any = None) -> StepResult:
        """Advance one step: returns ``(obs, state, reward, terminated, truncated, info)``."""

    @abc.abstractmethod
    def observation_space(self, params: Any = None) -> Space:
        """The observation space (an ``envs.Box``)."""

    @abc.abstractmethod
    def action_space(self, params: Any = None) -> Space:
        """The action space (``envs.Discrete`` or ``envs.Box``)."""

    @abc.abstractmethod
    def max_episode_steps(self, params: Any = None) -> int:
        """Time limit of an episode, as a Python int (an upper bound for eval loops)."""

    def action_mask(self, obs: Any, params: Any = None) -> jax.Array | None:
        """Optional hook for discrete-action envs whose valid actions vary by state.

        Returns a bool array of shape ``obs.shape[:-obs_ndim] + (n,)`` (True = the action is
        valid), computed from the observation alone, so it works on stored batches of
        observations too; or None (the default) when every action is always valid.
        Discrete-action algorithms query it, give masked actions zero probability (PPO) or
        exclude them from the argmax (DQN), and never send them to the env.
        """
        return None

    @property
    def unwrapped(self) -> "Environment":
        """The innermost environment (itself for a non-wrapper)."""
        return self

    def _params(self, params: Any) -> Any:
        return self.default_params if params is None else params

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Wrapper(Environment):
    """Base class for wrappers: forwards every method and attribute to ``env``.

    Subclasses override what they change. A wrapper that keeps extra state must
    wrap the inner state in its own pytree (see ``EpisodeStatistics``).
    """

    def __init__(self, env: Environment):
        self._env = env

    @property
    def env(self) -> Environment:
        return self._env

    @property
    def unwrapped(self) -> Environment:
        return self._env.unwrapped

    @property
    def name(self) -> str:  # type: ignore[override]
        return self._env.name

    @property
    def default_params(self) -> Any:
        return self._env.default_params

    def reset(self, key: jax.Array, params: Any = None) -> tuple[Any, Any]:
        return self._env.reset(key, params)

    def step(self, key: jax.Array, state: Any, action: Any, params: Any = None) -> StepResult:
        return self._env.step(key, state, action, params)

    def observation_space(self, params: Any = None) -> Space:
        return self._env.observation_space(params)

    def action_space(self, params: Any = None) -> Space:
        return self._env.action_space(params)

    def max_episode_steps(self, params: Any = None) -> int:
        return self._env.max_episode_steps(params)

    def action_mask(self, obs: Any, params: Any = None) -> jax.Array | None:
        return self._env.action_mask(obs, params)

    def __getattr__(self, attr: str) -> Any:
        # Only called when normal lookup fails. Guard "_env" so copying/unpickling a
        # half-built wrapper does not recurse forever.
        if attr == "_env" or attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self._env, attr)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._env!r})"
