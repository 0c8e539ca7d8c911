"""The agent contract every algorithm implements (see DESIGN.md).

```python
agent = ppo.make(env, env_params, config)  # validates, builds pure functions
state = agent.init(key)                    # pytree with everything needed to continue
state, metrics = agent.update(state)       # one iteration: collect experience + learn
action = agent.act(agent.policy_params(state), obs, key, deterministic=True)
```
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax


@dataclasses.dataclass(frozen=True)
class Agent:
    """Pure functions of one algorithm bound to one environment and static config.

    Attributes:
      algo: algorithm name ("ppo", ...).
      config: the frozen config dataclass.
      env, env_params: the (wrapped) environment the agent trains on.
      init: `(key, hparams=None) -> state`; `hparams` overrides traced hyperparameters
        (a dict of scalars, e.g. for sweeps).
      update: `state -> (state, metrics)`, one training iteration; metrics are scalars.
      act: `(policy_params, obs, key, deterministic=False) -> action` for one observation
        (vmap it for a batch).
      policy_params: `state -> pytree` everything `act` needs (network params, obs stats).
      steps_per_iteration: env steps one `update` collects (per seed).
      value: `(policy_params, obs) -> V(obs)` (or Q-values for value-based agents) for
        inspection and probes; None if the agent has no critic.
      recurrent: `act` takes and returns a hidden state:
        `act(params, obs, key, deterministic, hidden, first) -> (action, hidden)`.
      split_update: `(state, axis_name) -> (state, metrics)`, the same iteration as
        `update`, run by both devices of the two-device mesh axis `axis_name` (inside
        `shard_map`, the state replicated) with each gradient step's work split between
        them (the actor's on one, the critic's on the other); None when the agent's networks
        cannot be split. `jaxrl.train.run(..., shard="networks")` uses it.
      extras: algorithm-specific pure functions exposed for research and tests.
    """

    algo: str
    config: Any
    env: Any
    env_params: Any
    init: Callable[..., Any]
    update: Callable[[Any], tuple[Any, dict[str, jax.Array]]]
    act: Callable[..., jax.Array]
    policy_params: Callable[[Any], Any]
    steps_per_iteration: int
    value: Callable[..., jax.Array] | None = None
    recurrent: bool = False
    split_update: Callable[[Any, str], tuple[Any, dict[str, jax.Array]]] | None = None
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)
