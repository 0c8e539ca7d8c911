"""Proximal Policy Optimization (Schulman et al., 2017), discrete and continuous.

One `update` = collect `num_steps` steps from `num_envs` vectorised envs, compute GAE
advantages (bootstrapping truncated episodes from V(final_obs)), then `update_epochs`
passes of `num_minibatches` shuffled minibatches over the clipped surrogate objective,
a (optionally clipped) value loss and an entropy bonus.

Read top to bottom: config, state, make() -> init / rollout / learn / update / act.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

import envs
from jaxrl import config as cfg
from jaxrl.agent import Agent
from jaxrl.networks import ActorCritic, activation_fn, default_torso_kind
from jaxrl.normalization import RunningStats, normalize, scale_rewards
from jaxrl.returns import gae


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters. Defaults are the common CartPole reference config.

    Static fields set shapes and switches (changing them recompiles); the fields in
    `TRACED` are carried as arrays in the train state and can be swept without recompiling.
    """

    # Step budget; sets the learning-rate annealing horizon and the default run length.
    total_steps: int = 500_000
    # Shapes.
    num_envs: int = 4
    num_steps: int = 128  # rollout length per env per iteration
    num_minibatches: int = 4
    update_epochs: int = 4
    network: str = "auto"  # "mlp", "cnn" (MinAtar) or "auto" (cnn for image observations)
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    shared_torso: bool = False  # actor and critic share the torso (default for the cnn)
    init_log_std: float = 0.0  # continuous actions: initial log std of the Gaussian
    # Switches.
    anneal_lr: bool = True  # linear decay of the learning rate to 0 over total_steps
    normalize_advantages: bool = True
    clip_value_loss: bool = True
    normalize_observations: bool = False
    scale_rewards: bool = False
    # Traced numeric hyperparameters.
    learning_rate: float = 2.5e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    adam_eps: float = 1e-5

    TRACED = (
        "learning_rate", "gamma", "gae_lambda", "clip_eps", "ent_coef", "vf_coef",
        "max_grad_norm", "adam_eps",
    )


@struct.dataclass
class PPOState:
    params: Any
    opt_state: Any
    obs_stats: RunningStats | None
    reward_stats: RunningStats | None
    running_returns: jax.Array | None  # (num_envs,) for reward scaling
    env_state: Any
    obs: jax.Array  # (num_envs, *obs_shape), raw
    key: jax.Array
    iteration: jax.Array  # int32, updates done
    env_steps: jax.Array  # int32, env steps collected (this seed)
    hparams: dict[str, jax.Array]


@struct.dataclass
class Transition:
    obs: jax.Array  # raw observation the policy saw
    action: jax.Array
    log_prob: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    final_obs: jax.Array  # raw observation that followed the action (pre-reset)
    episode_done: jax.Array
    episode_return: jax.Array
    episode_length: jax.Array


def validate(config: PPOConfig, env, env_params) -> None:
    """Raise a ConfigError naming the field and the fix for a config that cannot work."""
    cfg.check_positive(config, "total_steps", "num_envs", "num_steps", "num_minibatches",
                       "update_epochs", "learning_rate", "max_grad_norm", "adam_eps")
    cfg.check_unit_interval(config, "gamma", "gae_lambda")
    cfg.check(config.clip_eps > 0, config, "clip_eps", "must be > 0 (0.1-0.3 is usual)")
    cfg.check(config.ent_coef >= 0, config, "ent_coef", "must be >= 0")
    cfg.check(config.vf_coef >= 0, config, "vf_coef", "must be >= 0")
    batch = config.num_envs * config.num_steps
    cfg.check(
        batch % config.num_minibatches == 0, config, "num_minibatches",
        f"must divide the batch num_envs * num_steps = {batch}; "
        f"try one of {[d for d in range(1, min(batch, 64) + 1) if batch % d == 0]}",
    )
    cfg.check(len(config.hidden_sizes) > 0 and all(h > 0 for h in config.hidden_sizes),
              config, "hidden_sizes", "must be a non-empty list of positive sizes, e.g. 64,64")
    try:
        activation_fn(config.activation)
    except ValueError as error:
        raise cfg.ConfigError(f"PPOConfig.activation: {error}") from None
    cfg.check(config.network in ("auto", "mlp", "cnn"), config, "network",
              "choose 'auto', 'mlp' or 'cnn'")
    obs_shape = env.observation_space(env_params).shape
    if config.network == "cnn":
        cfg.check(len(obs_shape) == 3, config, "network",
                  f"the cnn needs image observations (H, W, C); this env's are {obs_shape}")
    steps_per_iteration = batch
    cfg.check(config.total_steps >= steps_per_iteration, config, "total_steps",
              f"must be at least one iteration, num_envs * num_steps = {steps_per_iteration}")
    space = env.action_space(env_params)
    if not isinstance(space, (envs.Discrete, envs.Box)):
        raise cfg.ConfigError(f"PPO supports Discrete and Box action spaces, not {space!r}.")


