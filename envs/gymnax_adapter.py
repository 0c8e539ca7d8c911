"""Adapter from gymnax (1.x) environments to ``envs.Environment``.

gymnax's own ``step`` auto-resets; this adapter calls ``step_env`` instead (the
``AutoReset`` wrapper resets exactly once) and derives ``truncated`` from
``is_truncated``. Observations are cast to float32, rewards to float32, the done
flags to bool. Upstream ``info`` entries (e.g. "discount") are dropped so that the
info structure is the same for every env.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from envs.core import Environment, StepResult
from envs.spaces import Box, Discrete, Space

__all__ = ["GymnaxEnv", "make_gymnax", "gymnax_ids", "convert_space"]


class _DeferredModule(types.ModuleType):
    """Stands in for a module until an attribute is first read, then imports the real one."""

    def __getattr__(self, attr: str) -> Any:
        name = self.__name__
        # `import matplotlib.pyplot as plt` reads `pyplot` from the parent package: hand out
        # the submodule's own stand-in rather than importing the parent.
        submodule = sys.modules.get(f"{name}.{attr}")
        if isinstance(submodule, _DeferredModule):
            return submodule
        if attr == "__path__":
            # The import system probes it on `from package import name`; answering "not a
            # package" sends it to the attribute (above) instead of importing the package.
            raise AttributeError(attr)
        if sys.modules.get(name) is self:
            del sys.modules[name]
        return getattr(importlib.import_module(name), attr)


@contextlib.contextmanager
def _deferred(*names: str):
    """Within the block, `import name` binds a stand-in that imports `name` on first use.

    `import gymnax` imports every gymnax environment, and two of them (Pong, Catch) import
    matplotlib.pyplot and seaborn (with scipy.stats) at module level, for rendering only:
    0.5-0.8 s of every cold start on this CPU (matplotlib's package alone 0.09 s). The
    stand-ins are bound only inside those modules; afterwards `sys.modules` holds the real
    modules again (or nothing)."""
    installed = [n for n in names if n not in sys.modules]
    for name in installed:
        sys.modules[name] = _DeferredModule(name)
    try:
        yield
    finally:
        for name in installed:
            if isinstance(sys.modules.get(name), _DeferredModule):
                del sys.modules[name]


def _import_gymnax():
    if "gymnax" not in sys.modules:
        with _deferred("seaborn", "matplotlib", "matplotlib.pyplot", "matplotlib.colors"):
            import gymnax  # noqa: F401
    return sys.modules["gymnax"]


def gymnax_ids() -> list[str]:
    return list(_import_gymnax().registered_envs)


def convert_space(space: Any, obs: bool = False) -> Space:
    """A gymnax Discrete/Box space as an ``envs`` space.

    Observation spaces become float32 Boxes (a Discrete observation space of ``n``
    values becomes the scalar ``Box(0, n - 1, ())``, since observations are floats).
    """
    from gymnax.environments import spaces as gspaces

    if isinstance(space, gspaces.Discrete):
        if obs:
            return Box(0.0, float(space.n - 1), (), np.float32)
        return Discrete(space.n)
    if isinstance(space, gspaces.Box):
        dtype = np.float32 if obs else np.dtype(space.dtype)
        if not obs and np.issubdtype(dtype, np.floating):
            dtype = np.float32
        low = np.asarray(space.low, np.float64)
        high = np.asarray(space.high, np.float64)
        return Box(low, high, tuple(space.shape), dtype)
    raise NotImplementedError(f"Cannot convert gymnax space {space!r} (only Discrete and Box)")


class GymnaxEnv(Environment):
    """A gymnax environment without auto-reset, with separate terminated/truncated."""

    def __init__(self, name: str, env: Any, default_params: Any):
        self.name = name
        self._gymnax_env = env
        self._default_params = default_params
        self._action_space = convert_space(env.action_space(default_params))

    @property
    def gymnax_env(self) -> Any:
        return self._gymnax_env

    @property
    def default_params(self) -> Any:
        return self._default_params

    def reset(self, key, params=None):
        params = self._params(params)
        obs, state = self._gymnax_env.reset_env(key, params)
        # Some gymnax resets leave weakly typed leaves (Pendulum's `last_u = 0.0`) that a step
        # makes strong: the state's type would change after one step and every jitted
        # function taking it would compile twice (2.3 s per SAC Pendulum cold start here).
        state = jax.tree.map(lambda leaf: jnp.asarray(leaf, jnp.asarray(leaf).dtype), state)
        return jnp.asarray(obs, jnp.float32), state

    def step(self, key, state, action, params=None) -> StepResult:
        params = self._params(params)
        space = self._action_space
        action = jnp.asarray(action, space.dtype)
        obs, state, reward, terminated, _ = self._gymnax_env.step_env(key, state, action, params)
        terminated = jnp.asarray(terminated, jnp.bool_)
        truncated = jnp.logical_and(
            jnp.asarray(self._gymnax_env.is_truncated(state, params), jnp.bool_),
            jnp.logical_not(terminated),
        )
        return (
            jnp.asarray(obs, jnp.float32),
            state,
            jnp.asarray(reward, jnp.float32),
            terminated,
            truncated,
            {},
        )

    def _space(self, which: str, params: Any, obs: bool) -> Space:
        params = self._params(params)
        # gymnax builds bounds with jnp operations; evaluated at once, so that a space asked
        # for inside a trace (a wrapper's action-mask probe under `jax.eval_shape`) is still
        # concrete.
        with jax.ensure_compile_time_eval():
            try:
                return convert_space(getattr(self._gymnax_env, which)(params), obs=obs)
            except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
                # Bounds that depend on traced params cannot be static numpy arrays: fall
                # back to the bounds of the default params (shapes never depend on params).
                return convert_space(getattr(self._gymnax_env, which)(self._default_params), obs=obs)

    def observation_space(self, params=None) -> Box:
        return self._space("observation_space", params, obs=True)

    def action_space(self, params=None) -> Space:
        return self._space("action_space", params, obs=False)

    def max_episode_steps(self, params=None) -> int:
        return int(self._params(params).max_steps_in_episode)


def make_gymnax(name: str, **kwargs) -> tuple[GymnaxEnv, Any]:
    env, params = _import_gymnax().make(name, **kwargs)
    return GymnaxEnv(name, env, params), params
