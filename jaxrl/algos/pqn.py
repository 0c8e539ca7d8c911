"""PQN: parallelised Q-learning (Gallici et al., 2024, "Simplifying Deep Temporal Difference
Learning").

Q-learning without a replay buffer or a target network: many vectorised envs explore with
epsilon-greedy for `num_steps` steps; Q(lambda) targets are computed over that rollout with
the current network (`returns.lambda_returns` over `max_a Q(s'_t, a)`, bootstrapping
truncated episodes from Q(final_obs), not across episode ends); then `update_epochs` passes
of `num_minibatches` shuffled minibatches regress Q(s, a) onto the targets. LayerNorm in the
torso is what keeps this stable without a target network (the paper's analysis), so it is on
by default.

One `update` = one rollout + its learning phase; the replay ratio is `update_epochs`
(each collected transition is used that many times).

Read top to bottom: config, state, validate, make() -> init, targets, loss, learn, update,
act. The Q-network is `jaxrl.networks.QNetwork`, exploration `jaxrl.exploration`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl import config as cfg
from jaxrl import optim
from jaxrl.agent import Agent
from jaxrl.exploration import epsilon_greedy, epsilon_linear, greedy, masked_max
from jaxrl.networks import QNetwork, default_torso_kind, env_action_mask_fn
from jaxrl.returns import lambda_returns
from jaxrl.rollout import EnvBatch, collect, episode_metrics, reset_envs, shuffled_minibatches


@dataclasses.dataclass(frozen=True)
class PQNConfig:
    """PQN hyperparameters; the defaults solve CartPole-v1 (see tests/test_dqn.py).

    Static fields set shapes and switches (changing them recompiles); the fields in
    `TRACED` are carried as arrays in the train state and can be swept without recompiling.
    """

    total_steps: int = 500_000  # env steps per seed; also the learning-rate decay horizon
    # Shapes.
    num_envs: int = 32
    num_steps: int = 64  # rollout length per env per iteration
    num_minibatches: int = 16
    update_epochs: int = 4
    network: str = "auto"  # "mlp", "cnn" (MinAtar) or "auto" (cnn for image observations)
    hidden_sizes: tuple[int, ...] = (128, 128)
    activation: str = "relu"
    layer_norm: bool = True
    # Switches.
    anneal_lr: bool = True  # learning rate decays linearly to 0 over total_steps
    epsilon_decay_steps: int = 100_000  # env steps (per seed) of the linear epsilon decay
    # Traced numeric hyperparameters.
    learning_rate: float = 3e-4
    gamma: float = 0.99
    # 0.95: over 24 seeds x 500k steps every final evaluation was 500 (0.65: 2 of 24 ended
    # below 475, the policy collapsing late); docs/optimisation.md.
    q_lambda: float = 0.95
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    max_grad_norm: float = 10.0
    adam_eps: float = 1e-5
    reward_scale: float = 1.0  # rewards are multiplied by this before the targets

    TRACED = ("learning_rate", "gamma", "q_lambda", "epsilon_start", "epsilon_end",
              "max_grad_norm", "adam_eps", "reward_scale")


@struct.dataclass
class PQNState:
    params: Any
    opt_state: Any
    envs: EnvBatch
    key: jax.Array
    iteration: jax.Array
    env_steps: jax.Array
    hparams: dict[str, jax.Array]


def validate(config: PQNConfig, env, env_params) -> None:
    """Raise a ConfigError naming the field and the fix for a config that cannot work."""
    cfg.check_action_space(config, env.action_space(env_params), ("discrete",))
    cfg.check_positive(config, "total_steps", "num_envs", "num_steps", "num_minibatches",
                       "update_epochs", "epsilon_decay_steps", "learning_rate",
                       "max_grad_norm", "adam_eps", "reward_scale")
    cfg.check_unit_interval(config, "gamma", "q_lambda", "epsilon_start", "epsilon_end")
    batch = config.num_envs * config.num_steps
    cfg.check(batch % config.num_minibatches == 0, config, "num_minibatches",
              f"must divide the batch num_envs * num_steps = {batch}; "
              f"try one of {[d for d in range(1, min(batch, 64) + 1) if batch % d == 0]}")
    cfg.check(config.total_steps >= batch, config, "total_steps",
              f"must be at least one iteration, num_envs * num_steps = {batch}")
    cfg.check_network(config, env.observation_space(env_params).shape)


def make(env, env_params, config: PQNConfig = PQNConfig()) -> Agent:
    validate(config, env, env_params)
    obs_shape = tuple(env.observation_space(env_params).shape)
    num_actions = int(env.action_space(env_params).n)
    torso = default_torso_kind(obs_shape) if config.network == "auto" else config.network
    network = QNetwork(num_actions, torso, tuple(config.hidden_sizes), config.activation,
                       layer_norm=config.layer_norm, obs_ndim=len(obs_shape))
    steps_per_iteration = config.num_envs * config.num_steps
    num_iterations = config.total_steps // steps_per_iteration
    # Envs with an action mask (e.g. fab/...): masked actions are never chosen, and the
    # bootstrap maximum runs over the next observation's allowed actions only.
    mask_fn = env_action_mask_fn(env, env_params, obs_shape)

    def mask_of(obs):
        return None if mask_fn is None else mask_fn(obs)

    def optimizer(hp, iteration):
        lr = optim.linear_decay(hp["learning_rate"], iteration, num_iterations, config.anneal_lr)
        return optim.on_one_vector(optim.radam(lr, hp["max_grad_norm"], hp["adam_eps"]))

    def init(key, hparams=None) -> PQNState:
        hp = cfg.traced_hparams(config, hparams)
        key, net_key, env_key = jax.random.split(key, 3)
        params = network.init(net_key, jnp.zeros(obs_shape, jnp.float32))
        return PQNState(
            params=params, opt_state=optimizer(hp, 0).init(params),
            envs=reset_envs(env, env_params, env_key, config.num_envs), key=key,
            iteration=jnp.zeros((), jnp.int32), env_steps=jnp.zeros((), jnp.int32), hparams=hp,
        )

    def q_lambda_targets(params, traj, hp):
        """Q(lambda) targets `(T, N)` from one forward pass over every final observation."""
        next_q = masked_max(network.apply(params, traj.final_obs), mask_of(traj.final_obs))
        return lambda_returns(traj.reward * hp["reward_scale"], next_q, traj.terminated,
                              traj.truncated, hp["gamma"], hp["q_lambda"])

    def loss_fn(params, minibatch):
        q = network.apply(params, minibatch["obs"])
        q_taken = jnp.take_along_axis(q, minibatch["action"][:, None], axis=-1)[:, 0]
        td = q_taken - minibatch["target"]
        return 0.5 * jnp.mean(jnp.square(td)), {"q_mean": q_taken.mean(),
                                                "td_abs_mean": jnp.abs(td).mean()}

    def learn(state: PQNState, batch, key):
        """`update_epochs` x `num_minibatches` gradient steps on the rollout's targets."""
        tx = optimizer(state.hparams, state.iteration)

        def minibatch_step(carry, minibatch):
            params, opt_state = carry
            (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, minibatch)
            updates, opt_state = tx.update(grads, opt_state, params)
            stats = {"loss": loss, **aux, "grad_norm": optax.tree.norm(grads)}
            return (optax.apply_updates(params, updates), opt_state), stats

        def epoch(carry, epoch_key):
            return jax.lax.scan(minibatch_step, carry,
                                shuffled_minibatches(batch, epoch_key, config.num_minibatches))

        (params, opt_state), stats = jax.lax.scan(
            epoch, (state.params, state.opt_state), jax.random.split(key, config.update_epochs))
        return params, opt_state, jax.tree.map(jnp.mean, stats)

    def update(state: PQNState):
        hp = state.hparams
        key, rollout_key, learn_key = jax.random.split(state.key, 3)
        eps = epsilon_linear(state.env_steps, hp["epsilon_start"], hp["epsilon_end"],
                             config.epsilon_decay_steps)

        def policy(carry, obs, first, act_key):
            action = epsilon_greedy(act_key, network.apply(state.params, obs), eps, mask_of(obs))
            return carry, action, jnp.zeros(action.shape, jnp.float32)

        envs_, _, traj = collect(env, env_params, policy, None, state.envs, rollout_key,
                                 config.num_steps)
        targets = jax.lax.stop_gradient(q_lambda_targets(state.params, traj, hp))
        batch = {"obs": traj.obs, "action": traj.action, "target": targets}
        params, opt_state, stats = learn(state, batch, learn_key)
        state = state.replace(params=params, opt_state=opt_state, envs=envs_, key=key,
                              iteration=state.iteration + 1,
                              env_steps=state.env_steps + steps_per_iteration)
        return state, {**episode_metrics(traj), **stats, "epsilon": eps,
                       "target_mean": targets.mean()}

    def policy_params(state: PQNState):
        return {"network": state.params, "epsilon": state.hparams["epsilon_end"]}

    def act(policy_params, obs, key, deterministic: bool = False):
        q = network.apply(policy_params["network"], obs)
        if deterministic:
            return greedy(q, mask_of(obs))
        return epsilon_greedy(key, q, policy_params["epsilon"], mask_of(obs))

    def value(policy_params, obs):
        """Q-values `(..., num_actions)`."""
        return network.apply(policy_params["network"], obs)

    return Agent(
        algo="pqn", config=config, env=env, env_params=env_params, init=init, update=update,
        act=act, policy_params=policy_params, steps_per_iteration=steps_per_iteration,
        value=value, extras={"network": network, "q_lambda_targets": q_lambda_targets},
    )


Config = PQNConfig
