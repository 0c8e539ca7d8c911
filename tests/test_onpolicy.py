"""The policy-gradient family: REINFORCE, A2C, PPO's KL-penalty objective, recurrent PPO; the
minibatch shuffle (`jaxrl.rollout.permutation`)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats as st

import envs
from jaxrl import config as cfg
from jaxrl import losses, train
from jaxrl.algos import a2c, ppo, reinforce
from jaxrl.algos.reinforce import complete_episode_mask
from jaxrl.rollout import collect, permutation


def test_complete_episode_mask_against_reference():
    rng = np.random.default_rng(0)
    terminated = rng.random((30, 3)) < 0.1
    truncated = (rng.random((30, 3)) < 0.05) & ~terminated
    mask = np.asarray(complete_episode_mask(jnp.asarray(terminated), jnp.asarray(truncated)))
    done = terminated | truncated
    for i in range(3):
        last_end = np.flatnonzero(done[:, i]).max() if done[:, i].any() else -1
        expected = np.arange(30) <= last_end  # everything up to the last episode end
        np.testing.assert_array_equal(mask[:, i], expected)


def test_adaptive_kl_coefficient_rule():
    beta = jnp.asarray(1.0)
    assert float(losses.adapt_kl_coef(beta, kl=0.05, kl_target=0.01)) == 2.0  # KL too high: rise
    assert float(losses.adapt_kl_coef(beta, kl=0.001, kl_target=0.01)) == 0.5  # too low: fall
    assert float(losses.adapt_kl_coef(beta, kl=0.01, kl_target=0.01)) == 1.0  # in band: keep


@pytest.mark.parametrize("target,direction", [(1e-6, "rises"), (10.0, "falls")])
def test_ppo_kl_coefficient_follows_measured_kl(target, direction):
    env, params = envs.make("CartPole-v1")
    agent = ppo.make(env, params, ppo.PPOConfig(objective="kl", kl_target=target, num_envs=4,
                                                num_steps=32, num_minibatches=2))
    _, metrics = jax.jit(train(agent, 4))(jax.random.PRNGKey(0))
    coef = np.asarray(metrics["kl_coef"])
    if direction == "rises":
        assert np.all(np.diff(coef) > 0) and coef[-1] == pytest.approx(2.0 ** 4)
    else:
        assert np.all(np.diff(coef) < 0) and coef[-1] == pytest.approx(0.5 ** 4)


def test_recurrent_hidden_state_resets_at_dones_and_replays_identically():
    env, env_params = envs.make("CartPole-v1", hide_velocity=True)
    config = ppo.PPOConfig(recurrent=True, num_envs=4, num_steps=64, num_minibatches=2, rnn_size=16,
                           hidden_sizes=(16,))
    agent = ppo.make(env, env_params, config)
    state = agent.init(jax.random.PRNGKey(0))
    state, _ = jax.jit(agent.update)(state)  # so the carried hidden state is not all zeros
    policy = agent.extras["rollout_policy"](state.params, state.obs_stats)

    def recording_policy(carry, obs, first, key):
        hidden, step, record = carry
        entering = jnp.where(first[:, None], 0.0, hidden)
        hidden, action, log_prob = policy(hidden, obs, first, key)
        return (hidden, step + 1, record.at[step].set(entering)), action, log_prob

    record = jnp.zeros((64, 4, 32))  # [actor, critic] hidden states
    _, (_, _, record), traj = jax.jit(lambda s: collect(
        env, env_params, recording_policy, (s.hidden, 0, record), s.envs, jax.random.PRNGKey(1), 64))(state)
    first = np.asarray(traj.first)
    assert first[1:].sum() >= 4, "the rollout should contain episode boundaries"
    assert np.abs(np.asarray(state.hidden)).max() > 0
    # Zeroed exactly where an episode starts, and only there (GRU states are never exactly 0).
    entering = np.asarray(record)
    np.testing.assert_array_equal(np.abs(entering).max(-1) == 0, first)
    # Replaying each minibatch of whole sequences reproduces hidden states and log-probs.
    for envs_in_minibatch in ([0, 2], [3, 1]):
        idx = jnp.array(envs_in_minibatch)
        dists, _, _, hiddens = agent.extras["unroll"](
            state.params, state.hidden[idx], traj.obs[:, idx], traj.first[:, idx], traj.final_obs[:, idx])
        np.testing.assert_allclose(hiddens, entering[:, envs_in_minibatch], atol=1e-5)
        np.testing.assert_allclose(dists.log_prob(traj.action[:, idx]), traj.log_prob[:, idx], atol=1e-5)


def test_hide_velocity_observes_positions_only():
    env, params = envs.make("CartPole-v1", hide_velocity=True)
    full, full_params = envs.make("CartPole-v1")
    obs, _ = env.reset(jax.random.PRNGKey(0), params)
    full_obs, _ = full.reset(jax.random.PRNGKey(0), full_params)
    np.testing.assert_array_equal(obs, full_obs[jnp.array([0, 2])])
    assert env.observation_space(params).shape == (2,)
    with pytest.raises(ValueError, match="hide_velocity"):
        envs.make("Breakout-MinAtar", hide_velocity=True)


def test_mlp_trains_on_flattened_image_observations():
    # network=mlp on MinAtar flattens each (10, 10, 4) image into 400 features; it used to
    # reach gymnax as a per-pixel action batch and fail an assertion there.
    env, params = envs.make("Breakout-MinAtar")
    agent = ppo.make(env, params, ppo.PPOConfig(network="mlp", hidden_sizes=(16,), total_steps=64,
                                                num_envs=2, num_steps=8, num_minibatches=2,
                                                update_epochs=1))
    state = agent.init(jax.random.PRNGKey(0))
    first = jax.tree.leaves(state.params)
    state, metrics = jax.jit(agent.update)(state)
    assert all(np.isfinite(float(v)) for v in jax.tree.leaves(metrics))
    assert any(not np.array_equal(a, b) for a, b in zip(first, jax.tree.leaves(state.params)))
    obs, _ = env.reset(jax.random.PRNGKey(1), params)
    action = agent.act(agent.policy_params(state), obs, jax.random.PRNGKey(2), deterministic=True)
    assert action.shape == () and 0 <= int(action) < 3


def test_recurrent_minibatch_split_that_cuts_sequences_is_rejected():
    env, params = envs.make("CartPole-v1")
    with pytest.raises(ValueError, match="num_minibatches.*cut sequences"):
        ppo.make(env, params, ppo.PPOConfig(recurrent=True, num_envs=4, num_minibatches=3))


@pytest.mark.parametrize("module", [ppo, a2c, reinforce])
def test_negative_entropy_coefficient_is_rejected(module):
    env, params = envs.make("CartPole-v1")
    with pytest.raises(ValueError, match="ent_coef"):
        module.make(env, params, cfg.apply_overrides(module.Config(), {"ent_coef": -0.01}))


def test_a2c_rmsprop_and_reinforce_run_and_report_metrics():
    env, params = envs.make("CartPole-v1")
    agent = a2c.make(env, params, a2c.A2CConfig())
    _, metrics = jax.jit(train(agent, 20))(jax.random.PRNGKey(0))
    assert np.all(np.isfinite(np.asarray(metrics["policy_loss"])))
    agent = reinforce.make(env, params, reinforce.REINFORCEConfig(num_envs=2, num_steps=100))
    _, metrics = jax.jit(train(agent, 3))(jax.random.PRNGKey(0))
    # CartPole episodes under a random policy are short: most steps belong to complete ones.
    assert 0.5 < float(metrics["complete_fraction"][0]) <= 1.0


def test_a2c_gsde_carries_its_noise_and_scales_rewards():
    env, params = envs.make("Pendulum-v1")
    config = a2c.A2CConfig(num_envs=3, num_steps=4, hidden_sizes=(16, 8), exploration="gsde",
                           sde_sample_freq=2, scale_rewards=True)
    agent = a2c.make(env, params, config)
    state = agent.init(jax.random.PRNGKey(0))
    assert state.exploration["eps"].shape == (3, 8, 1) and state.params["params"]["log_std"].shape == (8, 1)
    update = jax.jit(agent.update)
    state, _ = update(state)
    first = np.asarray(state.exploration["eps"])
    state, metrics = update(state)
    assert int(state.exploration["steps"]) == 8 and np.all(first != 0)
    assert np.all(np.asarray(state.exploration["eps"]) != first)  # renewed in the next rollout
    assert float(state.reward_stats.count) == pytest.approx(2 * 3 * 4, rel=1e-3)
    assert np.isfinite(float(metrics["policy_loss"]))
    # The logged std of the noise matrix is the parameter's, after this update.
    np.testing.assert_allclose(float(metrics["sde_std"]), float(jnp.exp(state.params["params"]["log_std"]).mean()),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="gSDE perturbs continuous actions"):
        a2c.make(*envs.make("CartPole-v1"), a2c.A2CConfig(exploration="gsde"))


@pytest.mark.parametrize("size", [1, 7, 512, 2049, 5000])
def test_permutation_is_a_permutation_under_jit_and_vmap(size):
    keys = jax.random.split(jax.random.PRNGKey(size), 3)
    orders = np.asarray(jax.jit(jax.vmap(lambda k: permutation(k, size)))(keys))
    assert orders.dtype == np.int32
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.arange(size))
    if size > 7:
        assert len({tuple(o[:16]) for o in orders}) == 3  # keys give different shuffles


@pytest.mark.parametrize("size", [8, 3000])  # one sorting round; two rounds
def test_permutation_is_uniform(size):
    """Chi-square: the element at each of 8 positions (size 8), or the bin of the first
    element (size 3000, ten bins), is uniform over 4000 shuffles."""
    keys = jax.random.split(jax.random.PRNGKey(0), 4000)
    orders = np.asarray(jax.jit(jax.vmap(lambda k: permutation(k, size)))(keys))
    if size == 8:
        counts = np.stack([np.bincount(orders[:, position], minlength=8) for position in range(8)])
        for row in counts:
            assert st.chisquare(row).pvalue > 1e-4, counts
    else:
        counts = np.bincount(orders[:, 0] * 10 // size, minlength=10)
        assert st.chisquare(counts).pvalue > 1e-4, counts
