"""REINFORCE (Williams, 1992): Monte-Carlo policy gradient over complete episodes, with an
optional learned value baseline and optional return normalisation.

Every `update` resets the `num_envs` vectorised envs and runs them for `num_steps` steps
(default: the env's time limit, so each env completes at least one episode). Returns-to-go
are computed within each episode; steps of the episode still running when the rollout
ends are masked out, since their return is unknown. A time-limit truncation is not a true
end: with a baseline, the return-to-go bootstraps from V(final_obs) there; without one the
Monte-Carlo return simply stops at the limit.
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
from jaxrl.networks import ActorCritic, actor_critic_functions, build_actor_critic
from jaxrl.returns import discounted_returns
from jaxrl.rollout import collect, episode_metrics, reset_envs


@dataclasses.dataclass(frozen=True)
class REINFORCEConfig:
    total_steps: int = 1_000_000
    # Shapes.
    num_envs: int = 8
    num_steps: int = 0  # rollout length; 0 = the env's time limit
    network: str = "auto"
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    init_log_std: float = 0.0
    # Switches.
    baseline: bool = True  # learn V(s) and use G_t - V(s_t) as the advantage
    normalize_returns: bool = True  # standardise the advantages over the batch
    anneal_lr: bool = False
    # Traced numeric hyperparameters.
    learning_rate: float = 1e-3
    gamma: float = 0.99
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 1.0
    adam_eps: float = 1e-5

    TRACED = ("learning_rate", "gamma", "ent_coef", "vf_coef", "max_grad_norm", "adam_eps")


@struct.dataclass
class REINFORCEState:
    params: Any
    opt_state: Any
    key: jax.Array
    iteration: jax.Array
    env_steps: jax.Array
    hparams: dict[str, jax.Array]


def complete_episode_mask(terminated, truncated):
    """`(T, N)` bool: step t belongs to an episode that ended within the rollout.

    Reverse recursion `complete[t] = done[t] or complete[t + 1]` (the episode of step t is
    the episode of step t+1 unless t ends it), with nothing complete after the last step.
    """
    done = jnp.logical_or(terminated, truncated)

    def backward(later_complete, is_done):
        complete = jnp.logical_or(is_done, later_complete)
        return complete, complete

    _, mask = jax.lax.scan(backward, jnp.zeros_like(done[0]), done, reverse=True)
    return mask


def validate(config: REINFORCEConfig, env, env_params) -> None:
    cfg.check_positive(config, "total_steps", "num_envs", "learning_rate", "max_grad_norm", "adam_eps")
    cfg.check(config.num_steps >= 0, config, "num_steps", "must be >= 0 (0: the env's time limit)")
    cfg.check_unit_interval(config, "gamma")
    cfg.check(config.ent_coef >= 0, config, "ent_coef", "must be >= 0 (it is a bonus on entropy)")
    cfg.check(config.vf_coef >= 0, config, "vf_coef", "must be >= 0")
    cfg.check_network(config, env.observation_space(env_params).shape)
    cfg.check_action_space(config, env.action_space(env_params), ("discrete", "continuous"))
    num_steps = config.num_steps or env.max_episode_steps(env_params)
    cfg.check(config.total_steps >= config.num_envs * num_steps, config, "total_steps",
              f"must be at least one iteration, num_envs * num_steps = {config.num_envs * num_steps}")


def make(env, env_params, config: REINFORCEConfig = REINFORCEConfig()) -> Agent:
    validate(config, env, env_params)
    obs_shape = tuple(env.observation_space(env_params).shape)
    network = build_actor_critic(obs_shape, env.action_space(env_params), config.network,
                                 config.hidden_sizes, config.activation, False, config.init_log_std)
    num_steps = config.num_steps or int(env.max_episode_steps(env_params))
    batch_size = config.num_envs * num_steps
    num_iterations = max(config.total_steps // batch_size, 1)
    act, value = actor_critic_functions(network)

    def init(key, hparams=None) -> REINFORCEState:
        hp = cfg.traced_hparams(config, hparams)
        key, net_key = jax.random.split(key)
        params = network.init(net_key, jnp.zeros(obs_shape, jnp.float32))
        return REINFORCEState(
            params=params, opt_state=optim.adam(hp["learning_rate"], hp["max_grad_norm"],
                                                hp["adam_eps"]).init(params),
            key=key, iteration=jnp.zeros((), jnp.int32), env_steps=jnp.zeros((), jnp.int32), hparams=hp,
        )

    def loss_fn(params, hp, obs, actions, returns, mask):
        dist, values = network.apply(params, obs)
        advantages = returns - jax.lax.stop_gradient(values) if config.baseline else returns
        if config.normalize_returns:
            weights = mask / jnp.maximum(mask.sum(), 1.0)
            mean = (advantages * weights).sum()
            std = jnp.sqrt((jnp.square(advantages - mean) * weights).sum())
            advantages = (advantages - mean) / (std + 1e-8)
        policy_loss = losses.policy_gradient_loss(dist.log_prob(actions), advantages, mask)
        value_loss = (0.5 * jnp.square(values - returns) * mask).sum() / jnp.maximum(mask.sum(), 1.0)
        entropy = (dist.entropy() * mask).sum() / jnp.maximum(mask.sum(), 1.0)
        loss = policy_loss - hp["ent_coef"] * entropy
        if config.baseline:
            loss = loss + hp["vf_coef"] * value_loss
        return loss, {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy}

    def update(state: REINFORCEState):
        hp = state.hparams
        key, reset_key, rollout_key = jax.random.split(state.key, 3)

        def policy(carry, obs, first, act_key):
            dist = network.apply(state.params, obs, method=ActorCritic.policy)
            action, log_prob = dist.sample_and_log_prob(seed=act_key)
            return carry, action, log_prob

        batch_envs = reset_envs(env, env_params, reset_key, config.num_envs)
        _, _, traj = collect(env, env_params, policy, None, batch_envs, rollout_key, num_steps)
        if config.baseline:
            bootstrap = network.apply(state.params, traj.final_obs, method=ActorCritic.value)
            bootstrap = jnp.where(traj.truncated, bootstrap, 0.0)
        else:
            bootstrap = jnp.zeros_like(traj.reward)
        returns = discounted_returns(traj.reward, bootstrap, traj.terminated, traj.truncated, hp["gamma"])
        mask = complete_episode_mask(traj.terminated, traj.truncated).astype(jnp.float32)
        flat = lambda x: x.reshape((batch_size,) + x.shape[2:])  # noqa: E731
        grads, stats = jax.grad(loss_fn, has_aux=True)(
            state.params, hp, flat(traj.obs), flat(traj.action), flat(returns), flat(mask))
        learning_rate = optim.linear_decay(hp["learning_rate"], state.iteration, num_iterations,
                                           config.anneal_lr)
        tx = optim.adam(learning_rate, hp["max_grad_norm"], hp["adam_eps"])
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        state = state.replace(
            params=optax.apply_updates(state.params, updates), opt_state=opt_state, key=key,
            iteration=state.iteration + 1, env_steps=state.env_steps + batch_size,
        )
        return state, {**episode_metrics(traj), **stats, "grad_norm": optax.tree.norm(grads),
                       "complete_fraction": mask.mean(), "learning_rate": learning_rate}

    return Agent(
        algo="reinforce", config=config, env=env, env_params=env_params, init=init, update=update,
        act=act, policy_params=lambda s: {"network": s.params, "obs_stats": None},
        steps_per_iteration=batch_size, value=value,
    )


Config = REINFORCEConfig
