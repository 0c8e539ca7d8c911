"""Twin Delayed DDPG (TD3; Fujimoto et al., 2018), and the builder DDPG reuses.

- Twin critics (`num_critics`, default 2) with Polyak-averaged targets; the critic target
  is `y = r + discount * min_i Q_target_i(s', a~')`, where `discount` is gamma, or 0 after
  a termination (truncated episodes bootstrap from their final observation; see
  `jaxrl.algos.off_policy`).
- Target-policy smoothing: `a~' = clip(mu_target(s') + clip(target_noise * eps,
  -target_noise_clip, target_noise_clip), -1, 1)`, `eps ~ N(0, I)`.
- Delayed updates: the actor (`max_a Q_1(s, mu(s))`) and all target networks are updated
  once every `policy_delay` critic updates.
- Exploration: Gaussian noise `exploration_noise * N(0, I)` added to `mu(s)`, clipped to
  [-1, 1] (actions are scaled from [-1, 1] onto the env's box); or, with
  `exploration="ou"`, Ornstein-Uhlenbeck noise of scale `exploration_noise` (`ou_theta`,
  `ou_dt`; restarted each episode), whose correlated pushes reach sparse rewards that
  per-step noise does not.

DDPG (Lillicrap et al., 2016; `jaxrl.algos.ddpg`) is this builder with one critic, no
delay and no target smoothing.

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
from jaxrl.exploration import ornstein_uhlenbeck_step
from jaxrl.networks import CriticEnsemble, DeterministicActor
from jaxrl.targets import soft_update


@dataclasses.dataclass(frozen=True)
class TD3Config:
    """TD3 hyperparameters. The defaults are Stable-Baselines3's TD3 defaults (one env, one
    gradient step per env step, 256-256 networks, learning rate 1e-3, policy delay 2,
    target noise 0.2 clipped at 0.5) with exploration noise 0.1; presets are tuned per env.

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
    gradient_steps: int = 1  # critic gradient steps per iteration (sets the replay ratio)
    hidden_sizes: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    num_critics: int = 2
    policy_delay: int = 2  # critic steps per actor (and target) step
    # LayerNorm after every hidden layer of actor and critics. Off in SB3's TD3; the Brax
    # locomotion presets turn it on: without it their actor's tanh saturated at the action
    # bounds a few hundred gradient steps after the warm-up and stayed there.
    layer_norm: bool = False
    # Traced numeric hyperparameters.
    actor_lr: float = 1e-3
    critic_lr: float = 1e-3
    gamma: float = 0.99
    tau: float = 0.005
    exploration: str = "gaussian"  # "gaussian" (independent per step) or "ou" (Ornstein-Uhlenbeck)
    exploration_noise: float = 0.1  # std of the Gaussian noise on mu(s) (OU: its sigma), in [-1, 1] units
    ou_theta: float = 0.15  # OU mean reversion rate (SB3's default)
    ou_dt: float = 1e-2  # OU time step (SB3's default)
    target_noise: float = 0.2  # std of the target-policy smoothing noise
    target_noise_clip: float = 0.5
    adam_eps: float = 1e-8

    TRACED = ("actor_lr", "critic_lr", "gamma", "tau", "exploration_noise", "ou_theta", "ou_dt",
              "target_noise", "target_noise_clip", "adam_eps")


# --------------------------------------------------------------------------------------
# Pure functions (tested in tests/test_continuous.py)
# --------------------------------------------------------------------------------------


def smoothed_target_actions(key, actions, noise_std, noise_clip):
    """Target-policy smoothing: `clip(actions + clip(noise_std * eps, -noise_clip,
    noise_clip), -1, 1)`, `eps ~ N(0, I)`. So every output is within `noise_clip` of its
    input and inside [-1, 1]."""
    noise = jnp.clip(noise_std * jax.random.normal(key, actions.shape), -noise_clip, noise_clip)
    return jnp.clip(actions + noise, -1.0, 1.0)


def gaussian_exploration(key, actions, noise_std):
    """`clip(actions + noise_std * eps, -1, 1)`, `eps ~ N(0, I)`."""
    return jnp.clip(actions + noise_std * jax.random.normal(key, actions.shape), -1.0, 1.0)


def td_targets(rewards, discounts, next_q_min):
    """`r + discount * min_i Q_target_i(s', a~')` (discount 0 after a termination)."""
    return rewards + discounts * next_q_min


# --------------------------------------------------------------------------------------
# Agent
# --------------------------------------------------------------------------------------


def validate(config, env, env_params) -> None:
    off_policy.validate(config, env, env_params, ("actor_lr", "critic_lr"))
    cfg.check(config.policy_delay >= 1, config, "policy_delay",
              "must be >= 1 critic updates per actor update (TD3 uses 2, DDPG 1)")
    cfg.check(config.exploration in ("gaussian", "ou"), config, "exploration",
              "must be 'gaussian' or 'ou' (Ornstein-Uhlenbeck)")
    cfg.check(config.exploration_noise >= 0, config, "exploration_noise", "must be >= 0, e.g. 0.1")
    cfg.check(config.ou_theta >= 0, config, "ou_theta", "must be >= 0, e.g. 0.15")
    cfg.check(config.ou_dt > 0, config, "ou_dt", "must be > 0, e.g. 0.01")
    cfg.check(config.target_noise >= 0, config, "target_noise", "must be >= 0 (0 turns smoothing off)")
    cfg.check(config.target_noise_clip >= 0, config, "target_noise_clip", "must be >= 0, e.g. 0.5")


