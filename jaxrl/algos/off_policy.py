"""The training loop shared by the continuous-control off-policy agents (SAC, TD3, DDPG).

Each of those algorithms is one readable file (`sac.py`, `td3.py`, `ddpg.py`) holding its
config, its pure loss/target functions and one `learn_step`; this module holds everything
they have in common, written once:

- validation of the fields they share (continuous action space with finite bounds, flat
  observations, positive sizes, tau in (0, 1], ...), before anything compiles;
- action rescaling: networks act in [-1, 1]^A and `scale_action` maps that cube onto the
  env's box (exactly: -1 -> low, +1 -> high);
- one `update` = `num_steps` steps in each of `num_envs` vectorised envs with the
  algorithm's exploration policy (uniform random actions while fewer than
  `learning_starts` env steps have been taken), the resulting one-step transitions added
  to the shared replay buffer (`jaxrl.buffers`, uniform), then `gradient_steps` calls of
  the algorithm's `learn_step` on `batch_size` replayed transitions once the buffer holds
  `learning_starts` env steps. The replay ratio is therefore
  `gradient_steps * batch_size / (num_envs * num_steps)` replayed transitions per
  collected one; with `num_envs = num_steps = gradient_steps = 1` it is the classic one
  gradient step per env step.

Transitions come from `buffers.n_step_transitions` with n = 1: `next_obs` is the env's
`info["final_obs"]` (the last observation of a finished episode, not the auto-reset one)
and `discount` is gamma, or 0 after a termination. So a learner's target
`reward + discount * V(next_obs)` bootstraps truncated episodes from their final
observation and does not bootstrap terminated ones.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from jaxrl import buffers
from jaxrl import config as cfg
from jaxrl.agent import Agent
from jaxrl.control import run_if
from jaxrl.networks import ACTIVATIONS
from jaxrl.rollout import EnvBatch, collect, episode_metrics, reset_envs


# --------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------


def scale_action(action, low, high):
    """Map `action` in [-1, 1] onto the box `[low, high]` elementwise, exactly at the
    ends: `low * (1 - t) + high * t` with `t = (action + 1) / 2`, so -1 gives `low` and +1
    gives `high` bit for bit (t is exactly 0 or 1 there)."""
    t = (action + 1.0) * 0.5
    return low * (1.0 - t) + high * t


def unscale_action(action, low, high):
    """Inverse of `scale_action`: the box `[low, high]` onto [-1, 1] (clipped)."""
    return jnp.clip(2.0 * (action - low) / (high - low) - 1.0, -1.0, 1.0)


def adam(learning_rate, eps):
    """Plain Adam (no gradient clipping, as in the SAC and TD3 papers) with a traced
    learning rate and epsilon."""
    return optax.chain(optax.scale_by_adam(eps=eps), optax.scale(-learning_rate))


# --------------------------------------------------------------------------------------
# Validation of the shared fields
# --------------------------------------------------------------------------------------


def validate(config, env, env_params, learning_rates: tuple[str, ...]) -> None:
    """Raise `ConfigError` naming the field and the fix for anything that cannot work."""
    space = env.action_space(env_params)
    cfg.check_action_space(config, space, ("continuous",))
    low, high = np.asarray(space.low, np.float64), np.asarray(space.high, np.float64)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(high > low)):
        raise cfg.ConfigError(
            f"{type(config).__name__} needs a bounded action box (finite low < high) to scale its "
            f"[-1, 1] actions onto; this env's action space is {space!r}. Wrap the env to bound it."
        )
    obs_shape = tuple(env.observation_space(env_params).shape)
    if len(obs_shape) != 1:
        raise cfg.ConfigError(
            f"{type(config).__name__} uses MLP actors and critics over flat observations; this "
            f"env's observations have shape {obs_shape}. Flatten them (envs.FlattenObservation)."
        )
    cfg.check_positive(config, "total_steps", "num_envs", "num_steps", "buffer_size",
                       "batch_size", "gradient_steps", *learning_rates, "adam_eps")
    cfg.check_replay_shapes(config)
    cfg.check_unit_interval(config, "tau", open_low=True)
    cfg.check_unit_interval(config, "gamma")
    cfg.check(config.num_critics >= 1, config, "num_critics", "must be >= 1 (2 for twin critics)")
    cfg.check(len(config.hidden_sizes) > 0 and all(h > 0 for h in config.hidden_sizes),
              config, "hidden_sizes", "must be a non-empty list of positive sizes, e.g. 256,256")
    cfg.check(config.activation in ACTIVATIONS, config, "activation",
              f"choose one of {sorted(ACTIVATIONS)}")


# --------------------------------------------------------------------------------------
# The shared loop
# --------------------------------------------------------------------------------------


@struct.dataclass
class OffPolicyState:
    """learner: the algorithm's parameters, target parameters and optimizer states (a
    dict); buffer: the replay buffer; envs: live env states; counters are per seed."""

    learner: Any
    buffer: buffers.BufferState
    envs: EnvBatch
    exploration: Any  # the learner's action-noise process (`Learner.noise_init`; (num_envs, A) zeros without one)
    key: jax.Array
    iteration: jax.Array
    env_steps: jax.Array
    gradient_steps: jax.Array
    hparams: dict


@dataclasses.dataclass(frozen=True)
class Learner:
    """The algorithm-specific pure functions the loop calls.

    init: `(key, hp) -> learner` (a pytree).
    explore: `(learner, hp, obs (N, obs_dim), key) -> actions (N, A)` in [-1, 1]; with a
      `noise_step`, `(learner, hp, obs, key, noise) -> actions`, `noise` this step's state of
      the process.
    learn_step: `(learner, batch, key, hp, step) -> (learner, stats)`, one gradient step on
      a replayed batch `dict(obs, action, reward, discount, next_obs)` (actions in
      [-1, 1]); `step` counts gradient steps before this one; stats are scalars (NaN for a
      quantity not computed at this step, e.g. TD3's actor loss between delayed updates).
    policy_params: `(learner, hp) -> pytree` what `act` and `value` need.
    act: `(policy_params, obs, key, deterministic) -> action` in [-1, 1] for one obs.
    value: `(policy_params, obs) -> Q(obs, deterministic action)`.
    noise_step: None, or `(noise, first (N,), hp, key) -> noise`: one step of a temporally
      correlated action-noise process (e.g. Ornstein-Uhlenbeck, restarted in the envs where
      `first`, a new episode; or gSDE's noise matrices, resampled every so many steps); the
      loop carries its state across steps and iterations in `OffPolicyState.exploration`.
    noise_init: None, or `num_envs -> noise`: the process's state before the first step (a
      pytree; without it, `(num_envs, A)` zeros, the state of an OU process at rest).
    """

    init: Callable
    explore: Callable
    learn_step: Callable
    policy_params: Callable
    act: Callable
    value: Callable
    noise_step: Callable | None = None
    noise_init: Callable | None = None


def build(algo: str, env, env_params, config, learner: Learner, extras=None) -> Agent:
    """The Agent for `learner` over the shared collect / replay / learn loop."""
    space = env.action_space(env_params)
    low = np.asarray(space.low, np.float32)
    high = np.asarray(space.high, np.float32)
    obs_shape = tuple(env.observation_space(env_params).shape)
    steps_per_iteration = config.num_envs * config.num_steps
    example = buffers.example_transition(obs_shape, np.float32, space.shape, np.float32)

    def init(key, hparams=None) -> OffPolicyState:
        hp = cfg.traced_hparams(config, hparams)
        key, learner_key, env_key = jax.random.split(key, 3)
        return OffPolicyState(
            learner=learner.init(learner_key, hp),
            buffer=buffers.uniform_init(example, config.buffer_size),
            envs=reset_envs(env, env_params, env_key, config.num_envs),
            exploration=(learner.noise_init(config.num_envs) if learner.noise_init is not None
                         else jnp.zeros((config.num_envs,) + space.shape, jnp.float32)), key=key,
            iteration=jnp.zeros((), jnp.int32), env_steps=jnp.zeros((), jnp.int32),
            gradient_steps=jnp.zeros((), jnp.int32), hparams=hp,
        )

    def sample_batches(buffer, key):
        """All `gradient_steps` minibatches in one gather, `(gradient_steps, batch_size, ...)`:
        the buffer is then an operand of neither the gradient-step loop nor `learn`'s cond."""
        batches, _ = buffers.sample(buffer, key, config.gradient_steps * config.batch_size)
        return jax.tree.map(lambda x: x.reshape((config.gradient_steps, config.batch_size) + x.shape[1:]),
                            batches)

    def learn(carry, batches, key, hp):
        def step(carry, inputs):
            learner_state, count = carry
            batch, step_key = inputs
            learner_state, stats = learner.learn_step(learner_state, batch, step_key, hp, count)
            return (learner_state, count + 1), stats

        carry, stats = jax.lax.scan(step, carry, (batches, jax.random.split(key, config.gradient_steps)))
        return carry, jax.tree.map(jnp.nanmean, stats)

    def skip(carry, batches, key, hp):
        stats = jax.eval_shape(learn, carry, batches, key, hp)[1]
        return carry, jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), stats)

    def update(state: OffPolicyState):
        hp = state.hparams
        key, rollout_key, learn_key = jax.random.split(state.key, 3)
        warmup = state.env_steps < config.learning_starts

        def policy(noise, obs, first, act_key):
            if learner.noise_step is None:
                explore_key, random_key = jax.random.split(act_key)
                action = learner.explore(state.learner, hp, obs, explore_key)
            else:
                explore_key, random_key, noise_key = jax.random.split(act_key, 3)
                noise = learner.noise_step(noise, first, hp, noise_key)
                action = learner.explore(state.learner, hp, obs, explore_key, noise)
            random = jax.random.uniform(random_key, action.shape, jnp.float32, -1.0, 1.0)
            action = jnp.where(warmup, random, action)
            return noise, scale_action(action, low, high), jnp.zeros(obs.shape[0], jnp.float32)

        envs_, noise, traj = collect(env, env_params, policy, state.exploration, state.envs,
                                     rollout_key, config.num_steps)
        transitions = buffers.n_step_transitions(
            traj.obs.astype(jnp.float32), unscale_action(traj.action, low, high), traj.reward,
            traj.terminated, traj.truncated, traj.final_obs.astype(jnp.float32), hp["gamma"], 1)
        transitions = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), transitions)
        buffer = buffers.add(state.buffer, transitions)
        env_steps = state.env_steps + steps_per_iteration

        ready = buffers.can_sample(buffer, config.batch_size) & (env_steps >= config.learning_starts)
        # The gradient steps run only when ready, so the `learning_starts` warm-up costs env
        # steps only (with a brax preset's 5k warm-up steps and 8 gradient steps per 16 env
        # steps, computing and discarding them took a fifth of a 20k-step run), vmapped
        # seeds included (`run_if`).
        sample_key, learn_key = jax.random.split(learn_key)
        batches = sample_batches(buffer, sample_key)
        (learner_state, gradient_steps), stats = run_if(
            ready, learn, skip, (state.learner, state.gradient_steps), batches, learn_key, hp)
        state = state.replace(learner=learner_state, buffer=buffer, envs=envs_, exploration=noise,
                              key=key, iteration=state.iteration + 1, env_steps=env_steps,
                              gradient_steps=gradient_steps)
        return state, {**episode_metrics(traj), **stats, "learning": ready.astype(jnp.float32)}

    def policy_params(state: OffPolicyState):
        return learner.policy_params(state.learner, state.hparams)

    def act(params, obs, key, deterministic: bool = False):
        return scale_action(learner.act(params, obs, key, deterministic), low, high)

    return Agent(
        algo=algo, config=config, env=env, env_params=env_params, init=init, update=update,
        act=act, policy_params=policy_params, steps_per_iteration=steps_per_iteration,
        value=learner.value,
        extras={"scale_action": lambda a: scale_action(a, low, high),
                "unscale_action": lambda a: unscale_action(a, low, high),
                "learner": learner, **(extras or {})},
    )
