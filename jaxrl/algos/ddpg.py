"""Deep Deterministic Policy Gradient (DDPG; Lillicrap et al., 2016), as in
Stable-Baselines3 and the TD3 paper's "our DDPG": a deterministic tanh actor, ONE critic
`Q(s, a)` regressed on `r + discount * Q_target(s', mu_target(s'))`, the actor trained on
`max_a Q(s, mu(s))` at every critic step, soft (Polyak) target updates, and Gaussian
exploration noise.

It is TD3 (`jaxrl.algos.td3`, whose builder it uses) with `num_critics=1`,
`policy_delay=1` and `target_noise=0` (no target-policy smoothing); changing those fields
walks back towards TD3.
"""

from __future__ import annotations

import dataclasses

from jaxrl.agent import Agent
from jaxrl.algos import td3


@dataclasses.dataclass(frozen=True)
class DDPGConfig(td3.TD3Config):
    """DDPG hyperparameters: TD3Config's fields with DDPG's defaults (one critic, no policy
    delay, no target smoothing). Stable-Baselines3's DDPG defaults otherwise."""

    num_critics: int = 1
    policy_delay: int = 1
    target_noise: float = 0.0
    target_noise_clip: float = 0.0


def make(env, env_params, config: DDPGConfig = DDPGConfig()) -> Agent:
    return td3.build("ddpg", env, env_params, config)


Config = DDPGConfig
