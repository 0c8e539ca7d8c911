"""Config helpers shared by every algorithm: validation, `--set` overrides, traced hyperparameters.

Algorithm configs are frozen dataclasses. Fields named in the class attribute
`TRACED` are numeric hyperparameters carried as arrays in the train state (so one compiled
program serves every value of a sweep); every other field is static (shapes, switches).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from typing import Any, Mapping

import jax.numpy as jnp


def field_names(config) -> list[str]:
    return [f.name for f in dataclasses.fields(config)]


def traced_hparams(config, overrides: Mapping[str, Any] | None = None) -> dict[str, jnp.ndarray]:
    """The config's traced hyperparameters as float32 arrays, optionally overridden."""
    values = {name: getattr(config, name) for name in type(config).TRACED}
    for name, value in (overrides or {}).items():
        if name not in values:
            raise ValueError(
                f"{name!r} is not a traced hyperparameter of {type(config).__name__}; "
                f"traced ones are {sorted(values)}."
            )
        values[name] = value
    return {name: jnp.asarray(value, jnp.float32) for name, value in values.items()}


def _unknown_field_error(config, name: str) -> ValueError:
    names = field_names(config)
    close = difflib.get_close_matches(name, names, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return ValueError(
        f"Unknown field {name!r} for {type(config).__name__}.{hint} "
        f"Fields: {', '.join(names)}."
    )


def _coerce(config, name: str, annotation, raw):
    """Convert `raw` (a string from the command line, or a Python value) to `annotation`."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)

    def fail(reason=""):
        return ValueError(
            f"Bad value {raw!r} for {type(config).__name__}.{name}: expected {_type_name(annotation)}"
            f"{reason}. Example: --set {name}={_example(annotation)}"
        )

    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if isinstance(raw, str) and raw.lower() in ("none", "null") or raw is None:
            if type(None) in args:
                return None
            raise fail()
        return _coerce(config, name, non_none[0], raw)
    if annotation is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(raw, str) and raw.lower() in ("false", "0", "no", "off"):
            return False
        raise fail()
    if annotation is int:
        if isinstance(raw, bool):
            raise fail()
        if isinstance(raw, int):
            return raw
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise fail() from None
        if not value.is_integer():
            raise fail(" (an integer)")
        return int(value)
    if annotation is float:
        if isinstance(raw, bool):
            raise fail()
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise fail() from None
    if annotation is str:
        if not isinstance(raw, str):
            raise fail()
        return raw
    if origin is tuple:
        element = args[0] if args else int
        if isinstance(raw, str):
            text = raw.strip().strip("()[]")
            items = [item for item in text.split(",") if item.strip()]
        elif isinstance(raw, (list, tuple)):
            items = list(raw)
        else:
            raise fail()
        return tuple(_coerce(config, name, element, item.strip() if isinstance(item, str) else item) for item in items)
    raise fail()


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is tuple:
        return f"a comma-separated list of {_type_name(typing.get_args(annotation)[0])}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    return {bool: "a boolean (true/false)", int: "an integer", float: "a number",
            str: "a string", type(None): "none"}.get(annotation, str(annotation))


def _example(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is tuple:
        return "64,64"
    if origin in (typing.Union, types.UnionType):
        return _example([a for a in typing.get_args(annotation) if a is not type(None)][0])
    return {bool: "true", int: "8", float: "0.001", str: "name"}.get(annotation, "...")


def apply_overrides(config, overrides: Mapping[str, Any]):
    """Return `config` with fields replaced; values may be strings (parsed by field type).

    Raises ValueError naming the field for unknown fields and values of the wrong type.
    """
    hints = typing.get_type_hints(type(config))
    changes = {}
    for name, raw in overrides.items():
        if name not in hints or name not in field_names(config):
            raise _unknown_field_error(config, name)
        changes[name] = _coerce(config, name, hints[name], raw)
    return dataclasses.replace(config, **changes)


def parse_set_arguments(items: list[str] | None) -> dict[str, str]:
    """`["lr=1e-3", "hidden_sizes=64,64"]` -> dict, with a clear error for malformed items."""
    result = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"Bad --set {item!r}: expected field=value, e.g. --set learning_rate=3e-4")
        name, value = item.split("=", 1)
        result[name.strip()] = value.strip()
    return result


def to_dict(config) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(config)))


def from_dict(cls, data: Mapping[str, Any]):
    """Rebuild a config from `to_dict` output (JSON lists become tuples)."""
    return apply_overrides(cls(), dict(data))


class ConfigError(ValueError):
    """A configuration that cannot work, detected before anything compiles."""


def check(condition: bool, config, field: str, message: str) -> None:
    """Raise ConfigError `"<Config>.<field>=<value>: <message>"` unless `condition`."""
    if not condition:
        value = getattr(config, field)
        raise ConfigError(f"{type(config).__name__}.{field}={value!r}: {message}")


def check_positive(config, *fields: str) -> None:
    for field in fields:
        check(getattr(config, field) > 0, config, field, "must be > 0; set a positive value with --set "
              f"{field}=...")


def check_unit_interval(config, *fields: str, open_low=False) -> None:
    for field in fields:
        value = getattr(config, field)
        ok = (0 < value <= 1) if open_low else (0 <= value <= 1)
        check(ok, config, field, f"must be in {'(0' if open_low else '[0'}, 1]")


def check_sde(config, action_space=None, obs_shape=None) -> None:
    """The exploration switch of the agents with gSDE (SAC, PPO, A2C) and its resampling
    period; given the env's action space and observation shape, also that an actor-critic
    can apply gSDE there: continuous actions, an MLP torso (its last hidden layer is the
    noise's input)."""
    check(config.exploration in ("gaussian", "gsde"), config, "exploration",
          "must be 'gaussian' or 'gsde' (generalized state-dependent exploration)")
    check(config.sde_sample_freq == -1 or config.sde_sample_freq >= 1, config, "sde_sample_freq",
          "must be -1 (a new gSDE noise matrix each iteration) or >= 1 env steps")
    if config.exploration != "gsde":
        return
    if action_space is not None:
        check(not hasattr(action_space, "n"), config, "exploration",
              "gSDE perturbs continuous actions; this env's are discrete (drop exploration=gsde)")
    if obs_shape is not None:
        from jaxrl.networks import default_torso_kind

        torso = default_torso_kind(tuple(obs_shape)) if config.network == "auto" else config.network
        check(torso == "mlp", config, "network",
              "gSDE's noise is drawn from the MLP torso's last hidden layer; use network=mlp")


def check_replay_shapes(config) -> None:
    """The shape fields every replay-buffer agent has: learning_starts, batch_size,
    buffer_size, num_envs * num_steps per iteration, total_steps."""
    check(config.learning_starts >= 0, config, "learning_starts", "must be >= 0 env steps")
    check(config.batch_size <= config.buffer_size, config, "batch_size",
          f"must be <= buffer_size={config.buffer_size}; lower batch_size or raise buffer_size")
    per_iteration = config.num_envs * config.num_steps
    check(config.buffer_size >= per_iteration, config, "buffer_size",
          f"must hold one iteration's transitions, num_envs * num_steps = {per_iteration}")
    check(config.total_steps >= per_iteration, config, "total_steps",
          f"must be at least one iteration, num_envs * num_steps = {per_iteration}")


def check_network(config, obs_shape) -> None:
    """The network fields every actor-critic config has: hidden_sizes, activation, network."""
    from jaxrl.networks import ACTIVATIONS

    check(len(config.hidden_sizes) > 0 and all(h > 0 for h in config.hidden_sizes),
          config, "hidden_sizes", "must be a non-empty list of positive sizes, e.g. 64,64")
    check(config.activation in ACTIVATIONS, config, "activation",
          f"choose one of {sorted(ACTIVATIONS)}")
    check(config.network in ("auto", "mlp", "cnn"), config, "network", "choose 'auto', 'mlp' or 'cnn'")
    if config.network == "cnn":
        check(len(obs_shape) == 3, config, "network",
              f"the cnn needs image observations (H, W, C); this env's are {tuple(obs_shape)}")


# The algorithms to suggest for an env whose action space kind a config does not support.
ALGOS_FOR_ACTIONS = {"discrete": "dqn, pqn, ppo, a2c or reinforce",
                     "continuous": "sac, td3, ddpg, ppo, a2c or reinforce"}


def check_action_space(config, space, allowed: tuple[str, ...]) -> None:
    """Raise unless the env's action space kind ("discrete" / "continuous") is allowed."""
    kind = "discrete" if hasattr(space, "n") else "continuous"
    if kind not in allowed:
        raise ConfigError(
            f"{type(config).__name__} supports {' and '.join(allowed)} action spaces; this env's "
            f"action space is {space!r} ({kind}). Use {ALGOS_FOR_ACTIONS[kind]} for {kind} actions."
        )
