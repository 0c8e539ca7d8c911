"""PQN: Q(lambda) targets against the shared returns function, probe environments with
known Q-values (including discounting and truncation vs termination), bad input, traced
hyperparameters, and the CartPole learning test."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
import jaxrl
from jaxrl import config as cfg
from jaxrl.algos import pqn
from jaxrl.train import train
from value_probes import PROBES, assert_probe

PROBE_CONFIG = pqn.PQNConfig(
    total_steps=8 * 8 * 60, num_envs=8, num_steps=8, num_minibatches=4, update_epochs=4,
    hidden_sizes=(32, 32), epsilon_start=1.0, epsilon_end=1.0, learning_rate=1e-2,
    anneal_lr=False, gamma=0.9, q_lambda=0.65,
)


@pytest.mark.parametrize("kind", sorted(PROBES))
def test_probe_q_values(kind):
    assert_probe(pqn, PROBE_CONFIG, kind)


def test_targets_are_lambda_returns_of_max_q_at_final_observations():
    env, params = envs.make("CartPole-v1")
    agent = pqn.make(env, params, dataclasses.replace(PROBE_CONFIG, total_steps=64 * 4))
    state = agent.init(jax.random.PRNGKey(1))
    from jaxrl.rollout import collect

    def random_policy(carry, obs, first, key):
        return carry, jax.random.randint(key, obs.shape[:1], 0, 2), jnp.zeros(obs.shape[:1])

    _, _, traj = collect(env, params, random_policy, None, state.envs, jax.random.PRNGKey(2), 30)
    hp = state.hparams
    got = np.asarray(agent.extras["q_lambda_targets"](state.params, traj, hp))
    # NumPy backward recursion over each env stream.
    next_q = np.asarray(agent.extras["network"].apply(state.params, traj.final_obs)).max(-1)
    reward, term = np.asarray(traj.reward), np.asarray(traj.terminated)
    done = term | np.asarray(traj.truncated)
    gamma, lam = float(hp["gamma"]), float(hp["q_lambda"])
    want = np.zeros_like(reward)
    tail = next_q[-1]
    for t in reversed(range(reward.shape[0])):
        tail = np.where(done[t] | (t == reward.shape[0] - 1), next_q[t], (1 - lam) * next_q[t] + lam * tail)
        want[t] = reward[t] + gamma * (1 - term[t]) * tail
        tail = want[t]
    assert done.any()  # the window crossed episode ends
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_traced_hyperparameters_do_not_recompile_and_seeds_are_deterministic():
    env, params = envs.make("probe/two-step")
    agent = pqn.make(env, params, PROBE_CONFIG)
    program = jax.jit(jax.vmap(train(agent, 3), in_axes=(0, {"learning_rate": 0, "q_lambda": 0})))
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    hp = {"learning_rate": jnp.array([1e-3, 1e-2]), "q_lambda": jnp.array([0.0, 0.9])}
    first, _ = program(keys, hp)
    again, _ = program(keys, hp)
    assert program._cache_size() == 1
    chex_equal = jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), first.params, again.params)
    assert all(jax.tree.leaves(chex_equal))
    w0, w1 = (jax.tree.leaves(jax.tree.map(lambda x: x[i], first.params))[0] for i in range(2))
    assert not np.allclose(w0, w1)


def test_continuous_env_is_rejected():
    env, params = envs.make("Pendulum-v1")
    with pytest.raises(cfg.ConfigError, match=r"discrete action spaces.*Box.*Use sac, td3, ddpg"):
        pqn.make(env, params, pqn.PQNConfig())


@pytest.mark.parametrize("overrides, field", [
    ({"num_minibatches": 7}, "num_minibatches"),
    ({"q_lambda": 1.5}, "q_lambda"),
    ({"learning_rate": -1.0}, "learning_rate"),
    ({"network": "cnn"}, "network"),
    ({"total_steps": 10}, "total_steps"),
])
def test_bad_config_raises_naming_the_field(overrides, field):
    env, params = envs.make("CartPole-v1")
    with pytest.raises(cfg.ConfigError, match=f"PQNConfig.{field}="):
        pqn.make(env, params, dataclasses.replace(pqn.PQNConfig(), **overrides))


@pytest.mark.slow
def test_pqn_solves_cartpole(tmp_path):
    env, params = envs.make("CartPole-v1")
    agent = pqn.make(env, params, pqn.PQNConfig())
    assert agent.config.total_steps <= 500_000
    result = jaxrl.run(agent, num_seeds=4, progress=False, logdir=tmp_path)
    assert result.summary["mean_return"] >= 475, result.summary
