"""JAX-native environments behind one functional API.

    import envs
    env, env_params = envs.make("CartPole-v1")        # any gymnax id
    env, env_params = envs.make("brax/hopper", backend="positional", episode_length=1000)
    obs, state = env.reset(key, env_params)
    obs, state, reward, terminated, truncated, info = env.step(key, state, action, env_params)

``make`` wraps the env in the standard stack (FlattenObservation where needed,
ClipAction for Box actions, AutoReset, EpisodeStatistics), so ``info`` always holds
``final_obs``, ``episode_done``, ``episode_return`` and ``episode_length``.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from typing import Any

from envs.core import Environment, StepResult, Wrapper
from envs.spaces import Box, Discrete, Space
from envs.wrappers import (
    AutoReset,
    ClipAction,
    EpisodeStatistics,
    EpisodeStatisticsState,
    FlattenObservation,
    ObservationSubset,
    ObservationWrapper,
    POSITION_INDICES,
    is_image_space,
)

__all__ = [
    "make",
    "registered",
    "register",
    "standard_wrappers",
    "Environment",
    "Wrapper",
    "StepResult",
    "Space",
    "Discrete",
    "Box",
    "FlattenObservation",
    "ObservationSubset",
    "ObservationWrapper",
    "ClipAction",
    "AutoReset",
    "EpisodeStatistics",
    "EpisodeStatisticsState",
]

BRAX_PREFIX = "brax/"

# Our own JAX environments: id -> factory(**kwargs) -> (env, env_params).
_NATIVE: dict[str, Callable[..., tuple[Environment, Any]]] = {}


def register(env_id: str, factory: Callable[..., tuple[Environment, Any]]) -> None:
    """Register a native environment (e.g. ``"fab/..."``) for ``make``.

    ``factory(**kwargs)`` must return ``(env, env_params)`` with ``env`` an
    un-wrapped ``envs.Environment``.
    """
    if not isinstance(env_id, str) or not env_id:
        raise ValueError("env_id must be a non-empty string")
    if env_id in registered():
        raise ValueError(f"Environment id {env_id!r} is already registered")
    _NATIVE[env_id] = factory


def _register_builtin_native() -> None:
    """Register our own JAX envs shipped in this package (``probe/<kind>``)."""
    from envs.probes import PROBES, make_probe

    for kind in PROBES:
        _NATIVE[f"probe/{kind}"] = functools.partial(make_probe, kind)

    from envs.fab.instances import INSTANCES, make_fab

    for instance in INSTANCES:
        _NATIVE[f"fab/{instance}"] = functools.partial(make_fab, instance)


_register_builtin_native()


def _gymnax_ids() -> list[str]:
    from envs.gymnax_adapter import gymnax_ids

    return gymnax_ids()


def _brax_ids() -> list[str]:
    from envs.brax_adapter import brax_names

    return [BRAX_PREFIX + n for n in brax_names()]


def registered() -> list[str]:
    """Every id ``make`` accepts: gymnax ids, ``brax/<name>`` ids and native envs."""
    return _gymnax_ids() + _brax_ids() + sorted(_NATIVE)


def _unknown(name: str) -> ValueError:
    known = registered()
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    if not close:
        close = difflib.get_close_matches(name.lower(), [k.lower() for k in known], n=5, cutoff=0.3)
        close = [k for k in known if k.lower() in close]
    if close:
        hint = "Closest known ids: " + ", ".join(close)
    else:
        hint = "Some known ids: " + ", ".join(known[:6])
    return ValueError(f"Unknown environment id {name!r}. {hint}. See envs.registered() for all.")


def standard_wrappers(env: Environment, params: Any = None) -> Environment:
    """Apply the standard wrapper stack used by ``make``."""
    params = env.default_params if params is None else params
    obs_space = env.observation_space(params)
    if len(obs_space.shape) != 1 and not is_image_space(obs_space):
        env = FlattenObservation(env)
    if isinstance(env.action_space(params), Box):
        env = ClipAction(env, params)
    return EpisodeStatistics(AutoReset(env))


def make(
    name: str,
    *,
    wrap: bool = True,
    backend: str | None = None,
    episode_length: int | None = None,
    hide_velocity: bool = False,
    **kwargs: Any,
) -> tuple[Environment, Any]:
    """Make the environment ``name``; returns ``(env, env_params)``.

    Args:
      name: a gymnax id ("CartPole-v1", "Breakout-MinAtar", ...), "brax/<name>", or
        a registered native id. ``envs.registered()`` lists them all.
      wrap: apply the standard wrapper stack (default). ``wrap=False`` gives the bare
        adapter: no auto-reset and no episode statistics.
      backend, episode_length: Brax physics backend and time limit (Brax ids only;
        defaults: fastest backend for the device, or the one an env runs on (swimmer:
        "generalized"), 1000 steps).
      hide_velocity: observe positions only (partial observability, so memory matters);
        for the ids in ``envs.wrappers.POSITION_INDICES``.
      **kwargs: forwarded to ``gymnax.make`` / ``brax.envs.get_environment`` / the
        native factory.
    """
    if not isinstance(name, str):
        raise TypeError(f"Environment id must be a string, got {type(name).__name__}")
    is_brax = name.startswith(BRAX_PREFIX)
    if not is_brax and backend is not None:
        raise ValueError(
            f"backend= selects a Brax physics backend and only applies to Brax ids "
            f"('brax/<name>'), not {name!r}."
        )
    if not is_brax and episode_length is not None:
        raise ValueError(
            f"episode_length= only applies to Brax ids ('brax/<name>'), not {name!r}. "
            "For other envs change the time limit through env_params "
            "(gymnax: params.replace(max_steps_in_episode=...))."
        )
    if is_brax:
        from envs.brax_adapter import UnknownBraxEnvError, make_brax

        try:
            env, params = make_brax(name, backend=backend, episode_length=episode_length, **kwargs)
        except UnknownBraxEnvError:
            raise _unknown(name) from None
    elif name in _NATIVE:
        env, params = _NATIVE[name](**kwargs)
        env.name = name
    elif name in _gymnax_ids():
        from envs.gymnax_adapter import make_gymnax

        env, params = make_gymnax(name, **kwargs)
    else:
        raise _unknown(name)
    if hide_velocity:
        if name not in POSITION_INDICES:
            raise ValueError(
                f"hide_velocity=True is defined for {', '.join(POSITION_INDICES)}, not {name!r}."
            )
        env = ObservationSubset(env, POSITION_INDICES[name])
    if wrap:
        env = standard_wrappers(env, params)
    return env, params
