"""Probe environments with known Q-values, for the value-based agents' tests (DQN, PQN).

Each probe is `kind -> (config changes, {observation: Q-values of its two actions},
tolerance)`. Behaviour is uniformly random (the tests' configs hold epsilon at 1), which
Q-learning may do since it is off-policy: every action's value gets learned."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

import envs
from jaxrl.train import train

PROBES = {
    "constant-reward": ({}, {0.0: [1.0, 1.0]}, 0.05),
    # Discounting: 0 then 1, so gamma * 1 from the first observation.
    "two-step": ({}, {0.0: [0.9, 0.9], 1.0: [1.0, 1.0]}, 0.05),
    "action-reward": ({}, {0.0: [-1.0, 1.0]}, 0.05),
    # Reward 1 forever, cut by a 1-step time limit: Q = 1 / (1 - gamma) = 2; treating the
    # truncation as a termination would give 1.
    "truncation": ({"gamma": 0.5}, {0.0: [2.0, 2.0]}, 0.1),
}


def train_probe(module, base_config, kind, **changes):
    """Train `module`'s agent (`dqn`, `pqn`) on `probe/<kind>` with `base_config` and
    `changes` for its `total_steps`. Returns `(agent, policy_params, metrics)`."""
    config = dataclasses.replace(base_config, **changes)
    env, params = envs.make(f"probe/{kind}")
    agent = module.make(env, params, config)
    iterations = config.total_steps // agent.steps_per_iteration
    state, metrics = jax.jit(train(agent, iterations))(jax.random.PRNGKey(0))
    return agent, agent.policy_params(state), metrics


def q_values(agent, policy_params, obs):
    """The learned Q-values of both actions at the scalar observation `obs`."""
    return np.asarray(agent.value(policy_params, jnp.array([obs], jnp.float32)))


def assert_learns(agent, policy_params, kind, atol=None):
    """The probe's known Q-values within its tolerance (or `atol`), and for action-reward
    the greedy action is the rewarded one."""
    _, expected, tolerance = PROBES[kind]
    for obs, q in expected.items():
        np.testing.assert_allclose(q_values(agent, policy_params, obs), q, atol=atol or tolerance)
    if kind == "action-reward":
        assert int(agent.act(policy_params, jnp.zeros(1), jax.random.PRNGKey(0), deterministic=True)) == 1


def assert_probe(module, base_config, kind, **changes):
    """Train the probe (its own config changes, then `changes`) and check its Q-values.
    Returns the training metrics."""
    agent, policy_params, metrics = train_probe(module, base_config, kind, **{**PROBES[kind][0], **changes})
    assert_learns(agent, policy_params, kind)
    return metrics
