"""Deep Q-Networks (Mnih et al., 2015) and the common extensions, as switches:
Double DQN (van Hasselt et al., 2016), dueling heads (Wang et al., 2016), n-step returns,
prioritized replay (Schaul et al., 2016), hard or soft (Polyak) target updates, Huber or
squared TD loss, linear or exponential epsilon-greedy exploration.

One `update` = collect `num_steps` steps from each of `num_envs` vectorised envs with an
epsilon-greedy policy (`rollout.collect`), turn them into n-step transitions
(`buffers.n_step_transitions`, bootstrapping truncated episodes from Q(final_obs)), add them
to the replay buffer (`jaxrl.buffers`), then take `gradient_steps` gradient steps on
minibatches of `batch_size` replayed transitions, once the buffer holds `learning_starts`
env steps. So the replay ratio is `gradient_steps * batch_size / (num_envs * num_steps)`
replayed transitions per collected one.

n-step windows across iterations: a window that starts near the end of one rollout needs
rewards from the next one. Rather than cutting those windows short (which, with
`num_steps=1`, would turn every transition into a 1-step one), the agent keeps the last
`n_step - 1` collected steps in its state (`pending`) and builds each iteration's
transitions over `pending + new rollout`, emitting one transition per start step whose
window is then complete (n steps, or fewer when the episode ended inside the window). So
every transition is emitted exactly once, `n_step - 1` steps late. To start with a full
`pending`, `init` takes `n_step - 1` uniformly random steps in each env (counted in
`env_steps`; their episode statistics are not reported).

Extensions beyond the Nature DQN: C51 distributional heads (`distributional`), noisy nets
(`noisy`), and `rainbow(...)`, a config with all of them on.

Read top to bottom: config, TD targets and losses, state, validate, make() -> init,
rollout, loss, learn, update, act. The Q-network lives in `jaxrl.networks`, exploration in
`jaxrl.exploration`, target updates in `jaxrl.targets`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from envs.core import key_spec
from jaxrl import buffers
from jaxrl import config as cfg
from jaxrl import optim
from jaxrl.agent import Agent
from jaxrl.exploration import epsilon_exponential, epsilon_greedy, epsilon_linear, greedy, masked_max
from jaxrl.networks import NoisyDense, QNetwork, default_torso_kind, env_action_mask_fn  # noqa: F401
from jaxrl.rollout import EnvBatch, collect, episode_metrics, reset_envs
from jaxrl.targets import hard_update, soft_update


@dataclasses.dataclass(frozen=True)
class DQNConfig:
    """DQN hyperparameters; the defaults solve CartPole-v1 (see tests/test_dqn.py).

    Static fields set shapes and switches (changing them recompiles); the fields in
    `TRACED` are carried as arrays in the train state and can be swept without recompiling.
    """

    total_steps: int = 500_000  # env steps per seed; also the PER beta annealing horizon
    # Shapes.
    num_envs: int = 16
    num_steps: int = 1  # env steps per env per iteration
    buffer_size: int = 10_000
    batch_size: int = 128
    learning_starts: int = 10_000  # env steps (per seed) before the first gradient step
    gradient_steps: int = 2  # gradient steps per iteration (sets the replay ratio)
    network: str = "auto"  # "mlp", "cnn" (MinAtar) or "auto" (cnn for image observations)
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    # Switches.
    double: bool = True  # Double DQN: online network picks the next action, target evaluates
    dueling: bool = False  # Q = V + A - mean_a A
    # "mse" (0.5 * td^2) or "huber" (delta 1). Huber is the Atari choice (rewards clipped to
    # [-1, 1]); with CartPole's unclipped returns most TD errors exceed 1, Huber then acts
    # like an L1 (median) fit that ignores the few terminal transitions, and Q diverges.
    loss: str = "mse"
    target_update: str = "hard"  # "hard": copy every target_update_interval; "soft": Polyak
    target_update_interval: int = 50  # gradient steps between hard copies
    n_step: int = 1
    prioritized: bool = False
    epsilon_schedule: str = "linear"  # "linear" or "exponential"
    epsilon_decay_steps: int = 200_000  # env steps (per seed)
    # The learning rate decays linearly to 0 over total_steps (env steps): late updates are
    # small, which steadies the final greedy policy (docs/algorithms.md).
    anneal_lr: bool = False
    # C51 (Bellemare et al., 2017): a categorical return distribution over `num_atoms`
    # evenly spaced atoms in [v_min, v_max], trained by cross-entropy to the projected
    # distributional Bellman target (`loss` is then unused).
    distributional: bool = False
    num_atoms: int = 51
    # Noisy nets (Fortunato et al., 2018): the Q head's linear layers get learned, factorised
    # Gaussian weight noise, resampled every env step and every gradient step (online and
    # target independently); deterministic actions use the mean weights. Usually paired
    # with epsilon_start = epsilon_end = 0 (see `rainbow`).
    noisy: bool = False
    noisy_sigma: float = 0.5  # sigma_0: noise scales start at sigma_0 / sqrt(fan_in) (init only)
    # With noisy: the torso's dense layers are noisy too (the MLP's layers; the MinAtar CNN's
    # dense layer after its convolution), as Rainbow makes every dense layer noisy.
    noisy_torso: bool = False
    # Traced numeric hyperparameters.
    learning_rate: float = 2.5e-4
    gamma: float = 0.99
    tau: float = 0.005  # soft target updates: target <- tau * online + (1 - tau) * target
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    max_grad_norm: float = 10.0
    adam_eps: float = 1e-5
    per_alpha: float = 0.6  # priority exponent (0: uniform)
    per_beta_start: float = 0.4  # importance-weight exponent, annealed to 1 over total_steps
    per_eps: float = 1e-6  # added to |td| so no transition has zero priority
    v_min: float = 0.0  # C51 support (CartPole's discounted returns lie in [0, 100])
    v_max: float = 100.0

    TRACED = (
        "learning_rate", "gamma", "tau", "epsilon_start", "epsilon_end", "max_grad_norm",
        "adam_eps", "per_alpha", "per_beta_start", "per_eps", "v_min", "v_max",
    )


# --------------------------------------------------------------------------------------
# Shared pure functions (tested against NumPy in tests/test_dqn.py)
# --------------------------------------------------------------------------------------


def q_learning_targets(rewards, discounts, next_q_target, next_mask=None):
    """`r + discount * max_a Q_target(s', a)`. rewards, discounts `(B,)`; next_q `(B, A)`.
    `discounts` already holds gamma^k and is 0 after a termination (n_step_transitions).
    `next_mask` (bool `(B, A)`, optional) restricts the max to the actions allowed in s'."""
    return rewards + discounts * masked_max(next_q_target, next_mask)


