"""Advantage Actor-Critic (A2C): the synchronous form of A3C (Mnih et al., 2016).

A3C's asynchronous workers become `num_envs` vectorised envs stepped in lockstep: every
`update` collects `num_steps` steps from each, computes n-step (GAE with lambda=1) or
GAE(lambda) advantages bootstrapped from V(final_obs) at truncations and at the end of
the rollout, and takes ONE gradient step on `policy loss + vf_coef * value loss -
ent_coef * entropy`, with RMSProp (as in the A3C paper and SB3) or Adam. Continuous actions
take a Gaussian with a learned state-independent std, or generalized state-dependent
exploration (`exploration="gsde"`, as SB3's `use_sde`; see `jaxrl.algos.ppo`).
See docs/algorithms.md for what the synchronous form gives up.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl import config as cfg
from jaxrl import losses, optim
from jaxrl.agent import Agent
from jaxrl.exploration import gsde_mean_std
from jaxrl.networks import ActorCritic, actor_critic_functions, build_actor_critic, gsde_rollout_step
from jaxrl.normalization import RunningStats, normalize, scale_rollout_rewards
from jaxrl.returns import gae
from jaxrl.rollout import EnvBatch, collect, episode_metrics, reset_envs


@dataclasses.dataclass(frozen=True)
class A2CConfig:
    """A2C hyperparameters; defaults follow Stable-Baselines3's A2C (8 envs here)."""

    total_steps: int = 500_000
    # Shapes.
    num_envs: int = 8
    num_steps: int = 5  # n of the n-step return
    network: str = "auto"
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    shared_torso: bool = False
    init_log_std: float = 0.0
    # Switches.
    optimizer: str = "rmsprop"  # "rmsprop" or "adam"
    anneal_lr: bool = False
    normalize_advantages: bool = False
    normalize_observations: bool = False
    scale_rewards: bool = False  # divide rewards by the running std of the discounted return
    exploration: str = "gaussian"  # continuous actions: "gaussian" or "gsde" (state-dependent)
    sde_sample_freq: int = -1  # gSDE: env steps between noise matrices (-1: one per rollout)
    # Traced numeric hyperparameters.
    learning_rate: float = 7e-4
    gamma: float = 0.99
    gae_lambda: float = 1.0  # 1.0: plain n-step advantages
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    rms_decay: float = 0.99
    optimizer_eps: float = 1e-5

    TRACED = ("learning_rate", "gamma", "gae_lambda", "ent_coef", "vf_coef", "max_grad_norm",
              "rms_decay", "optimizer_eps")


@struct.dataclass
class A2CState:
    params: Any
    opt_state: Any
    obs_stats: RunningStats | None
    reward_stats: RunningStats | None
    running_returns: jax.Array | None  # (num_envs,) discounted returns, for reward scaling
    exploration: Any  # gSDE's noise matrices (`ActorCritic.initial_noise`), else None
    envs: EnvBatch
    key: jax.Array
    iteration: jax.Array
    env_steps: jax.Array
    hparams: dict[str, jax.Array]


def validate(config: A2CConfig, env, env_params) -> None:
    cfg.check_positive(config, "total_steps", "num_envs", "num_steps", "learning_rate",
                       "max_grad_norm", "optimizer_eps")
    cfg.check_unit_interval(config, "gamma", "gae_lambda", "rms_decay")
    cfg.check(config.ent_coef >= 0, config, "ent_coef", "must be >= 0 (it is a bonus on entropy)")
    cfg.check(config.vf_coef >= 0, config, "vf_coef", "must be >= 0")
    cfg.check(config.optimizer in ("rmsprop", "adam"), config, "optimizer", "choose 'rmsprop' or 'adam'")
    cfg.check(config.total_steps >= config.num_envs * config.num_steps, config, "total_steps",
              f"must be at least one iteration, num_envs * num_steps = {config.num_envs * config.num_steps}")
    cfg.check_network(config, env.observation_space(env_params).shape)
    cfg.check_action_space(config, env.action_space(env_params), ("discrete", "continuous"))
    cfg.check_sde(config, env.action_space(env_params), env.observation_space(env_params).shape)


