"""Tuned configurations per algorithm and environment.

A preset names an env, the config overrides, the step budget and the number of seeds. The
return each reaches, measured on this project's CI machine (2-core CPU), is in
docs/presets.md, written by `python scripts/measure_presets.py`. `jaxrl train ALGO --env ENV` uses the
preset named after ENV when one exists; `--preset none` starts from the config defaults.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any


@dataclasses.dataclass(frozen=True)
class Preset:
    name: str
    algo: str
    env: str
    overrides: dict[str, Any]
    total_steps: int
    num_seeds: int = 4
    env_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)



_REFERENCE = dict(num_envs=4, num_steps=128, num_minibatches=4, update_epochs=4,
                  hidden_sizes=(64, 64), activation="tanh", learning_rate=2.5e-4, gamma=0.99,
                  gae_lambda=0.95, clip_eps=0.2, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5,
                  anneal_lr=True)

_PRESETS: list[Preset] = [
    Preset(
        name="CartPole-v1", algo="ppo", env="CartPole-v1",
        # The common reference config (CleanRL / PureJaxRL defaults).
        overrides=_REFERENCE, total_steps=500_000, num_seeds=4,
    ),
    Preset(
        name="Acrobot-v1", algo="ppo", env="Acrobot-v1",
        overrides=_REFERENCE, total_steps=500_000, num_seeds=4,
    ),
    Preset(
        name="Pendulum-v1", algo="ppo", env="Pendulum-v1",
        # Continuous PPO: short horizon (gamma 0.9), long rollouts, normalised obs and rewards.
        overrides=dict(num_envs=16, num_steps=256, num_minibatches=16, update_epochs=10,
                       learning_rate=1e-3, gamma=0.9, gae_lambda=0.95, ent_coef=0.0,
                       normalize_observations=True, scale_rewards=True),
        total_steps=1_000_000, num_seeds=4,
    ),
    Preset(
        name="brax/inverted_pendulum", algo="ppo", env="brax/inverted_pendulum",
        overrides=dict(num_envs=32, num_steps=64, num_minibatches=8, update_epochs=4,
                       learning_rate=3e-4, gamma=0.97, ent_coef=0.001,
                       normalize_observations=True, scale_rewards=True),
        total_steps=200_000, num_seeds=2, env_kwargs={"backend": "positional"},
    ),
    Preset(
        name="Breakout-MinAtar", algo="ppo", env="Breakout-MinAtar",
        # The MinAtar CNN; a CPU-sized budget (MinAtar results are usually quoted at 10M steps).
        overrides=dict(num_envs=64, num_steps=128, num_minibatches=8, update_epochs=4,
                       hidden_sizes=(128,), learning_rate=5e-4, ent_coef=0.01, gamma=0.99,
                       gae_lambda=0.95, clip_eps=0.2, max_grad_norm=0.5, anneal_lr=True),
        total_steps=1_000_000, num_seeds=2,
    ),
    Preset(
        name="CartPole-v1-kl", algo="ppo", env="CartPole-v1",
        # PPO with the adaptive KL penalty instead of clipping (Schulman et al., 2017).
        overrides={**_REFERENCE, "objective": "kl", "kl_target": 0.01, "kl_coef": 1.0},
        total_steps=500_000, num_seeds=4,
    ),
    Preset(
        name="CartPole-v1-recurrent", algo="ppo", env="CartPole-v1",
        # Velocities hidden: only cart position and pole angle are observed, so the GRU
        # policy must infer velocities from memory.
        overrides={**_REFERENCE, "recurrent": True, "rnn_size": 64, "num_envs": 16,
                   "num_minibatches": 4, "learning_rate": 1e-3},
        total_steps=500_000, num_seeds=2, env_kwargs={"hide_velocity": True},
    ),
    Preset(
        name="CartPole-v1", algo="a2c", env="CartPole-v1",
        overrides=dict(num_envs=8, num_steps=5, learning_rate=7e-4, ent_coef=0.0),
        total_steps=500_000, num_seeds=4,
    ),
    Preset(
        name="CartPole-v1", algo="dqn", env="CartPole-v1",
        # Double DQN over 16 vectorised envs, 2 gradient steps per iteration; MSE loss (with
        # Huber, Q diverged on CartPole: see DQNConfig).
        overrides=dict(num_envs=16, num_steps=1, gradient_steps=2, batch_size=128,
                       buffer_size=10_000, learning_starts=10_000, double=True, loss="mse",
                       target_update="hard", target_update_interval=50, learning_rate=2.5e-4),
        total_steps=500_000, num_seeds=4,
    ),
    Preset(
        name="CartPole-v1", algo="reinforce", env="CartPole-v1",
        overrides=dict(num_envs=8, num_steps=0, learning_rate=1e-3, baseline=True,
                       normalize_returns=True),
        total_steps=1_000_000, num_seeds=4,
    ),
]

PRESETS: dict[tuple[str, str], Preset] = {(p.algo, p.name): p for p in _PRESETS}


def names(algo: str) -> list[str]:
    return [name for (a, name) in PRESETS if a == algo]


def get(algo: str, name: str) -> Preset:
    """The preset `name` of `algo`, or a ValueError listing the available ones."""
    try:
        return PRESETS[(algo, name)]
    except KeyError:
        available = names(algo)
        close = difflib.get_close_matches(name, available, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"No preset {name!r} for {algo}.{hint} Available: {', '.join(available) or 'none'}; "
            "or --preset none for the config defaults."
        ) from None


def for_env(algo: str, env: str) -> Preset | None:
    """The preset named after `env` for `algo`, if any."""
    return PRESETS.get((algo, env))