def double_q_learning_targets(rewards, discounts, next_q_target, next_q_online, next_mask=None):
    """Double DQN: `r + discount * Q_target(s', argmax_a Q_online(s', a))`, the argmax over
    the actions `next_mask` allows (all if None)."""
    best = greedy(next_q_online, next_mask)
    chosen = jnp.take_along_axis(next_q_target, best[..., None], axis=-1)[..., 0]
    return rewards + discounts * chosen


def td_loss(td_errors, kind: str):
    """Elementwise TD loss: "huber" (delta 1, i.e. quadratic for |td| <= 1, linear beyond)
    or "mse" (`0.5 * td^2`, the same gradient as Huber inside |td| <= 1)."""
    if kind == "huber":
        return optax.huber_loss(td_errors, delta=1.0)
    if kind == "mse":
        return 0.5 * jnp.square(td_errors)
    raise ValueError(f"Unknown loss {kind!r}; choose 'huber' or 'mse'.")


def categorical_projection(next_probs, rewards, discounts, support):
    """C51's projection of the target distribution onto the fixed support.

    The target places probability `next_probs[b, i]` at `rewards[b] + discounts[b] *
    support[i]`, clipped to `[support[0], support[-1]]`; each such point's mass is split
    between its two neighbouring atoms in proportion to closeness (linear interpolation):
    atom j receives `p_i * max(0, 1 - |Tz_i - z_j| / dz)` with `dz` the atom spacing. A point
    exactly on an atom gives it all its mass, so the result always sums to 1.

    Args:
      next_probs: `(B, K)` probabilities of the bootstrap distribution.
      rewards, discounts: `(B,)` (discount 0 after a termination: all mass at the reward).
      support: `(K,)` evenly spaced atoms, K >= 2.

    Returns:
      `(B, K)` target probabilities.
    """
    v_min, v_max = support[0], support[-1]
    delta = (v_max - v_min) / (support.shape[0] - 1)
    points = jnp.clip(rewards[:, None] + discounts[:, None] * support[None, :], v_min, v_max)
    weights = jnp.clip(1.0 - jnp.abs(points[:, :, None] - support[None, None, :]) / delta, 0.0, 1.0)
    return jnp.einsum("bi,bij->bj", next_probs, weights)


