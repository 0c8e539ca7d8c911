"""Adapter from Brax environments to ``envs.Environment`` (ids ``brax/<name>``).

Brax is imported lazily (it is slow to import). The raw Brax env is used without
Brax's own wrappers: the time limit is ours. ``terminated`` is Brax's ``done``;
``truncated`` is "step counter reached ``episode_length`` and not terminated".
Brax metrics are not forwarded in ``info``. Brax steps are deterministic, so the
step key is unused.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import sys
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.core import Environment, StepResult, key_spec
from envs.spaces import Box

__all__ = [
    "BraxEnv",
    "BraxParams",
    "BraxState",
    "make_brax",
    "brax_names",
    "backends",
    "default_backend",
    "DEFAULT_EPISODE_LENGTH",
]

DEFAULT_EPISODE_LENGTH = 1000

# Names registered in brax 0.14.2 (``brax.envs._envs``), so that ``envs.registered()``
# does not need to import Brax. Once Brax is imported its live registry is used too.
_KNOWN_BRAX_NAMES = (
    "ant",
    "fast",
    "halfcheetah",
    "hopper",
    "humanoid",
    "humanoidstandup",
    "inverted_pendulum",
    "inverted_double_pendulum",
    "pusher",
    "reacher",
    "swimmer",
    "walker2d",
)

# Fastest CPU backend, measured here (2-core CPU, jax 0.10.2, brax 0.14.2) with
# jit(vmap(step)) over 64 envs x 100 steps (lax.scan), random actions, best of 3:
#   brax/inverted_pendulum: spring 98.8k steps/s, positional 60.6k steps/s
#   brax/hopper:            spring 66.1k steps/s, positional 14.5k steps/s
# spring also compiled faster (hopper: 26 s vs 38 s).
_CPU_DEFAULT_BACKEND = "spring"

# Brax's physics pipelines (``brax.envs.base.PipelineEnv``), and the envs whose constructor
# accepts only some of them: brax 0.14.2's swimmer is built for "generalized" alone.
_BACKENDS = ("generalized", "spring", "positional", "mjx")
_ONLY_BACKENDS = {"swimmer": ("generalized",)}

# Lines printed on stdout by mujoco.mjx when the optional `warp` GPU package is absent.
_NOISY_PRINTS = ("Failed to import warp", "Failed to import mujoco_warp")


def _import_brax_envs():
    """Import ``brax.envs``, silencing only its known-noisy import messages."""
    if "brax.envs" in sys.modules:
        return sys.modules["brax.envs"]
    buf = io.StringIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*JAXopt is no longer maintained.*")
        with contextlib.redirect_stdout(buf):
            import brax.envs as brax_envs
    for line in buf.getvalue().splitlines():
        if line.strip() and not line.startswith(_NOISY_PRINTS):
            print(line)
    _give_brax_fluid_a_clip_it_can_call()
    return brax_envs


class _NumpyWithClipBounds:
    """``jax.numpy`` whose ``clip`` also takes the ``a_min``/``a_max`` keywords jax dropped."""

    def __getattr__(self, name: str) -> Any:
        return getattr(jnp, name)

    @staticmethod
    def clip(x, a_min=None, a_max=None):
        return jnp.clip(x, a_min, a_max)


def _give_brax_fluid_a_clip_it_can_call() -> None:
    """brax 0.14.2's fluid forces (swimmer's viscosity) call ``jnp.clip(x, a_min=...)``,
    which jax 0.10.2 rejects; swap that one module's ``jnp`` for one that accepts it."""
    import brax.fluid

    if brax.fluid.jp is jnp and "a_min" not in inspect.signature(jnp.clip).parameters:
        brax.fluid.jp = _NumpyWithClipBounds()


class UnknownBraxEnvError(ValueError):
    """Raised by ``make_brax`` for a name Brax does not know."""


@contextlib.contextmanager
def _quiet_brax_trace():
    """Silence the mujoco deprecation warnings brax's contact code triggers when traced."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r"Accessing `\w+` directly from `Data` is deprecated",
            category=DeprecationWarning,
        )
        yield


# MuJoCo notices about brax's own model files, not actionable by our users: brax 0.14.2's
# halfcheetah asset uses the deprecated `settotalmass` compiler attribute.
_BRAX_ASSET_NOTICES = ("compiler attribute 'settotalmass' is deprecated",)


@contextlib.contextmanager
def _mujoco_warnings_as_python_warnings():
    """While Brax compiles its MuJoCo model, hand MuJoCo's warnings to Python's `warnings`.

    MuJoCo's default handler prints them and appends them to `MUJOCO_LOG.TXT` in the
    working directory, so building `brax/halfcheetah` left that file wherever a user ran
    `jaxrl train`. Notices about Brax's own assets are dropped; anything else is warned."""
    import mujoco

    previous = mujoco.get_mju_user_warning()

    def warn(message: str) -> None:
        if not message.startswith(_BRAX_ASSET_NOTICES):
            warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2)

    mujoco.set_mju_user_warning(warn)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(previous)


def brax_names() -> list[str]:
    """Brax env names (without the ``brax/`` prefix)."""
    names = set(_KNOWN_BRAX_NAMES)
    mod = sys.modules.get("brax.envs")
    if mod is not None:
        names.update(getattr(mod, "_envs", {}))
    return sorted(names)


