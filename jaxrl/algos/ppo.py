"""Proximal Policy Optimization (Schulman et al., 2017): discrete and continuous actions,
clipped or adaptive-KL objective, feed-forward or recurrent (GRU) policies, and for
continuous actions either a Gaussian with a learned state-independent std or
generalized state-dependent exploration (`exploration="gsde"`, Stable-Baselines3's
`use_sde`: the rollout's noise is `z(s) @ W` from the actor torso's output `z(s)` and a
noise matrix `W` per env held for `sde_sample_freq` steps or the whole rollout).

One `update` = collect `num_steps` steps from `num_envs` vectorised envs, compute GAE
advantages (bootstrapping truncated episodes from V(final_obs)), then `update_epochs`
passes over `num_minibatches` shuffled minibatches: of single transitions for
feed-forward policies, of whole env sequences for recurrent ones (so the hidden state can
be replayed from the rollout's start, reset at the same episode boundaries).

Read top to bottom: config, state, validate, make() -> networks, init, rollout policy,
advantage estimation, loss, learn, update, act.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.flatten_util
import jax.numpy as jnp
import optax
from flax import struct

import envs
from jaxrl import config as cfg
from jaxrl import losses, native, optim
from jaxrl.agent import Agent
from jaxrl.exploration import gsde_mean_std
from jaxrl.networks import (
    ActorCritic, RecurrentActorCritic, actor_critic_functions, build_actor_critic,
    env_action_mask_fn, gsde_rollout_step, mask_distribution,
)
from jaxrl.normalization import RunningStats, normalize, scale_rollout_rewards
from jaxrl.returns import gae
from jaxrl.rollout import EnvBatch, collect, episode_metrics, permutation, reset_envs


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
    shared_torso: bool = False  # actor and critic share the torso (always for the cnn)
    init_log_std: float = 0.0  # continuous actions: initial log std of the Gaussian (gSDE: of W)
    recurrent: bool = False  # GRU core; minibatches are whole env sequences
    rnn_size: int = 64
    # Switches.
    objective: str = "clip"  # "clip": clipped surrogate; "kl": adaptive KL penalty
    exploration: str = "gaussian"  # continuous actions: "gaussian" or "gsde" (state-dependent)
    sde_sample_freq: int = -1  # gSDE: env steps between noise matrices (-1: one per rollout)
    anneal_lr: bool = True  # linear decay of the learning rate to 0 over total_steps
    normalize_advantages: bool = True
    clip_value_loss: bool = True
    normalize_observations: bool = False
    scale_rewards: bool = False
    # Traced numeric hyperparameters.
    learning_rate: float = 2.5e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2  # policy clip ("clip" objective) and value-loss clip
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    adam_eps: float = 1e-5
    kl_target: float = 0.01  # "kl" objective: target KL(old || new) per iteration
    kl_coef: float = 1.0  # "kl" objective: initial penalty coefficient beta (then adapted)

    TRACED = (
        "learning_rate", "gamma", "gae_lambda", "clip_eps", "ent_coef", "vf_coef",
        "max_grad_norm", "adam_eps", "kl_target", "kl_coef",
    )


@struct.dataclass
class PPOState:
    params: Any
    opt_state: Any
    obs_stats: RunningStats | None
    reward_stats: RunningStats | None
    running_returns: jax.Array | None  # (num_envs,) discounted returns, for reward scaling
    envs: EnvBatch
    # The policy's state carried from step to step: the GRU's (num_envs, rnn_size) for
    # recurrent policies, gSDE's noise matrices (`ActorCritic.initial_noise`) for
    # feed-forward ones with exploration="gsde", else None.
    hidden: Any
    kl_coef: jax.Array  # the adaptive KL penalty coefficient ("kl" objective)
    key: jax.Array
    iteration: jax.Array  # int32, updates done
    env_steps: jax.Array  # int32, env steps collected (this seed)
    hparams: dict[str, jax.Array]


def validate(config: PPOConfig, env, env_params) -> None:
    """Raise a ConfigError naming the field and the fix for a config that cannot work."""
    cfg.check_positive(config, "total_steps", "num_envs", "num_steps", "num_minibatches",
                       "update_epochs", "learning_rate", "max_grad_norm", "adam_eps", "rnn_size")
    cfg.check_unit_interval(config, "gamma", "gae_lambda")
    cfg.check(config.clip_eps > 0, config, "clip_eps", "must be > 0 (0.1-0.3 is usual)")
    cfg.check(config.ent_coef >= 0, config, "ent_coef", "must be >= 0 (it is a bonus on entropy)")
    cfg.check(config.vf_coef >= 0, config, "vf_coef", "must be >= 0")
    cfg.check(config.kl_target > 0, config, "kl_target", "must be > 0 (0.003-0.03 is usual)")
    cfg.check(config.kl_coef > 0, config, "kl_coef", "must be > 0 (the initial KL penalty)")
    cfg.check(config.objective in ("clip", "kl"), config, "objective", "choose 'clip' or 'kl'")
    cfg.check_sde(config, env.action_space(env_params), env.observation_space(env_params).shape)
    cfg.check(config.exploration != "gsde" or not config.recurrent, config, "exploration",
              "gSDE is for feed-forward policies; use exploration=gaussian with recurrent=true")
    batch = config.num_envs * config.num_steps
    if config.recurrent:
        cfg.check(
            config.num_envs % config.num_minibatches == 0, config, "num_minibatches",
            f"recurrent minibatches are whole env sequences, so num_minibatches must divide "
            f"num_envs={config.num_envs} (splitting otherwise would cut sequences); try one of "
            f"{[d for d in range(1, config.num_envs + 1) if config.num_envs % d == 0]}",
        )
        cfg.check(config.network in ("auto", "mlp"), config, "network",
                  "the recurrent core runs on an MLP torso; use network=mlp")
    else:
        cfg.check(
            batch % config.num_minibatches == 0, config, "num_minibatches",
            f"must divide the batch num_envs * num_steps = {batch}; "
            f"try one of {[d for d in range(1, min(batch, 64) + 1) if batch % d == 0]}",
        )
    obs_shape = env.observation_space(env_params).shape
    cfg.check_network(config, obs_shape)
    cfg.check(config.total_steps >= batch, config, "total_steps",
              f"must be at least one iteration, num_envs * num_steps = {batch}")
    cfg.check_action_space(config, env.action_space(env_params), ("discrete", "continuous"))


def optimizer(learning_rate, max_grad_norm, adam_eps):
    """Global-norm clipping and Adam, over the parameters raveled into one vector (fewer,
    larger kernels per gradient step: docs/optimisation.md)."""
    return optim.on_one_vector(optim.adam(learning_rate, max_grad_norm, adam_eps))


def make(env, env_params, config: PPOConfig = PPOConfig()) -> Agent:
    validate(config, env, env_params)
    action_space = env.action_space(env_params)
    discrete = isinstance(action_space, envs.Discrete)
    action_dim = action_space.n if discrete else int(action_space.shape[0])
    obs_shape = tuple(env.observation_space(env_params).shape)
    num_envs, num_steps = config.num_envs, config.num_steps
    batch_size = num_envs * num_steps
    num_iterations = max(config.total_steps // batch_size, 1)
    # Action masking: envs exposing `action_mask(obs)` (e.g. fab/...) get masked actions at
    # zero probability when acting, in the stored log-probs and in the loss. The mask is
    # read from the raw (unnormalised) observation.
    mask_fn = env_action_mask_fn(env, env_params, obs_shape) if discrete else None
    gsde = config.exploration == "gsde"

    if config.recurrent:
        network = RecurrentActorCritic(
            action_dim=action_dim, discrete=discrete, hidden_sizes=config.hidden_sizes,
            activation=config.activation, rnn_size=config.rnn_size,
            init_log_std=config.init_log_std, obs_ndim=len(obs_shape),
        )
    else:
        network = build_actor_critic(obs_shape, action_space, config.network, config.hidden_sizes,
                                     config.activation, config.shared_torso, config.init_log_std,
                                     state_dependent_noise=gsde)

    def init(key, hparams=None) -> PPOState:
        hp = cfg.traced_hparams(config, hparams)
        key, net_key, env_key = jax.random.split(key, 3)
        batch = reset_envs(env, env_params, env_key, num_envs)
        if config.recurrent:
            hidden = network.initial_hidden(num_envs)
            params = network.init(net_key, hidden, batch.obs, batch.first)
        else:
            hidden = network.initial_noise(num_envs)
            params = network.init(net_key, jnp.zeros(obs_shape, jnp.float32))
        return PPOState(
            params=params,
            opt_state=optimizer(hp["learning_rate"], hp["max_grad_norm"], hp["adam_eps"]).init(params),
            obs_stats=RunningStats.create(obs_shape) if config.normalize_observations else None,
            reward_stats=RunningStats.create() if config.scale_rewards else None,
            running_returns=jnp.zeros(num_envs) if config.scale_rewards else None,
            envs=batch,
            hidden=hidden,
            kl_coef=hp["kl_coef"],
            key=key,
            iteration=jnp.zeros((), jnp.int32),
            env_steps=jnp.zeros((), jnp.int32),
            hparams=hp,
        )

    def rollout_policy(params, obs_stats):
        """The acting function `collect` calls each step (only the actor runs for
        feed-forward policies; values come afterwards in one batched pass)."""

        def policy(hidden, obs, first, key):
            mask = None if mask_fn is None else mask_fn(obs)
            obs = normalize(obs, obs_stats)
            if config.recurrent:
                hidden, dist, _ = network.apply(params, hidden, obs, first)
                dist = mask_distribution(dist, mask)
            elif gsde:
                return gsde_rollout_step(network, params, obs, hidden, key, num_steps, config.sde_sample_freq)
            else:
                dist = network.apply(params, obs, mask, method=ActorCritic.policy)
            action, log_prob = dist.sample_and_log_prob(seed=key)
            return hidden, action, log_prob

        return policy

    def unroll(params, hidden, obs, first, final_obs):
        """Replay a recurrent policy over sequences `(T, B, ...)` from `hidden` `(B, H)`,
        resetting where `first`. Returns `(dists, values, next_values, hiddens)` with
        `hiddens[t]` the state *entering* step t (after any reset)."""

        def step(h, xs):
            o, f, fo = xs
            h_in = jnp.where(f[:, None], 0.0, h)
            h_out, dist, value = network.apply(params, h_in, o, jnp.zeros_like(f))
            next_value = network.apply(params, h_out, fo, method=RecurrentActorCritic.value_after)
            return h_out, (dist, value, next_value, h_in)

        _, (dists, values, next_values, hiddens) = jax.lax.scan(step, hidden, (obs, first, final_obs))
        return dists, values, next_values, hiddens

    def evaluate_batch(params, batch):
        """Distributions and values for a minibatch: flat samples or sequences."""
        mask = batch.get("action_mask")
        if config.recurrent:
            dists, values, _, _ = unroll(params, batch["hidden"], batch["obs"], batch["first"],
                                         batch["obs"])
            return mask_distribution(dists, mask), values
        return network.apply(params, batch["obs"], mask)

    def policy_objective(dist, hp, kl_coef, batch):
        """The actor's part of the loss (surrogate minus the entropy bonus) and its stats."""
        log_ratio = dist.log_prob(batch["action"]) - batch["log_prob"]
        advantages = batch["advantage"]
        if config.normalize_advantages:
            advantages = losses.normalize_advantages(advantages)
        if config.objective == "kl":
            policy_loss = losses.kl_penalty_loss(log_ratio, advantages, kl_coef)
        else:
            policy_loss = losses.clipped_surrogate_loss(log_ratio, advantages, hp["clip_eps"])
        entropy = dist.entropy().mean()
        return policy_loss - hp["ent_coef"] * entropy, {
            "policy_loss": policy_loss,
            "entropy": entropy,
            "approx_kl": losses.approx_kl(log_ratio).mean(),
            "clip_fraction": (jnp.abs(jnp.exp(log_ratio) - 1.0) > hp["clip_eps"]).mean(),
        }

    def value_objective(value, hp, batch):
        """The critic's part of the loss (the weighted value loss) and its stats."""
        if config.clip_value_loss:
            v_loss = losses.value_loss(value, batch["target"], batch["value"], hp["clip_eps"])
        else:
            v_loss = losses.value_loss(value, batch["target"])
        return hp["vf_coef"] * v_loss, {"value_loss": v_loss}

    def loss_fn(params, hp, kl_coef, batch):
        dist, value = evaluate_batch(params, batch)
        policy_part, policy_stats = policy_objective(dist, hp, kl_coef, batch)
        value_part, value_stats = value_objective(value, hp, batch)
        return policy_part + value_part, {**policy_stats, **value_stats}

    def split_gradient(params, hp, kl_coef, batch, axis_name):
        """`jax.grad(loss_fn, has_aux=True)`, computed on the two devices of mesh axis
        `axis_name` (inside `shard_map`, every argument the same on both): device 0 takes
        the actor's part, device 1 the critic's, and one swap adds them. Each part's
        gradient is zero on the other network's parameters, so the sum adds nothing but the
        other part: the arithmetic of `loss_fn`'s gradient, in about half the time per
        device (compiled apart, the parts may round differently in the last bits)."""
        mask = batch.get("action_mask")
        # Both branches return every stat of `loss_fn`, the other part's as zeros.
        stat_names = jax.eval_shape(lambda p: loss_fn(p, hp, kl_coef, batch)[1], params)

        def part_gradient(objective):
            def branch(params):
                grads, stats = jax.grad(objective, has_aux=True)(params)
                return grads, {name: stats.get(name, jnp.zeros(())) for name in stat_names}
            return branch

        def actor(params):
            dist = network.apply(params, batch["obs"], mask, method=ActorCritic.policy)
            return policy_objective(dist, hp, kl_coef, batch)

        def critic(params):
            value = network.apply(params, batch["obs"], method=ActorCritic.value)
            return value_objective(value, hp, batch)

        part = jax.lax.cond(jax.lax.axis_index(axis_name) == 0, part_gradient(actor),
                            part_gradient(critic), params)
        flat, unravel = jax.flatten_util.ravel_pytree(part)
        return unravel(flat + native.swap(flat, axis_name))

    def minibatches(batch, key):
        """Shuffle and split: transitions for feed-forward policies (arrays `(T*N, ...)`),
        whole env sequences for recurrent ones (arrays `(T, N, ...)`, split along N)."""
        if config.recurrent:
            order = permutation(key, num_envs)
            size = num_envs // config.num_minibatches

            def split(name, x):
                axis = 0 if name == "hidden" else 1
                x = jnp.take(x, order, axis=axis)
                shape = x.shape[:axis] + (config.num_minibatches, size) + x.shape[axis + 1:]
                return jnp.moveaxis(x.reshape(shape), axis, 0)

            return {name: split(name, x) for name, x in batch.items()}
        order = permutation(key, batch_size)
        size = batch_size // config.num_minibatches
        return {
            name: jnp.take(x.reshape((batch_size,) + x.shape[2:]), order, axis=0).reshape(
                (config.num_minibatches, size) + x.shape[2:])
            for name, x in batch.items() if name != "hidden"
        }

    def learn(state: PPOState, batch, key, split_axis=None):
        """`update_epochs` x `num_minibatches` gradient steps; then adapt the KL penalty.
        With `split_axis`, each gradient is `split_gradient` over that mesh axis."""
        hp = state.hparams
        learning_rate = optim.linear_decay(hp["learning_rate"], state.iteration, num_iterations,
                                           config.anneal_lr)
        tx = optimizer(learning_rate, hp["max_grad_norm"], hp["adam_eps"])

        def minibatch_step(carry, minibatch):
            params, opt_state = carry
            if split_axis is None:
                grads, stats = jax.grad(loss_fn, has_aux=True)(params, hp, state.kl_coef, minibatch)
            else:
                grads, stats = split_gradient(params, hp, state.kl_coef, minibatch, split_axis)
            updates, opt_state = tx.update(grads, opt_state, params)
            stats["grad_norm"] = optax.tree.norm(grads)
            return (optax.apply_updates(params, updates), opt_state), stats

        def epoch(carry, epoch_key):
            return jax.lax.scan(minibatch_step, carry, minibatches(batch, epoch_key))

        (params, opt_state), stats = jax.lax.scan(
            epoch, (state.params, state.opt_state), jax.random.split(key, config.update_epochs)
        )
        stats = jax.tree.map(jnp.mean, stats)
        kl_coef = state.kl_coef
        if config.objective == "kl":
            kl_coef = losses.adapt_kl_coef(kl_coef, stats["approx_kl"], hp["kl_target"])
        stats.update(learning_rate=learning_rate, kl_coef=kl_coef)
        if gsde:
            stats["sde_std"] = gsde_mean_std(params)
        return state.replace(params=params, opt_state=opt_state, kl_coef=kl_coef), stats

    def update(state: PPOState, split_axis=None):
        """One iteration. With `split_axis` (a mesh axis of two devices, inside `shard_map`,
        the state the same on both), both devices run it and split each gradient step's
        work (`split_gradient`), ending with the same state."""
        hp = state.hparams
        key, rollout_key, learn_key = jax.random.split(state.key, 3)
        initial_hidden = state.hidden
        batch_envs, hidden, traj = collect(
            env, env_params, rollout_policy(state.params, state.obs_stats), state.hidden,
            state.envs, rollout_key, num_steps,
        )
        # Normalise with the statistics the policy used during the rollout.
        obs = normalize(traj.obs, state.obs_stats)
        final_obs = normalize(traj.final_obs, state.obs_stats)
        if config.recurrent:
            _, values, next_values, _ = unroll(state.params, initial_hidden, obs, traj.first, final_obs)
        else:
            # One batched critic pass over the observations and the ones that followed.
            both = network.apply(state.params, jnp.stack([obs, final_obs]), method=ActorCritic.value)
            values, next_values = both[0], both[1]
        rewards = traj.reward
        if config.scale_rewards:
            rewards, state = scale_rollout_rewards(state, traj, hp["gamma"])
        advantages, targets = gae(rewards, values, next_values, traj.terminated, traj.truncated,
                                  hp["gamma"], hp["gae_lambda"])
        batch = {"obs": obs, "first": traj.first, "action": traj.action, "log_prob": traj.log_prob,
                 "value": values, "advantage": advantages, "target": targets}
        if config.recurrent:
            batch["hidden"] = initial_hidden
        if mask_fn is not None:
            batch["action_mask"] = mask_fn(traj.obs)
        state = state.replace(envs=batch_envs, hidden=hidden, key=key)
        state, stats = learn(state, batch, learn_key, split_axis)
        if config.normalize_observations:
            # Statistics move after the update so stored log-probs and the loss agree.
            state = state.replace(obs_stats=state.obs_stats.update(traj.obs))
        state = state.replace(iteration=state.iteration + 1, env_steps=state.env_steps + batch_size)
        return state, {**episode_metrics(traj), "value_mean": values.mean(), **stats}

    feed_forward_act, value = (None, None) if config.recurrent else actor_critic_functions(
        network, mask_fn)

    def act(policy_params, obs, key, deterministic: bool = False, hidden=None, first=None):
        """One observation -> action. Recurrent policies also take and return the hidden
        state: `act(p, obs, key, deterministic, hidden, first) -> (action, hidden)`, with
        `hidden=None` meaning the start of an episode."""
        if config.recurrent:
            if hidden is None:
                hidden, first = network.initial_hidden(1)[0], True
            first = jnp.asarray(True if first is None else first)
            mask = None if mask_fn is None else mask_fn(obs)[None]
            obs = normalize(obs, policy_params["obs_stats"])
            new_hidden, dist, _ = network.apply(policy_params["network"], hidden[None], obs[None],
                                                first[None])
            dist = mask_distribution(dist, mask)
            action = dist.mode()[0] if deterministic else dist.sample(seed=key)[0]
            return action, new_hidden[0]
        return feed_forward_act(policy_params, obs, key, deterministic)

    def policy_params(state: PPOState):
        return {"network": state.params, "obs_stats": state.obs_stats}

    return Agent(
        algo="ppo", config=config, env=env, env_params=env_params, init=init, update=update,
        act=act, policy_params=policy_params, steps_per_iteration=batch_size, value=value,
        recurrent=config.recurrent,
        # Actor and critic split over two devices only when they are separate networks.
        split_update=None if config.recurrent or network.shared_torso else update,
        extras={"network": network, "unroll": unroll, "rollout_policy": rollout_policy},
    )


Config = PPOConfig