# --------------------------------------------------------------------------------------
# Agent
# --------------------------------------------------------------------------------------


@struct.dataclass
class DQNState:
    params: Any
    target_params: Any
    opt_state: Any
    buffer: Any  # buffers.BufferState or buffers.PrioritizedBufferState
    pending: Any  # the last n_step - 1 collected steps (dict of (n-1, num_envs, ...)), or None
    envs: EnvBatch
    key: jax.Array
    iteration: jax.Array
    env_steps: jax.Array
    gradient_steps: jax.Array
    hparams: dict[str, jax.Array]


def validate(config: DQNConfig, env, env_params) -> None:
    cfg.check_action_space(config, env.action_space(env_params), ("discrete",))
    cfg.check_positive(config, "total_steps", "num_envs", "num_steps", "buffer_size",
                       "batch_size", "gradient_steps", "target_update_interval", "n_step",
                       "epsilon_decay_steps", "learning_rate", "max_grad_norm", "adam_eps",
                       "per_eps")
    cfg.check_replay_shapes(config)
    cfg.check_unit_interval(config, "tau", open_low=True)
    cfg.check_unit_interval(config, "gamma", "epsilon_start", "epsilon_end", "per_beta_start")
    cfg.check(0 <= config.per_alpha <= 1, config, "per_alpha",
              "must be in [0, 1] (0 gives uniform sampling, 1 fully proportional)")
    cfg.check(config.loss in ("huber", "mse"), config, "loss", "choose 'huber' or 'mse'")
    cfg.check(config.target_update in ("hard", "soft"), config, "target_update",
              "choose 'hard' (copy every target_update_interval) or 'soft' (Polyak, tau)")
    cfg.check(config.epsilon_schedule in ("linear", "exponential"), config, "epsilon_schedule",
              "choose 'linear' or 'exponential'")
    if config.noisy:
        cfg.check(config.noisy_sigma > 0, config, "noisy_sigma", "must be > 0, e.g. 0.5")
    cfg.check(config.noisy or not config.noisy_torso, config, "noisy_torso",
              "makes the torso's layers noisy as well as the head's; it needs noisy=true")
    if config.distributional:
        cfg.check(config.num_atoms >= 2, config, "num_atoms", "C51 needs at least 2 atoms, e.g. 51")
        cfg.check(config.v_max > config.v_min, config, "v_max",
                  f"must be > v_min={config.v_min}; the support must cover the returns")
    cfg.check_network(config, env.observation_space(env_params).shape)