def build(algo: str, env, env_params, config) -> Agent:
    """The TD3-family agent for `config` (a TD3Config or DDPGConfig), named `algo`."""
    validate(config, env, env_params)
    action_dim = int(env.action_space(env_params).shape[0])
    obs_dim = int(env.observation_space(env_params).shape[0])
    actor = DeterministicActor(action_dim, tuple(config.hidden_sizes), config.activation, config.layer_norm)
    critic = CriticEnsemble(config.num_critics, tuple(config.hidden_sizes), config.activation,
                            config.layer_norm)

    def optimizers(hp):
        return (off_policy.adam(hp["actor_lr"], hp["adam_eps"]),
                off_policy.adam(hp["critic_lr"], hp["adam_eps"]))

    def init(key, hp):
        actor_key, critic_key = jax.random.split(key)
        actor_params = actor.init(actor_key, jnp.zeros((obs_dim,)))
        critic_params = critic.init(critic_key, jnp.zeros((obs_dim,)), jnp.zeros((action_dim,)))
        actor_opt, critic_opt = optimizers(hp)
        return dict(actor=actor_params, critic=critic_params, target_actor=actor_params,
                    target_critic=critic_params, actor_opt=actor_opt.init(actor_params),
                    critic_opt=critic_opt.init(critic_params))

    def explore(learner, hp, obs, key):
        return gaussian_exploration(key, actor.apply(learner["actor"], obs), hp["exploration_noise"])

    def explore_with_process(learner, hp, obs, key, noise):
        return jnp.clip(actor.apply(learner["actor"], obs) + noise, -1.0, 1.0)

    def ou_noise_step(noise, first, hp, key):
        return ornstein_uhlenbeck_step(key, noise, first, hp["exploration_noise"], hp["ou_theta"], hp["ou_dt"])

    def learn_step(learner, batch, key, hp, step):
        actor_opt, critic_opt = optimizers(hp)
        obs, action = batch["obs"], batch["action"]

        # Critics, against the smoothed target policy.
        next_action = smoothed_target_actions(key, actor.apply(learner["target_actor"], batch["next_obs"]),
                                               hp["target_noise"], hp["target_noise_clip"])
        next_q = critic.apply(learner["target_critic"], batch["next_obs"], next_action).min(axis=0)
        targets = jax.lax.stop_gradient(td_targets(batch["reward"], batch["discount"], next_q))

        def critic_loss_fn(params):
            q = critic.apply(params, obs, action)  # (num_critics, B)
            return 0.5 * jnp.sum(jnp.mean(jnp.square(q - targets), axis=-1)), q.mean()

        (critic_loss, q_mean), grads = jax.value_and_grad(critic_loss_fn, has_aux=True)(learner["critic"])
        updates, critic_opt_state = critic_opt.update(grads, learner["critic_opt"])
        learner = {**learner, "critic": optax.apply_updates(learner["critic"], updates),
                   "critic_opt": critic_opt_state}

        # Every policy_delay-th step: the actor, against the first critic, then all targets.
        def delayed(learner):
            def actor_loss_fn(params):
                return -jnp.mean(critic.apply(learner["critic"], obs, actor.apply(params, obs))[0])

            loss, grads = jax.value_and_grad(actor_loss_fn)(learner["actor"])
            updates, actor_opt_state = actor_opt.update(grads, learner["actor_opt"])
            actor_params = optax.apply_updates(learner["actor"], updates)
            return {**learner, "actor": actor_params, "actor_opt": actor_opt_state,
                    "target_actor": soft_update(learner["target_actor"], actor_params, hp["tau"]),
                    "target_critic": soft_update(learner["target_critic"], learner["critic"], hp["tau"]),
                    }, loss

        def wait(learner):
            return learner, jnp.full((), jnp.nan, jnp.float32)

        if config.policy_delay == 1:
            learner, policy_loss = delayed(learner)
        else:
            learner, policy_loss = jax.lax.cond((step + 1) % config.policy_delay == 0, delayed, wait,
                                                learner)
        return learner, {"critic_loss": critic_loss, "actor_loss": policy_loss, "q_mean": q_mean}

    def policy_params(learner, hp):
        return {"actor": learner["actor"], "critic": learner["critic"],
                "exploration_noise": hp["exploration_noise"]}

    def act(params, obs, key, deterministic: bool = False):
        action = actor.apply(params["actor"], obs)
        if deterministic:
            return action
        return gaussian_exploration(key, action, params["exploration_noise"])

    def value(params, obs):
        """min_i Q_i(obs, mu(obs))."""
        return critic.apply(params["critic"], obs, actor.apply(params["actor"], obs)).min(axis=0)

    ou = config.exploration == "ou"
    learner = off_policy.Learner(init=init, explore=explore_with_process if ou else explore,
                                 learn_step=learn_step, policy_params=policy_params, act=act,
                                 value=value, noise_step=ou_noise_step if ou else None)
    return off_policy.build(algo, env, env_params, config, learner,
                            extras={"actor": actor, "critic": critic})


def make(env, env_params, config: TD3Config = TD3Config()) -> Agent:
    return build("td3", env, env_params, config)


Config = TD3Config
