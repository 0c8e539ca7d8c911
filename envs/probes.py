"""Probe environments: tiny MDPs whose values and optimal policies are known exactly.

They isolate one part of a learner each (value fitting, observation conditioning,
discounting, action conditioning, time-limit bootstrapping), so a failing probe points at
the broken piece. Registered as ``probe/<name>`` ids. Observations are float32 of shape
(1,); actions are Discrete(2) unless stated.

| id                              | dynamics                                  | known answer              |
|---------------------------------|-------------------------------------------|---------------------------|
| probe/constant-reward           | 1 step, reward +1, terminates             | V(s) = 1                  |
| probe/observation-reward        | obs ±1 at random, reward = obs, 1 step    | V(+1) = 1, V(-1) = -1     |
| probe/two-step                  | obs 0 then obs 1, reward only at step 2   | V(0) = gamma, V(1) = 1    |
| probe/action-reward             | 1 step, reward +1 for action 1, else -1   | pi(1) -> 1, V -> 1        |
| probe/action-reward-continuous  | 1 step, Box(-1,1), reward = -(a - 0.5)^2  | mean action -> 0.5        |
| probe/truncation                | reward +1 each step, never terminates;    | V(s) = 1 / (1 - gamma)    |
|                                 | time limit 1 step (truncated, bootstrap)  |                           |
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.core import Environment
from envs.spaces import Box, Discrete


@struct.dataclass
class ProbeState:
    obs: jax.Array
    time: jax.Array


@struct.dataclass
class ProbeParams:
    max_steps_in_episode: int = struct.field(pytree_node=False, default=1)


class _Probe(Environment):
    kind = ""

    def __init__(self, kind: str):
        self.kind = kind
        self.name = f"probe/{kind}"

    @property
    def default_params(self) -> ProbeParams:
        return ProbeParams(max_steps_in_episode=2 if self.kind == "two-step" else 1)

    def reset(self, key, params=None):
        if self.kind == "observation-reward":
            obs = jnp.where(jax.random.bernoulli(key), 1.0, -1.0)
        else:
            obs = jnp.asarray(0.0)
        obs = obs.astype(jnp.float32).reshape(1)
        return obs, ProbeState(obs=obs, time=jnp.zeros((), jnp.int32))

    def step(self, key, state: ProbeState, action, params=None):
        params = self._params(params)
        time = state.time + 1
        if self.kind == "constant-reward":
            reward, terminated, obs = 1.0, True, state.obs
        elif self.kind == "observation-reward":
            reward, terminated, obs = state.obs[0], True, state.obs
        elif self.kind == "two-step":
            reward = jnp.where(time >= 2, 1.0, 0.0)
            terminated = time >= 2
            obs = jnp.ones(1, jnp.float32)
        elif self.kind == "action-reward":
            reward, terminated, obs = jnp.where(action == 1, 1.0, -1.0), True, state.obs
        elif self.kind == "action-reward-continuous":
            reward = -jnp.sum((jnp.asarray(action) - 0.5) ** 2)
            terminated, obs = True, state.obs
        elif self.kind == "truncation":
            reward, terminated, obs = 1.0, False, state.obs
        else:  # pragma: no cover - guarded by PROBES
            raise ValueError(self.kind)
        terminated = jnp.asarray(terminated, bool)
        truncated = jnp.logical_and(time >= params.max_steps_in_episode, ~terminated)
        reward = jnp.asarray(reward, jnp.float32)
        return obs, ProbeState(obs=obs, time=time), reward, terminated, truncated, {}

    def observation_space(self, params=None) -> Box:
        return Box(-1.0, 1.0, (1,), np.float32)

    def action_space(self, params=None):
        if self.kind == "action-reward-continuous":
            return Box(-1.0, 1.0, (1,), np.float32)
        return Discrete(2)

    def max_episode_steps(self, params=None) -> int:
        return int(self._params(params).max_steps_in_episode)


PROBES = (
    "constant-reward",
    "observation-reward",
    "two-step",
    "action-reward",
    "action-reward-continuous",
    "truncation",
)


def make_probe(kind: str, **kwargs: Any):
    """``(env, params)`` for probe ``kind`` (one of PROBES)."""
    if kind not in PROBES:
        raise ValueError(f"Unknown probe {kind!r}; choose one of {PROBES}")
    env = _Probe(kind)
    params = env.default_params
    if kwargs:
        params = params.replace(**kwargs)
    return env, params
