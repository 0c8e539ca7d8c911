"""Exploration as pure functions (jit/vmap-safe; every numeric argument may be traced):
epsilon schedules and epsilon-greedy action choice for value-based agents, the
Ornstein-Uhlenbeck action noise of DDPG and TD3, and the state-dependent noise (gSDE) of
SAC, PPO and A2C."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.buffers import linear_schedule
from jaxrl.control import run_if


def epsilon_linear(count, start, end, decay_steps):
    """`start` at count 0, linearly to `end` at `count >= decay_steps`, then held."""
    return linear_schedule(start, end, decay_steps, count)


def epsilon_exponential(count, start, end, decay_steps):
    """`end + (start - end) * exp(-count / decay_steps)`: the gap to `end` shrinks by a
    factor e every `decay_steps` steps (so it is ~5% of the initial gap after
    3 * decay_steps). `decay_steps` must be > 0."""
    count = jnp.asarray(count, jnp.float32)
    return end + (start - end) * jnp.exp(-count / jnp.asarray(decay_steps, jnp.float32))


def greedy(q_values, action_mask=None):
    """`argmax_a Q(s, a)` over `(..., A)`, restricted to allowed actions when `action_mask`
    (bool `(..., A)`, True = allowed) is given."""
    if action_mask is not None:
        q_values = jnp.where(action_mask, q_values, -jnp.inf)
    return jnp.argmax(q_values, axis=-1).astype(jnp.int32)


def epsilon_greedy(key, q_values, epsilon, action_mask=None):
    """Per row of `q_values` `(..., A)`: with probability `epsilon` an action drawn
    uniformly (from the allowed ones, if `action_mask` is given), else the greedy one."""
    explore_key, action_key = jax.random.split(key)
    best = greedy(q_values, action_mask)
    if action_mask is None:
        random = jax.random.randint(action_key, best.shape, 0, q_values.shape[-1])
    else:
        logits = jnp.where(action_mask, 0.0, -jnp.inf)
        random = jax.random.categorical(action_key, logits, axis=-1)
    explore = jax.random.uniform(explore_key, best.shape) < epsilon
    return jnp.where(explore, random, best).astype(jnp.int32)


def masked_max(q_values, action_mask=None):
    """`max_a Q(s, a)` over allowed actions `(..., A) -> (...)`; 0 where no action is allowed
    (e.g. a terminal observation of a masked env, whose value is never bootstrapped, so no
    -inf can leak into a target as NaN)."""
    if action_mask is None:
        return q_values.max(axis=-1)
    best = jnp.where(action_mask, q_values, -jnp.inf).max(axis=-1)
    return jnp.where(action_mask.any(axis=-1), best, 0.0)


def ornstein_uhlenbeck_step(key, noise, first, sigma, theta, dt):
    """One step of Ornstein-Uhlenbeck action noise around 0 (the process of the DDPG paper
    and Stable-Baselines3's `OrnsteinUhlenbeckActionNoise`):
    `x' = x - theta * x * dt + sigma * sqrt(dt) * eps`, `eps ~ N(0, I)`, with `x` restarted
    at 0 where `first` (a new episode). `noise` `(N, A)`, `first` `(N,)` bool -> `(N, A)`.

    Successive values are correlated (`theta * dt` sets how fast they return to 0), so a
    deterministic policy explores with sustained pushes instead of per-step jitter."""
    noise = jnp.where(first[:, None], 0.0, noise)
    eps = jax.random.normal(key, noise.shape, noise.dtype)
    return noise - theta * noise * dt + sigma * jnp.sqrt(dt) * eps


GSDE_VARIANCE_EPS = 1e-6  # added to gSDE's variance, as Stable-Baselines3 does


def gsde_log_std(latent, log_std):
    """The log std of the Gaussian that generalized state-dependent exploration (gSDE;
    Raffin et al., 2022) induces over actions: the noise `latent @ W`, with
    `W_ja ~ N(0, exp(log_std_ja)^2)` independent, has variance
    `sum_j latent_j^2 exp(log_std_ja)^2` per action (plus `GSDE_VARIANCE_EPS`).
    `latent` `(..., L)` (the policy's last hidden layer), `log_std` `(L, A)` -> `(..., A)`."""
    return 0.5 * jnp.log(jnp.square(latent) @ jnp.exp(2.0 * log_std) + GSDE_VARIANCE_EPS)


def gsde_noise(latent, log_std, eps):
    """gSDE's action noise `latent @ (exp(log_std) * eps)` for a standard-normal noise
    matrix `eps`: `(L, A)`, one for every row of `latent` `(N, L)`, or `(N, L, A)`, one per
    row (per env). Differentiable in latent and log_std (a reparameterised `W`). -> `(N, A)`."""
    weights = jnp.exp(log_std) * eps
    return latent @ weights if eps.ndim == 2 else jnp.einsum("nl,nla->na", latent, weights)


def gsde_mean_std(params) -> jax.Array:
    """The mean of the noise matrix's stds, `exp(log_std)`, of a gSDE policy's parameters
    (`params["params"]["log_std"]`, `(L, A)`): what Stable-Baselines3 logs as train/std."""
    return jnp.exp(params["params"]["log_std"]).mean()


def gsde_noise_init(num_envs: int, latent_dim: int, action_dim: int) -> dict:
    """The state of gSDE's per-env noise matrices before the first step: zeros (the first
    `gsde_noise_step` draws them) and a step count of 0."""
    return {"eps": jnp.zeros((num_envs, latent_dim, action_dim), jnp.float32),
            "steps": jnp.zeros((), jnp.int32)}


def gsde_noise_step(noise: dict, key, rollout_steps: int, sample_freq: int) -> dict:
    """Advance gSDE's noise state by one env step: a new standard-normal matrix per env at
    the start of each rollout of `rollout_steps` steps and every `sample_freq` steps into
    it (Stable-Baselines3's reset points for `sde_sample_freq`; -1: one matrix per
    rollout), the held one otherwise. `rollout_steps` and `sample_freq` are Python ints."""
    every = rollout_steps if sample_freq == -1 else sample_freq
    fresh = (noise["steps"] % rollout_steps) % every == 0
    # Drawn only at the reset points (for every seed at once under vmap: their step counts
    # agree): 128 envs of a 256-unit latent and 8 actions hold 262k normals.
    eps = run_if(fresh, lambda key, eps: jax.random.normal(key, eps.shape, jnp.float32),
                 lambda key, eps: eps, key, noise["eps"])
    return {"eps": eps, "steps": noise["steps"] + 1}