def backends(name: str) -> tuple[str, ...]:
    """The physics backends ``brax/<name>`` (or ``<name>``) runs on."""
    return _ONLY_BACKENDS.get(name.split("/", 1)[-1], _BACKENDS)


def default_backend(name: str | None = None) -> str:
    """The physics backend used when none is given for ``brax/<name>`` (or any env).

    CPU: "spring", the faster of "positional"/"spring" as measured above.
    GPU/TPU: "mjx" (MuJoCo XLA, supported by brax 0.14.2 and its own default).
    An env that runs on neither (swimmer: "generalized" only) gets the first of its own.
    """
    preferred = _CPU_DEFAULT_BACKEND if jax.default_backend() == "cpu" else "mjx"
    supported = backends(name) if name else _BACKENDS
    return preferred if preferred in supported else supported[0]


@struct.dataclass
class BraxParams:
    """Time limit of a Brax episode (static: changing it recompiles)."""

    episode_length: int = struct.field(pytree_node=False, default=DEFAULT_EPISODE_LENGTH)


@struct.dataclass
class BraxState:
    brax_state: Any  # brax.envs.State: pipeline_state, obs, reward, done, metrics, info
    step_count: jax.Array  # int32 steps taken in this episode


def _normalize(s: Any) -> Any:
    """Make every leaf of a Brax state an array (Brax leaves some Python floats in
    metrics/info) and fix obs/reward/done to float32, so states from ``reset`` and
    ``step`` have identical pytree types (needed by ``lax.scan`` and AutoReset)."""
    s = jax.tree.map(jnp.asarray, s)
    return s.replace(
        obs=jnp.asarray(s.obs, jnp.float32),
        reward=jnp.asarray(s.reward, jnp.float32),
        done=jnp.asarray(s.done, jnp.float32),
    )


class BraxEnv(Environment):
    """A Brax ``PipelineEnv`` with our own time limit and no auto-reset."""

    def __init__(self, name: str, brax_env: Any, params: BraxParams):
        self.name = name
        self._brax_env = brax_env
        self._default_params = params
        with _quiet_brax_trace():
            obs_shape = jax.eval_shape(brax_env.reset, key_spec()).obs
        if not hasattr(obs_shape, "shape"):
            raise NotImplementedError(f"{name}: dict observations are not supported")
        self._obs_shape = tuple(obs_shape.shape)
        self._action_size = int(brax_env.action_size)

    @property
    def brax_env(self) -> Any:
        return self._brax_env

    @property
    def backend(self) -> str:
        return self._brax_env.backend

    @property
    def default_params(self) -> BraxParams:
        return self._default_params

    def reset(self, key, params=None):
        if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
            key = jax.random.key_data(key)  # brax splits raw uint32 keys
        with _quiet_brax_trace():
            s = self._brax_env.reset(key)
        s = _normalize(s)
        return s.obs, BraxState(s, jnp.zeros((), jnp.int32))

    def step(self, key, state: BraxState, action, params=None) -> StepResult:
        del key
        params = self._params(params)
        with _quiet_brax_trace():
            s = self._brax_env.step(state.brax_state, jnp.asarray(action, jnp.float32))
        s = _normalize(s)
        count = state.step_count + jnp.int32(1)
        terminated = s.done > 0.5
        truncated = jnp.logical_and(count >= params.episode_length, jnp.logical_not(terminated))
        return s.obs, BraxState(s, count), s.reward, terminated, truncated, {}

    def observation_space(self, params=None) -> Box:
        return Box(-np.inf, np.inf, self._obs_shape, np.float32)

    def action_space(self, params=None) -> Box:
        return Box(-1.0, 1.0, (self._action_size,), np.float32)

    def max_episode_steps(self, params=None) -> int:
        return int(self._params(params).episode_length)


def make_brax(
    name: str, *, backend: str | None = None, episode_length: int | None = None, **kwargs
) -> tuple[BraxEnv, BraxParams]:
    """Make ``brax/<name>`` with ``backend`` (default: ``default_backend()``)."""
    brax_envs = _import_brax_envs()
    short = name.split("/", 1)[1]
    if short not in brax_envs._envs:
        raise UnknownBraxEnvError(f"Unknown Brax environment {short!r}")
    if episode_length is None:
        episode_length = DEFAULT_EPISODE_LENGTH
    if int(episode_length) <= 0:
        raise ValueError(f"episode_length must be a positive int, got {episode_length!r}")
    backend = default_backend(short) if backend is None else backend
    supported = backends(short)
    if backend not in supported:
        raise ValueError(
            f"{name}: unknown or unsupported Brax backend {backend!r}; it runs on "
            f"{', '.join(map(repr, supported))}. Pass one of them (--backend "
            f"{supported[0]}), or none for the default ({default_backend(short)!r}).")
    with warnings.catch_warnings(), _mujoco_warnings_as_python_warnings():
        # Printed by every Brax env constructor; says Brax is in maintenance mode.
        warnings.filterwarnings("ignore", message=r"Brax System, piplines and environments")
        env = brax_envs.get_environment(short, backend=backend, **kwargs)
    params = BraxParams(episode_length=int(episode_length))
    return BraxEnv(name, env, params), params
