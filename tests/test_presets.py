"""Every preset builds: its overrides name real config fields with valid values, its env
and env options exist, and `algo.make` accepts the combination (all checked before any
compilation, so this is cheap)."""

import pytest

import envs
from jaxrl import algos, presets
from jaxrl import config as cfg


@pytest.mark.parametrize("key", sorted(presets.PRESETS), ids=lambda k: f"{k[0]}-{k[1]}")
def test_preset_builds_an_agent(key):
    preset = presets.PRESETS[key]
    algo = algos.get(preset.algo)
    config = cfg.apply_overrides(algo.Config(), {**preset.overrides,
                                                 "total_steps": preset.total_steps})
    env, env_params = envs.make(preset.env, **preset.env_kwargs)
    agent = algo.make(env, env_params, config)
    assert agent is not None
    assert preset.num_seeds >= 1 and preset.total_steps > 0


def test_env_named_presets_are_found_by_env():
    # `jaxrl train ALGO --env ENV` picks the preset named after ENV.
    assert presets.for_env("dqn", "Breakout-MinAtar").env == "Breakout-MinAtar"
    assert presets.for_env("pqn", "MountainCar-v0").env == "MountainCar-v0"
    assert presets.for_env("ppo", "brax/ant").env_kwargs == {"backend": "spring"}
