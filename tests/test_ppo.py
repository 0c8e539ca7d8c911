"""PPO: probe environments with known answers, determinism, and the contract."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.probes import make_probe
from jaxrl import train
from jaxrl.algos import ppo

# One small shape for every probe, so they share compiled programs where they can.
PROBE_CONFIG = ppo.PPOConfig(
    total_steps=8 * 16 * 150, num_envs=8, num_steps=16, num_minibatches=2, update_epochs=4,
    hidden_sizes=(32, 32), learning_rate=3e-3, anneal_lr=False, ent_coef=0.0,
    clip_value_loss=False, gamma=0.9,
)


def _train_probe(kind, config=PROBE_CONFIG, seed=0):
    env, params = make_probe(kind)
    env = envs.standard_wrappers(env, params)
    agent = ppo.make(env, params, config)
    iterations = config.total_steps // agent.steps_per_iteration
    state, metrics = jax.jit(train(agent, iterations))(jax.random.PRNGKey(seed))
    return agent, agent.policy_params(state), metrics


def _value(agent, policy_params, obs):
    return float(agent.value(policy_params, jnp.array([obs], jnp.float32)))


def test_probe_constant_reward_value_is_one():
    agent, p, _ = _train_probe("constant-reward")
    assert _value(agent, p, 0.0) == pytest.approx(1.0, abs=0.05)


def test_probe_observation_dependent_value():
    agent, p, _ = _train_probe("observation-reward")
    assert _value(agent, p, 1.0) == pytest.approx(1.0, abs=0.1)
    assert _value(agent, p, -1.0) == pytest.approx(-1.0, abs=0.1)


def test_probe_two_step_discounting():
    agent, p, _ = _train_probe("two-step")
    assert _value(agent, p, 1.0) == pytest.approx(1.0, abs=0.1)
    assert _value(agent, p, 0.0) == pytest.approx(PROBE_CONFIG.gamma, abs=0.1)


def test_probe_action_dependent_reward_learns_policy_and_value():
    agent, p, _ = _train_probe("action-reward")
    obs = jnp.zeros(1)
    actions = jax.vmap(lambda k: agent.act(p, obs, k))(jax.random.split(jax.random.PRNGKey(1), 500))
    assert float(actions.mean()) > 0.95
    assert int(agent.act(p, obs, jax.random.PRNGKey(2), deterministic=True)) == 1
    assert _value(agent, p, 0.0) == pytest.approx(1.0, abs=0.15)


def test_probe_continuous_action_mean_moves_to_optimum():
    config = PROBE_CONFIG.__class__(**{**PROBE_CONFIG.__dict__, "total_steps": 8 * 16 * 300})
    agent, p, _ = _train_probe("action-reward-continuous", config)
    action = agent.act(p, jnp.zeros(1), jax.random.PRNGKey(0), deterministic=True)
    assert float(action[0]) == pytest.approx(0.5, abs=0.1)


def test_probe_truncation_bootstraps_from_final_observation():
    # Reward 1 forever, cut by a 1-step time limit: V = 1 / (1 - gamma) = 10, not 1.
    agent, p, _ = _train_probe("truncation")
    assert _value(agent, p, 0.0) == pytest.approx(10.0, rel=0.15)


def test_same_seed_same_parameters_and_different_seed_differs():
    env, params = envs.make("CartPole-v1")
    agent = ppo.make(env, params, ppo.PPOConfig(num_envs=4, num_steps=32, num_minibatches=2))
    run_a = jax.jit(train(agent, 3))(jax.random.PRNGKey(7))[0].params
    run_b = jax.jit(train(agent, 3))(jax.random.PRNGKey(7))[0].params
    run_c = jax.jit(train(agent, 3))(jax.random.PRNGKey(8))[0].params
    for a, b in zip(jax.tree.leaves(run_a), jax.tree.leaves(run_b)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert any(
        not np.array_equal(np.asarray(a), np.asarray(c))
        for a, c in zip(jax.tree.leaves(run_a), jax.tree.leaves(run_c))
    )


def test_traced_hyperparameters_do_not_recompile_and_change_the_result():
    env, params = envs.make("CartPole-v1")
    agent = ppo.make(env, params, ppo.PPOConfig(num_envs=4, num_steps=32, num_minibatches=2))
    fn = jax.jit(train(agent, 2))
    key = jax.random.PRNGKey(0)
    low = fn(key, {"learning_rate": 1e-4})[0].params
    high = fn(key, {"learning_rate": 1e-2})[0].params
    assert fn._cache_size() == 1
    diffs = [float(jnp.abs(a - b).max()) for a, b in zip(jax.tree.leaves(low), jax.tree.leaves(high))]
    assert max(diffs) > 1e-4
    # vmap over a whole sweep of learning rates in one program.
    lrs = jnp.array([1e-4, 1e-3, 1e-2])
    sweep = jax.jit(jax.vmap(lambda lr: train(agent, 2)(key, {"learning_rate": lr})[1]["learning_rate"]))(lrs)
    np.testing.assert_allclose(sweep[:, 0], lrs, rtol=1e-6)


def test_metrics_are_scalars_per_iteration():
    env, params = envs.make("CartPole-v1")
    agent = ppo.make(env, params, ppo.PPOConfig(num_envs=4, num_steps=32, num_minibatches=2))
    _, metrics = jax.jit(train(agent, 3))(jax.random.PRNGKey(0))
    for name in ("episode_return", "episodes", "policy_loss", "value_loss", "entropy",
                 "approx_kl", "grad_norm", "learning_rate"):
        assert metrics[name].shape == (3,), name
    # Annealing: the learning rate decreases linearly from its initial value.
    lr = np.asarray(metrics["learning_rate"])
    assert lr[0] == pytest.approx(agent.config.learning_rate) and lr[1] < lr[0]


def test_continuous_policy_stores_unclipped_actions_and_env_clips():
    env, params = envs.make("Pendulum-v1")
    agent = ppo.make(env, params, ppo.PPOConfig(num_envs=4, num_steps=32, num_minibatches=2, init_log_std=1.5))
    state = agent.init(jax.random.PRNGKey(0))
    p = agent.policy_params(state)
    actions = jax.vmap(lambda k: agent.act(p, state.envs.obs[0], k))(jax.random.split(jax.random.PRNGKey(0), 256))
    high = env.action_space(params).high
    assert float(jnp.abs(actions).max()) > float(np.max(high))  # the sample is unclipped ...
    _, metrics = jax.jit(train(agent, 1))(jax.random.PRNGKey(0))  # ... and the env accepts it
    assert np.isfinite(float(metrics["policy_loss"][0]))


def test_observation_normalisation_and_reward_scaling_live_in_the_state():
    env, params = envs.make("Pendulum-v1")
    config = ppo.PPOConfig(num_envs=4, num_steps=32, num_minibatches=2,
                           normalize_observations=True, scale_rewards=True)
    agent = ppo.make(env, params, config)
    state, _ = jax.jit(train(agent, 2))(jax.random.PRNGKey(0))
    assert float(state.obs_stats.count) == pytest.approx(2 * 4 * 32, rel=1e-3)
    assert float(state.reward_stats.var) != 1.0
    assert state.running_returns.shape == (4,)
