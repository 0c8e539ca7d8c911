"""Soft Actor-Critic (Haarnoja et al., 2018; automatic temperature from the 2018 "SAC:
Algorithms and Applications" paper), for continuous actions.

- Twin Q critics (`num_critics`, default 2, evaluated as one batched ensemble) with
  Polyak-averaged target networks (`tau`); the soft target uses the minimum over critics:
  `y = r + discount * (min_i Q_target_i(s', a') - alpha * log pi(a'|s'))`, `a' ~ pi(.|s')`,
  where `discount` is gamma, or 0 after a termination (truncated episodes bootstrap from
  their final observation; see `jaxrl.algos.off_policy`).
- A tanh-squashed diagonal Gaussian actor, with the change-of-variables
  correction `log pi(a) = log N(u; mu, sigma) - sum_i log(1 - tanh(u_i)^2)` computed from
  the pre-squash sample u in the numerically stable form `2 (log 2 - u - softplus(-2u))`,
  so it stays finite for actions at the bounds. Actor loss `E[alpha log pi(a|s) - min_i
  Q_i(s, a)]` with the reparameterised sample.
- Or, with `exploration="gsde"`, generalized state-dependent exploration (gSDE; Raffin et
  al., 2022, as Stable-Baselines3's `use_sde`): the pre-squash action is `mu(s) + z(s) @ W`,
  with `z(s)` the actor's last hidden layer and a noise matrix `W ~ N(0, exp(log_std)^2)`
  (`log_std` a parameter, started at `log_std_init`) held for `sde_sample_freq` steps (-1:
  a whole iteration) in each env. The same state gets the same push, so the car, the
  walker, the arm explores with smooth, sustained actions instead of per-step jitter. The
  losses use the Gaussian `N(mu(s), sum_j z_j(s)^2 exp(log_std_j)^2)` this induces, with one
  fresh matrix per gradient step for every reparameterised sample of the batch.
- Automatic temperature: `log alpha` is trained on `-log alpha * (log pi + H_target)`,
  which raises alpha when the policy's entropy is below the target `H_target =
  target_entropy_per_dim * dim(A)` (default -dim(A)) and lowers it when above.
- Actions in [-1, 1] scaled onto the env's box; the replay ratio (`gradient_steps` per
  iteration) and the number of envs are configurable (the loop: `off_policy.build`).

Each gradient step updates the critics, then the actor against the updated critics, then
the temperature, then the target critics (the order of Stable-Baselines3's SAC).

Read top to bottom: config, pure functions (tested in tests/test_continuous.py), make().
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import optax

from jaxrl import config as cfg
from jaxrl.agent import Agent
from jaxrl.algos import off_policy
from jaxrl.exploration import gsde_log_std, gsde_mean_std, gsde_noise, gsde_noise_init, gsde_noise_step
from jaxrl.networks import CriticEnsemble, StateDependentNoiseActor, TanhGaussianActor
from jaxrl.targets import soft_update


@dataclasses.dataclass(frozen=True)
class SACConfig:
    """SAC hyperparameters. The defaults are Stable-Baselines3's SAC defaults (one env, one
    gradient step per env step, 256-256 networks, learning rate 3e-4, automatic
    temperature); the presets in jaxrl/presets.py are tuned per env.

    Static fields set shapes and switches (changing them recompiles); the fields in
    `TRACED` are carried as arrays in the train state and can be swept without recompiling.
    """

    total_steps: int = 1_000_000  # env steps per seed
    # Shapes.
    num_envs: int = 1
    num_steps: int = 1  # env steps per env per iteration
    buffer_size: int = 1_000_000
    batch_size: int = 256
    learning_starts: int = 100  # env steps (per seed) of uniform random actions before learning
    gradient_steps: int = 1  # gradient steps per iteration (sets the replay ratio)
    hidden_sizes: tuple[int, ...] = (256, 256)  # actor and each critic
    activation: str = "relu"
    num_critics: int = 2
    layer_norm: bool = False  # LayerNorm after each hidden layer of the actor and the critics
    # Switches.
    autotune_alpha: bool = True  # False: alpha stays at init_alpha
    exploration: str = "gaussian"  # "gaussian" (fresh noise each step) or "gsde" (state-dependent)
    sde_sample_freq: int = -1  # gSDE: env steps between noise matrices (-1: one per iteration)
    # Traced numeric hyperparameters.
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    alpha_lr: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005  # target <- tau * online + (1 - tau) * target, every gradient step
    init_alpha: float = 1.0
    target_entropy_per_dim: float = -1.0  # target entropy = this * dim(A)
    adam_eps: float = 1e-8
    log_std_init: float = -3.0  # gSDE: the noise matrix's initial log std (Stable-Baselines3's)

    TRACED = ("actor_lr", "critic_lr", "alpha_lr", "gamma", "tau", "init_alpha",
              "target_entropy_per_dim", "adam_eps", "log_std_init")


# --------------------------------------------------------------------------------------
# Pure functions (tested against NumPy in tests/test_continuous.py)
# --------------------------------------------------------------------------------------


def gaussian_log_prob(mean, log_std, x):
    """Log-density of the diagonal Gaussian `N(mean, exp(log_std)^2)` at `x`, summed over
    the last axis: `(..., A) -> (...)`."""
    z = (x - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * jnp.square(z) - log_std - 0.5 * jnp.log(2.0 * jnp.pi), axis=-1)


def tanh_log_det_jacobian(pre_tanh):
    """`sum_i log(1 - tanh(u_i)^2)` over the last axis, as `2 (log 2 - u - softplus(-2u))`:
    finite even where tanh(u) rounds to +-1 in float32 (where the naive form is -inf)."""
    return jnp.sum(2.0 * (jnp.log(2.0) - pre_tanh - jax.nn.softplus(-2.0 * pre_tanh)), axis=-1)


def tanh_gaussian_log_prob(mean, log_std, pre_tanh):
    """`log pi(tanh(u))` for the pre-squash action `u = pre_tanh`: the Gaussian log-density
    of u minus the tanh's log-Jacobian. Shapes `(..., A)` -> `(...)`. (The density at an
    action a itself would need u = atanh(a), which loses precision near the bounds; the
    actor always knows u.)

    Written here rather than taken from distrax: these two formulas are all SAC needs, and
    importing distrax (with tensorflow-probability) costs ~0.6 s of every SAC cold start
    (docs/optimisation.md); tests/test_continuous.py checks them against NumPy and distrax."""
    return gaussian_log_prob(mean, log_std, pre_tanh) - tanh_log_det_jacobian(pre_tanh)


def sample_tanh_gaussian(key, mean, log_std):
    """A reparameterised sample `a = tanh(mean + std * eps)`, `eps ~ N(0, I)`, in (-1, 1)
    and its log-probability (differentiable in mean and log_std). Shapes `(..., A)` ->
    `((..., A), (...))`."""
    pre_tanh = mean + jnp.exp(log_std) * jax.random.normal(key, jnp.shape(mean), jnp.result_type(mean))
    return jnp.tanh(pre_tanh), tanh_gaussian_log_prob(mean, log_std, pre_tanh)


def sample_gsde(eps, mean, latent, log_std):
    """`a = tanh(mean + latent @ (exp(log_std) * eps))` and `log pi(a|s)` under gSDE's
    Gaussian (`jaxrl.exploration.gsde_log_std`). `eps` is a standard-normal noise matrix:
    `(L, A)`, one for every row of `latent` (a gradient step's batch), or `(N, L, A)`, one
    per row (per env). Differentiable in mean, latent and log_std (the reparameterisation
    of `W`). Shapes: mean `(N, A)`, latent `(N, L)`, log_std `(L, A)` -> `((N, A), (N,))`."""
    pre_tanh = mean + gsde_noise(latent, log_std, eps)
    return jnp.tanh(pre_tanh), tanh_gaussian_log_prob(mean, gsde_log_std(latent, log_std), pre_tanh)


def soft_q_targets(rewards, discounts, next_q_min, next_log_prob, alpha):
    """`r + discount * (min_i Q_target_i(s', a') - alpha * log pi(a'|s'))`. `discounts` is
    gamma, or 0 after a termination."""
    return rewards + discounts * (next_q_min - alpha * next_log_prob)


def temperature_loss(log_alpha, log_prob, target_entropy):
    """`-log_alpha * mean(log pi + H_target)` with the log-probabilities held fixed. Its
    gradient in log_alpha is `H - H_target` for the sample entropy `H = -mean(log pi)`, so
    gradient descent lowers alpha while the entropy exceeds its target and raises it below."""
    return -log_alpha * jnp.mean(jax.lax.stop_gradient(log_prob + target_entropy))


def actor_loss(alpha, log_prob, q_min):
    """`mean(alpha * log pi(a|s) - min_i Q_i(s, a))` over reparameterised actions."""
    return jnp.mean(alpha * log_prob - q_min)


# --------------------------------------------------------------------------------------
# Agent
# --------------------------------------------------------------------------------------


def validate(config: SACConfig, env, env_params) -> None:
    off_policy.validate(config, env, env_params, ("actor_lr", "critic_lr", "alpha_lr"))
    cfg.check(config.init_alpha > 0, config, "init_alpha", "must be > 0 (alpha = exp(log_alpha))")
    cfg.check_sde(config)


def make(env, env_params, config: SACConfig = SACConfig()) -> Agent:
    validate(config, env, env_params)
    action_dim = int(env.action_space(env_params).shape[0])
    obs_dim = int(env.observation_space(env_params).shape[0])
    gsde = config.exploration == "gsde"
    actor = (StateDependentNoiseActor if gsde else TanhGaussianActor)(
        action_dim, tuple(config.hidden_sizes), config.activation, layer_norm=config.layer_norm)
    latent_dim = config.hidden_sizes[-1]  # gSDE's noise acts on the last hidden layer
    critic = CriticEnsemble(config.num_critics, tuple(config.hidden_sizes), config.activation, config.layer_norm)

    def optimizers(hp):
        return (off_policy.adam(hp["actor_lr"], hp["adam_eps"]),
                off_policy.adam(hp["critic_lr"], hp["adam_eps"]),
                off_policy.adam(hp["alpha_lr"], hp["adam_eps"]))

    def init(key, hp):
        actor_key, critic_key = jax.random.split(key)
        actor_params = actor.init(actor_key, jnp.zeros((obs_dim,)))
        if gsde:
            inner = actor_params["params"]
            actor_params = {"params": {**inner, "log_std": jnp.full_like(inner["log_std"], hp["log_std_init"])}}
        critic_params = critic.init(critic_key, jnp.zeros((obs_dim,)), jnp.zeros((action_dim,)))
        log_alpha = jnp.log(hp["init_alpha"])
        actor_opt, critic_opt, alpha_opt = optimizers(hp)
        return dict(actor=actor_params, critic=critic_params, target_critic=critic_params,
                    log_alpha=log_alpha, actor_opt=actor_opt.init(actor_params),
                    critic_opt=critic_opt.init(critic_params), alpha_opt=alpha_opt.init(log_alpha))

    def sample(actor_params, obs, noise):
        """A reparameterised action and its log-probability; `noise` is a key (Gaussian) or
        a standard-normal noise matrix (gSDE)."""
        if gsde:
            return sample_gsde(noise, *actor.apply(actor_params, obs))
        return sample_tanh_gaussian(noise, *actor.apply(actor_params, obs))

    def explore(learner, hp, obs, key):
        return sample(learner["actor"], obs, key)[0]

    def explore_gsde(learner, hp, obs, key, noise):
        return sample(learner["actor"], obs, noise["eps"])[0]

    def noise_init(num_envs):
        return gsde_noise_init(num_envs, latent_dim, action_dim)

    def noise_step(noise, first, hp, key):
        return gsde_noise_step(noise, key, config.num_steps, config.sde_sample_freq)

    def learn_step(learner, batch, key, hp, step):
        actor_opt, critic_opt, alpha_opt = optimizers(hp)
        if gsde:  # one noise matrix for the step, drawn with the current log std
            next_noise = actor_noise = jax.random.normal(key, (latent_dim, action_dim), jnp.float32)
        else:
            next_noise, actor_noise = jax.random.split(key)
        alpha = jnp.exp(learner["log_alpha"])
        obs, action = batch["obs"], batch["action"]

        # Critics: regress every Q_i on the soft target.
        next_action, next_log_prob = sample(learner["actor"], batch["next_obs"], next_noise)
        next_q = critic.apply(learner["target_critic"], batch["next_obs"], next_action).min(axis=0)
        targets = jax.lax.stop_gradient(
            soft_q_targets(batch["reward"], batch["discount"], next_q, next_log_prob, alpha))

        def critic_loss_fn(params):
            q = critic.apply(params, obs, action)  # (num_critics, B)
            return 0.5 * jnp.sum(jnp.mean(jnp.square(q - targets), axis=-1)), q.mean()

        (critic_loss, q_mean), grads = jax.value_and_grad(critic_loss_fn, has_aux=True)(learner["critic"])
        updates, critic_opt_state = critic_opt.update(grads, learner["critic_opt"])
        critic_params = optax.apply_updates(learner["critic"], updates)

        # Actor, against the updated critics.
        def actor_loss_fn(params):
            new_action, log_prob = sample(params, obs, actor_noise)
            q_min = critic.apply(critic_params, obs, new_action).min(axis=0)
            return actor_loss(alpha, log_prob, q_min), log_prob

        (policy_loss, log_prob), grads = jax.value_and_grad(actor_loss_fn, has_aux=True)(learner["actor"])
        updates, actor_opt_state = actor_opt.update(grads, learner["actor_opt"])
        actor_params = optax.apply_updates(learner["actor"], updates)

        # Temperature.
        target_entropy = hp["target_entropy_per_dim"] * action_dim
        alpha_loss, grad = jax.value_and_grad(temperature_loss)(learner["log_alpha"], log_prob, target_entropy)
        log_alpha, alpha_opt_state = learner["log_alpha"], learner["alpha_opt"]
        if config.autotune_alpha:
            update, alpha_opt_state = alpha_opt.update(grad, alpha_opt_state)
            log_alpha = optax.apply_updates(log_alpha, update)

        learner = dict(actor=actor_params, critic=critic_params,
                       target_critic=soft_update(learner["target_critic"], critic_params, hp["tau"]),
                       log_alpha=log_alpha, actor_opt=actor_opt_state, critic_opt=critic_opt_state,
                       alpha_opt=alpha_opt_state)
        stats = {"critic_loss": critic_loss, "actor_loss": policy_loss, "alpha_loss": alpha_loss,
                 "alpha": alpha, "entropy": -log_prob.mean(), "q_mean": q_mean}
        if gsde:
            stats["sde_std"] = gsde_mean_std(actor_params)
        return learner, stats

    def policy_params(learner, hp):
        return {"actor": learner["actor"], "critic": learner["critic"]}

    def act(params, obs, key, deterministic: bool = False):
        if gsde:  # a fresh noise matrix per call: the induced Gaussian at this state
            mean, latent, log_std = actor.apply(params["actor"], obs)
            log_std = gsde_log_std(latent, log_std)
        else:
            mean, log_std = actor.apply(params["actor"], obs)
        if deterministic:
            return jnp.tanh(mean)
        return sample_tanh_gaussian(key, mean, log_std)[0]

    def value(params, obs):
        """min_i Q_i(obs, deterministic action)."""
        mean = actor.apply(params["actor"], obs)[0]
        return critic.apply(params["critic"], obs, jnp.tanh(mean)).min(axis=0)

    learner = off_policy.Learner(
        init=init, explore=explore_gsde if gsde else explore, learn_step=learn_step,
        policy_params=policy_params, act=act, value=value,
        noise_step=noise_step if gsde else None, noise_init=noise_init if gsde else None)
    return off_policy.build("sac", env, env_params, config, learner,
                            extras={"actor": actor, "critic": critic})


Config = SACConfig