def make(env, env_params, config: PPOConfig = PPOConfig()) -> Agent:
    validate(config, env, env_params)
    action_space = env.action_space(env_params)
    discrete = isinstance(action_space, envs.Discrete)
    obs_shape = tuple(env.observation_space(env_params).shape)
    torso = default_torso_kind(obs_shape) if config.network == "auto" else config.network
    network = ActorCritic(
        action_dim=action_space.n if discrete else int(action_space.shape[0]),
        discrete=discrete,
        torso=torso,
        hidden_sizes=config.hidden_sizes,
        activation=config.activation if torso == "mlp" or config.activation != "tanh" else "relu",
        shared_torso=config.shared_torso or torso == "cnn",
        init_log_std=config.init_log_std,
    )
    num_envs, num_steps = config.num_envs, config.num_steps
    batch_size = num_envs * num_steps
    minibatch_size = batch_size // config.num_minibatches
    num_iterations = max(config.total_steps // batch_size, 1)
    vmap_reset = jax.vmap(env.reset, in_axes=(0, None))
    vmap_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def optimizer(hp, learning_rate):
        return optax.chain(
            optax.clip_by_global_norm(hp["max_grad_norm"]),
            optax.scale_by_adam(eps=hp["adam_eps"]),
            optax.scale(-learning_rate),
        )

    def init(key, hparams=None) -> PPOState:
        hp = cfg.traced_hparams(config, hparams)
        key, net_key, env_key = jax.random.split(key, 3)
        obs, env_state = vmap_reset(jax.random.split(env_key, num_envs), env_params)
        params = network.init(net_key, jnp.zeros(obs_shape, jnp.float32))
        return PPOState(
            params=params,
            opt_state=optimizer(hp, hp["learning_rate"]).init(params),
            obs_stats=RunningStats.create(obs_shape) if config.normalize_observations else None,
            reward_stats=RunningStats.create() if config.scale_rewards else None,
            running_returns=jnp.zeros(num_envs) if config.scale_rewards else None,
            env_state=env_state,
            obs=obs,
            key=key,
            iteration=jnp.zeros((), jnp.int32),
            env_steps=jnp.zeros((), jnp.int32),
            hparams=hp,
        )

    def rollout(state: PPOState):
        """`num_steps` steps of every env. Only the actor runs per step (values are
        computed afterwards in one batched pass)."""

        def step(carry, _):
            env_state, obs, key = carry
            key, act_key, env_key = jax.random.split(key, 3)
            dist = network.apply(state.params, normalize(obs, state.obs_stats),
                                 method=ActorCritic.policy)
            action, log_prob = dist.sample_and_log_prob(seed=act_key)
            next_obs, env_state, reward, terminated, truncated, info = vmap_step(
                jax.random.split(env_key, num_envs), env_state, action, env_params
            )
            transition = Transition(
                obs=obs, action=action, log_prob=log_prob,
                reward=reward.astype(jnp.float32), terminated=terminated, truncated=truncated,
                final_obs=info["final_obs"],
                episode_done=info["episode_done"], episode_return=info["episode_return"],
                episode_length=info["episode_length"],
            )
            return (env_state, next_obs, key), transition

        (env_state, obs, key), trajectory = jax.lax.scan(
            step, (state.env_state, state.obs, state.key), None, length=num_steps
        )
        return state.replace(env_state=env_state, obs=obs, key=key), trajectory

    def loss_fn(params, hp, batch):
        obs, action, old_log_prob, old_value, advantage, target = batch
        dist, value = network.apply(params, obs)
        log_prob = dist.log_prob(action)
        log_ratio = log_prob - old_log_prob
        ratio = jnp.exp(log_ratio)
        if config.normalize_advantages:
            advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
        clip_eps = hp["clip_eps"]
        policy_loss = -jnp.minimum(
            ratio * advantage, jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantage
        ).mean()
        value_error = jnp.square(value - target)
        if config.clip_value_loss:
            clipped = old_value + jnp.clip(value - old_value, -clip_eps, clip_eps)
            value_error = jnp.maximum(value_error, jnp.square(clipped - target))
        value_loss = 0.5 * value_error.mean()
        entropy = dist.entropy().mean()
        loss = policy_loss + hp["vf_coef"] * value_loss - hp["ent_coef"] * entropy
        stats = {
            "policy_loss": policy_loss,
            "value_loss": value_loss,
            "entropy": entropy,
            "approx_kl": ((ratio - 1.0) - log_ratio).mean(),
            "clip_fraction": (jnp.abs(ratio - 1.0) > clip_eps).mean(),
        }
        return loss, stats

    def learn(state: PPOState, batch, key):
        """`update_epochs` x `num_minibatches` gradient steps over the flattened batch."""
        hp = state.hparams
        if config.anneal_lr:
            fraction = 1.0 - state.iteration.astype(jnp.float32) / num_iterations
            learning_rate = hp["learning_rate"] * jnp.maximum(fraction, 0.0)
        else:
            learning_rate = hp["learning_rate"]
        tx = optimizer(hp, learning_rate)

        def minibatch_step(carry, minibatch):
            params, opt_state = carry
            grads, stats = jax.grad(loss_fn, has_aux=True)(params, hp, minibatch)
            updates, opt_state = tx.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            stats["grad_norm"] = optax.tree.norm(grads)
            return (params, opt_state), stats

        def epoch(carry, epoch_key):
            permutation = jax.random.permutation(epoch_key, batch_size)
            minibatches = jax.tree.map(
                lambda x: jnp.take(x, permutation, axis=0).reshape(
                    (config.num_minibatches, minibatch_size) + x.shape[1:]
                ),
                batch,
            )
            return jax.lax.scan(minibatch_step, carry, minibatches)

        (params, opt_state), stats = jax.lax.scan(
            epoch, (state.params, state.opt_state), jax.random.split(key, config.update_epochs)
        )
        stats = jax.tree.map(jnp.mean, stats)
        stats["learning_rate"] = learning_rate
        return state.replace(params=params, opt_state=opt_state), stats

    def update(state: PPOState):
        state, traj = rollout(state)
        hp = state.hparams
        # Normalise with the statistics the policy used during the rollout, then one
        # batched critic pass over the observations and the observations that followed.
        obs_and_final = normalize(jnp.stack([traj.obs, traj.final_obs]), state.obs_stats)
        values_both = network.apply(state.params, obs_and_final, method=ActorCritic.value)
        values, next_values = values_both[0], values_both[1]
        rewards = traj.reward
        if config.scale_rewards:
            rewards, running_returns, reward_stats = scale_rewards(
                rewards, state.running_returns, state.reward_stats,
                jnp.logical_or(traj.terminated, traj.truncated), hp["gamma"],
            )
            state = state.replace(running_returns=running_returns, reward_stats=reward_stats)
        advantages, targets = gae(
            rewards, values, next_values, traj.terminated, traj.truncated,
            hp["gamma"], hp["gae_lambda"],
        )
        flat = lambda x: x.reshape((batch_size,) + x.shape[2:])
        batch = tuple(map(flat, (obs_and_final[0], traj.action, traj.log_prob, values, advantages, targets)))
        key, learn_key = jax.random.split(state.key)
        state, stats = learn(state.replace(key=key), batch, learn_key)
        if config.normalize_observations:
            # Statistics move after the update so stored log-probs and the loss agree.
            state = state.replace(obs_stats=state.obs_stats.update(traj.obs))
        episodes = traj.episode_done.sum()
        metrics = {
            "episode_return": jnp.where(traj.episode_done, traj.episode_return, 0.0).sum()
            / jnp.maximum(episodes, 1),
            "episode_length": jnp.where(traj.episode_done, traj.episode_length, 0).sum()
            / jnp.maximum(episodes, 1),
            "episodes": episodes,
            "value_mean": values.mean(),
            **stats,
        }
        state = state.replace(
            iteration=state.iteration + 1, env_steps=state.env_steps + batch_size
        )
        return state, metrics

    def act(policy_params, obs, key, deterministic: bool = False):
        norm_obs = normalize(obs, policy_params["obs_stats"])
        dist = network.apply(policy_params["network"], norm_obs, method=ActorCritic.policy)
        if deterministic:
            return dist.mode()
        return dist.sample(seed=key)

    def value(policy_params, obs):
        norm_obs = normalize(obs, policy_params["obs_stats"])
        return network.apply(policy_params["network"], norm_obs, method=ActorCritic.value)

    def policy_params(state: PPOState):
        return {"network": state.params, "obs_stats": state.obs_stats}

    return Agent(
        algo="ppo", config=config, env=env, env_params=env_params, init=init, update=update,
        act=act, policy_params=policy_params, steps_per_iteration=batch_size, value=value,
    )

Config = PPOConfig