def make(env, env_params, config: DQNConfig = DQNConfig()) -> Agent:
    validate(config, env, env_params)
    obs_shape = tuple(env.observation_space(env_params).shape)
    num_actions = int(env.action_space(env_params).n)
    torso = default_torso_kind(obs_shape) if config.network == "auto" else config.network
    atoms = config.num_atoms if config.distributional else 1
    network = QNetwork(num_actions, torso, tuple(config.hidden_sizes), config.activation,
                       config.dueling, atoms, config.noisy, config.noisy_sigma,
                       obs_ndim=len(obs_shape), noisy_torso=config.noisy_torso)
    steps_per_iteration = config.num_envs * config.num_steps
    # Envs with an action mask (e.g. fab/...): masked actions are never chosen, and targets
    # bootstrap from the best allowed action of the next observation. Masks are recomputed
    # from stored observations, so the buffer holds nothing extra.
    mask_fn = env_action_mask_fn(env, env_params, obs_shape)

    def mask_of(obs):
        return None if mask_fn is None else mask_fn(obs)
    n = config.n_step
    obs_dtype = jax.eval_shape(env.reset, key_spec(), env_params)[0].dtype
    example = buffers.example_transition(obs_shape, obs_dtype, (), np.int32)

    def optimizer(hp, env_steps=0):
        lr = optim.linear_decay(hp["learning_rate"], env_steps, config.total_steps, config.anneal_lr)
        return optim.adam(lr, hp["max_grad_norm"], hp["adam_eps"])

    def epsilon(hp, env_steps):
        schedule = epsilon_linear if config.epsilon_schedule == "linear" else epsilon_exponential
        return schedule(env_steps, hp["epsilon_start"], hp["epsilon_end"], config.epsilon_decay_steps)

    def support_of(hp):
        """C51 atoms from the traced v_min, v_max (None for scalar Q)."""
        if not config.distributional:
            return None
        return jnp.linspace(hp["v_min"], hp["v_max"], config.num_atoms)

    def apply(params, obs, noise_key=None):
        """The network output; noisy layers sample their noise from `noise_key` (if the
        network is noisy and a key is given), else use their mean weights."""
        if config.noisy and noise_key is not None:
            return network.apply(params, obs, rngs={"noise": noise_key})
        return network.apply(params, obs)

    def q_values(params, obs, support=None, noise_key=None):
        """Q-values `(..., A)`: the network output, or C51's expected return."""
        out = apply(params, obs, noise_key)
        if not config.distributional:
            return out
        return jnp.sum(jax.nn.softmax(out, axis=-1) * support, axis=-1)

    def rollout_fields(traj):
        return dict(obs=traj.obs, action=traj.action, reward=traj.reward,
                    terminated=traj.terminated, truncated=traj.truncated, final_obs=traj.final_obs)

    def init(key, hparams=None) -> DQNState:
        hp = cfg.traced_hparams(config, hparams)
        key, net_key, env_key, warm_key = jax.random.split(key, 4)
        params = network.init(net_key, jnp.zeros(obs_shape, jnp.float32))
        envs_ = reset_envs(env, env_params, env_key, config.num_envs)
        pending = None
        if n > 1:
            def random_policy(carry, obs, first, act_key):
                action = jax.random.randint(act_key, (config.num_envs,), 0, num_actions)
                return carry, action, jnp.zeros(config.num_envs)

            envs_, _, warm = collect(env, env_params, random_policy, None, envs_, warm_key, n - 1)
            pending = rollout_fields(warm)
        init_buffer = buffers.prioritized_init if config.prioritized else buffers.uniform_init
        return DQNState(
            params=params, target_params=params, opt_state=optimizer(hp).init(params),
            buffer=init_buffer(example, config.buffer_size), pending=pending, envs=envs_, key=key,
            iteration=jnp.zeros((), jnp.int32),
            env_steps=jnp.asarray((n - 1) * config.num_envs, jnp.int32),
            gradient_steps=jnp.zeros((), jnp.int32), hparams=hp,
        )

    def transitions(state, traj, gamma):
        """n-step transitions for this iteration, flattened to (num_steps * num_envs, ...),
        and the new `pending` (see the module docstring)."""
        steps = rollout_fields(traj)
        if n > 1:
            steps = jax.tree.map(lambda p, s: jnp.concatenate([p, s]), state.pending, steps)
        out = buffers.n_step_transitions(steps["obs"], steps["action"], steps["reward"],
                                         steps["terminated"], steps["truncated"],
                                         steps["final_obs"], gamma, n)
        # Start steps 0..num_steps-1 of `pending + rollout` have complete windows.
        out = jax.tree.map(lambda x: x[:config.num_steps].reshape((-1,) + x.shape[2:]), out)
        pending = jax.tree.map(lambda x: x[config.num_steps:], steps) if n > 1 else None
        return out, pending

    def loss_fn(params, target_params, batch, weights, hp, key):
        """Weighted TD loss; `aux["priority"]` is the per-sample PER priority base (|td|,
        or C51's cross-entropy), `aux["td"]` the expected-Q TD error."""
        obs, next_obs, actions = batch["obs"], batch["next_obs"], batch["action"]
        next_mask = mask_of(next_obs)
        support = support_of(hp)
        # Double DQN's action choice is a separate pass with the parameters held constant, so
        # the backward pass runs over the batch only, not over the next observations too.
        online_key, target_key = jax.random.split(key)
        online = apply(params, obs, online_key)
        next_online = apply(jax.lax.stop_gradient(params), next_obs, online_key) if config.double else None
        next_target = apply(target_params, next_obs, target_key)
        to_q = (lambda out: out) if not config.distributional else (  # noqa: E731
            lambda out: jnp.sum(jax.nn.softmax(out, axis=-1) * support, axis=-1))
        taken = lambda out, a: jnp.take_along_axis(  # noqa: E731
            out, a.reshape(a.shape + (1,) * (out.ndim - 1)), axis=1)[:, 0]
        q_taken = taken(to_q(online), actions)
        if config.distributional:
            # Greedy next action: chosen by the online net (Double DQN) or the target net.
            next_action = greedy(to_q(next_online if config.double else next_target), next_mask)
            next_probs = jax.nn.softmax(taken(next_target, next_action), axis=-1)
            target_probs = jax.lax.stop_gradient(categorical_projection(
                next_probs, batch["reward"], batch["discount"], support))
            log_probs = jax.nn.log_softmax(taken(online, actions), axis=-1)
            per_sample = -jnp.sum(target_probs * log_probs, axis=-1)
            td = q_taken - jax.lax.stop_gradient(jnp.sum(target_probs * support, axis=-1))
            priority = per_sample
        else:
            if config.double:
                targets = double_q_learning_targets(batch["reward"], batch["discount"],
                                                    next_target, next_online, next_mask)
            else:
                targets = q_learning_targets(batch["reward"], batch["discount"], next_target,
                                             next_mask)
            targets = jax.lax.stop_gradient(targets)
            td = q_taken - targets
            per_sample = td_loss(td, config.loss)
            priority = td
        loss = jnp.mean(weights * per_sample)
        return loss, {"td": td, "priority": jax.lax.stop_gradient(priority), "q_mean": q_taken.mean()}

    def gradient_step(carry, key, hp, beta, env_steps):
        params, target_params, opt_state, buffer, count = carry
        if config.prioritized:
            batch, indices, weights = buffers.prioritized_sample(buffer, key, config.batch_size, beta)
        else:
            batch, indices = buffers.sample(buffer, key, config.batch_size)
            weights = jnp.ones(config.batch_size, jnp.float32)
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            params, target_params, batch, weights, hp, jax.random.fold_in(key, 1))
        updates, opt_state = optimizer(hp, env_steps).update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        count = count + 1
        if config.target_update == "hard":
            target_params = hard_update(target_params, params, count, config.target_update_interval)
        else:
            target_params = soft_update(target_params, params, hp["tau"])
        if config.prioritized:
            buffer = buffers.prioritized_update(buffer, indices, aux["priority"], hp["per_alpha"],
                                                hp["per_eps"])
        stats = {"loss": loss, "q_mean": aux["q_mean"], "td_abs_mean": jnp.abs(aux["td"]).mean(),
                 "grad_norm": optax.tree.norm(grads)}
        return (params, target_params, opt_state, buffer, count), stats

    def learn(carry, key, hp, env_steps):
        beta = buffers.linear_schedule(hp["per_beta_start"], 1.0, config.total_steps, env_steps)
        keys = jax.random.split(key, config.gradient_steps)
        carry, stats = jax.lax.scan(lambda c, k: gradient_step(c, k, hp, beta, env_steps), carry, keys)
        return carry, jax.tree.map(jnp.mean, stats)

    def skip(carry, key, hp, env_steps):
        zero = jnp.zeros((), jnp.float32)
        return carry, {"loss": zero, "q_mean": zero, "td_abs_mean": zero, "grad_norm": zero}

    def update(state: DQNState):
        hp = state.hparams
        key, rollout_key, learn_key = jax.random.split(state.key, 3)
        eps = epsilon(hp, state.env_steps)

        def policy(carry, obs, first, act_key):
            q = q_values(state.params, obs, support_of(hp), jax.random.fold_in(act_key, 1))
            action = epsilon_greedy(act_key, q, eps, mask_of(obs))
            return carry, action, jnp.zeros(action.shape, jnp.float32)

        envs_, _, traj = collect(env, env_params, policy, None, state.envs, rollout_key,
                                 config.num_steps)
        batch, pending = transitions(state, traj, hp["gamma"])
        add = buffers.prioritized_add if config.prioritized else buffers.add
        buffer = add(state.buffer, batch)
        env_steps = state.env_steps + steps_per_iteration

        ready = buffers.can_sample(buffer, config.batch_size) & (env_steps >= config.learning_starts)
        carry = (state.params, state.target_params, state.opt_state, buffer, state.gradient_steps)
        carry, stats = jax.lax.cond(ready, learn, skip, carry, learn_key, hp, env_steps)
        params, target_params, opt_state, buffer, gradient_steps = carry

        state = state.replace(
            params=params, target_params=target_params, opt_state=opt_state, buffer=buffer,
            pending=pending, envs=envs_, key=key, iteration=state.iteration + 1,
            env_steps=env_steps, gradient_steps=gradient_steps,
        )
        return state, {**episode_metrics(traj), **stats, "epsilon": eps,
                       "learning": ready.astype(jnp.float32)}

    def policy_params(state):
        return {"network": state.params, "epsilon": state.hparams["epsilon_end"],
                "support": support_of(state.hparams)}

    def act(policy_params, obs, key, deterministic: bool = False):
        if deterministic:  # noisy layers use their mean weights
            q = q_values(policy_params["network"], obs, policy_params["support"])
            return greedy(q, mask_of(obs))
        q = q_values(policy_params["network"], obs, policy_params["support"],
                     jax.random.fold_in(key, 1))
        return epsilon_greedy(key, q, policy_params["epsilon"], mask_of(obs))

    def value(policy_params, obs):
        """Q-values `(..., num_actions)` (C51: expected returns)."""
        return q_values(policy_params["network"], obs, policy_params["support"])

    return Agent(
        algo="dqn", config=config, env=env, env_params=env_params, init=init, update=update,
        act=act, policy_params=policy_params,
        steps_per_iteration=steps_per_iteration, value=value,
        extras={"network": network, "q_values": q_values, "support": support_of},
    )


RAINBOW = dict(double=True, dueling=True, distributional=True, noisy=True, n_step=3,
               prioritized=True, per_alpha=0.5, epsilon_start=0.0, epsilon_end=0.0)
"""The Rainbow switches (Hessel et al., 2018): Double, dueling, C51, noisy nets, 3-step
returns and prioritized replay, with exploration left to the noisy layers (epsilon 0)."""


def rainbow(**overrides) -> DQNConfig:
    """A DQNConfig with every Rainbow component on (`RAINBOW`), then `overrides`."""
    return DQNConfig(**{**RAINBOW, **overrides})


Config = DQNConfig