def make(env, env_params, config: A2CConfig = A2CConfig()) -> Agent:
    validate(config, env, env_params)
    obs_shape = tuple(env.observation_space(env_params).shape)
    action_space = env.action_space(env_params)
    gsde = config.exploration == "gsde"
    network = build_actor_critic(obs_shape, action_space, config.network, config.hidden_sizes,
                                 config.activation, config.shared_torso, config.init_log_std,
                                 state_dependent_noise=gsde)
    act, value = actor_critic_functions(network)
    batch_size = config.num_envs * config.num_steps
    num_iterations = max(config.total_steps // batch_size, 1)

    def optimizer(hp, learning_rate):
        if config.optimizer == "adam":
            return optim.adam(learning_rate, hp["max_grad_norm"], hp["optimizer_eps"])
        return optim.rmsprop(learning_rate, hp["max_grad_norm"], hp["rms_decay"], hp["optimizer_eps"])

    def init(key, hparams=None) -> A2CState:
        hp = cfg.traced_hparams(config, hparams)
        key, net_key, env_key = jax.random.split(key, 3)
        params = network.init(net_key, jnp.zeros(obs_shape, jnp.float32))
        return A2CState(
            params=params, opt_state=optimizer(hp, hp["learning_rate"]).init(params),
            obs_stats=RunningStats.create(obs_shape) if config.normalize_observations else None,
            reward_stats=RunningStats.create() if config.scale_rewards else None,
            running_returns=jnp.zeros(config.num_envs) if config.scale_rewards else None,
            exploration=network.initial_noise(config.num_envs),
            envs=reset_envs(env, env_params, env_key, config.num_envs), key=key,
            iteration=jnp.zeros((), jnp.int32), env_steps=jnp.zeros((), jnp.int32), hparams=hp,
        )

    def loss_fn(params, hp, obs, actions, advantages, targets):
        dist, values = network.apply(params, obs)
        if config.normalize_advantages:
            advantages = losses.normalize_advantages(advantages)
        policy_loss = losses.policy_gradient_loss(dist.log_prob(actions), advantages)
        value_loss = losses.value_loss(values, targets)
        entropy = dist.entropy().mean()
        loss = policy_loss + hp["vf_coef"] * value_loss - hp["ent_coef"] * entropy
        return loss, {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy}

    def update(state: A2CState):
        hp = state.hparams
        key, rollout_key = jax.random.split(state.key)

        def policy(noise, obs, first, act_key):
            obs = normalize(obs, state.obs_stats)
            if gsde:
                return gsde_rollout_step(network, state.params, obs, noise, act_key, config.num_steps,
                                         config.sde_sample_freq)
            dist = network.apply(state.params, obs, method=ActorCritic.policy)
            action, log_prob = dist.sample_and_log_prob(seed=act_key)
            return noise, action, log_prob

        batch_envs, noise, traj = collect(env, env_params, policy, state.exploration, state.envs,
                                          rollout_key, config.num_steps)
        obs = normalize(traj.obs, state.obs_stats)
        both = network.apply(state.params, jnp.stack([obs, normalize(traj.final_obs, state.obs_stats)]),
                             method=ActorCritic.value)
        rewards = traj.reward
        if config.scale_rewards:
            rewards, state = scale_rollout_rewards(state, traj, hp["gamma"])
        advantages, targets = gae(rewards, both[0], both[1], traj.terminated, traj.truncated,
                                  hp["gamma"], hp["gae_lambda"])
        flat = lambda x: x.reshape((batch_size,) + x.shape[2:])  # noqa: E731
        grads, stats = jax.grad(loss_fn, has_aux=True)(
            state.params, hp, flat(obs), flat(traj.action), flat(advantages), flat(targets))
        learning_rate = optim.linear_decay(hp["learning_rate"], state.iteration, num_iterations,
                                           config.anneal_lr)
        updates, opt_state = optimizer(hp, learning_rate).update(grads, state.opt_state, state.params)
        obs_stats = state.obs_stats.update(traj.obs) if config.normalize_observations else None
        state = state.replace(
            params=optax.apply_updates(state.params, updates), opt_state=opt_state,
            obs_stats=obs_stats, exploration=noise, envs=batch_envs, key=key, iteration=state.iteration + 1,
            env_steps=state.env_steps + batch_size,
        )
        if gsde:
            stats["sde_std"] = gsde_mean_std(state.params)
        return state, {**episode_metrics(traj), **stats, "grad_norm": optax.tree.norm(grads),
                       "value_mean": both[0].mean(), "learning_rate": learning_rate}

    return Agent(
        algo="a2c", config=config, env=env, env_params=env_params, init=init, update=update,
        act=act, policy_params=lambda s: {"network": s.params, "obs_stats": s.obs_stats},
        steps_per_iteration=batch_size, value=value,
    )


Config = A2CConfig
