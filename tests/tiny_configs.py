"""Tiny configs per algorithm for driver tests (resume, sweeps, devices): a few iterations of
very small networks, so every registered algorithm is covered cheaply.

Algorithms without an entry here get the generic small overrides that their config has (then
their defaults, if those do not validate), on the first env of ENVS they accept."""

from __future__ import annotations

import dataclasses

import envs
from jaxrl import algos, presets, run
from jaxrl import config as cfg


def run_preset(algo_name, preset_name, tmp_path, **changes):
    """Train a preset as `jaxrl train` does (its seeds, run directory in `tmp_path`);
    `changes` override config fields. Returns the `RunResult`."""
    preset = presets.get(algo_name, preset_name)
    return run(preset.agent(**changes), logdir=tmp_path, num_seeds=preset.num_seeds, progress=False,
               metadata={"preset": preset.name})

TINY = {
    "ppo": dict(num_envs=4, num_steps=8, num_minibatches=2, update_epochs=1, hidden_sizes=(16,)),
    "a2c": dict(num_envs=4, num_steps=5, hidden_sizes=(16,)),
    "reinforce": dict(num_envs=4, num_steps=32, hidden_sizes=(16,)),
    "dqn": dict(num_envs=4, num_steps=1, buffer_size=64, batch_size=8, learning_starts=8,
                gradient_steps=1, hidden_sizes=(16,), target_update_interval=2,
                epsilon_decay_steps=32),
}
# Small values for fields many configs share; only the fields a config has are applied.
GENERIC = dict(num_envs=4, num_steps=4, num_minibatches=2, update_epochs=1, buffer_size=64,
               batch_size=8, learning_starts=8, gradient_steps=1, hidden_sizes=(16,),
               target_update_interval=2, epsilon_decay_steps=32, policy_delay=2)
ENVS = ("CartPole-v1", "Pendulum-v1")


def _build(algo, env_id, overrides, total_steps):
    env, env_params = envs.make(env_id)
    config = cfg.apply_overrides(algo.Config(), {**overrides, "total_steps": total_steps})
    return algo.make(env, env_params, config)


def make_tiny(name: str, iterations: int = 4):
    """`(agent, total_steps)` for `iterations` iterations of a tiny config of `name`."""
    algo = algos.get(name)
    fields = {f.name for f in dataclasses.fields(algo.Config)}
    candidates = [TINY[name]] if name in TINY else []
    candidates += [{k: v for k, v in GENERIC.items() if k in fields}, {}]
    errors = []
    for env_id in ENVS:
        for overrides in candidates:
            try:
                probe = _build(algo, env_id, overrides, 10**6)
                total = iterations * probe.steps_per_iteration
                return _build(algo, env_id, overrides, total), total
            except ValueError as error:
                errors.append(f"{env_id} {overrides}: {error}")
    raise AssertionError(f"no tiny config for {name}: " + "; ".join(errors))
