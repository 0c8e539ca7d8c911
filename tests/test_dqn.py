"""DQN: shared pure functions against NumPy, probe environments with known Q-values,
bad configurations, and (slow) CartPole learning."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
import jaxrl
from jaxrl import train
from jaxrl.algos import dqn
from jaxrl.config import ConfigError
from value_probes import PROBES, assert_learns, assert_probe, train_probe

# --------------------------------------------------------------------------------------
# Pure functions
# --------------------------------------------------------------------------------------


def test_epsilon_linear_matches_numpy():
    counts = np.array([0, 1, 250, 500, 999, 1000, 5000])
    got = np.asarray(jax.vmap(lambda c: dqn.epsilon_linear(c, 1.0, 0.05, 1000))(counts))
    want = 1.0 + np.clip(counts / 1000, 0, 1) * (0.05 - 1.0)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_epsilon_exponential_matches_numpy():
    counts = np.array([0, 1, 100, 1000, 3000, 100_000])
    got = np.asarray(jax.vmap(lambda c: dqn.epsilon_exponential(c, 1.0, 0.1, 1000))(counts))
    want = 0.1 + 0.9 * np.exp(-counts / 1000)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert got[0] == pytest.approx(1.0) and got[-1] == pytest.approx(0.1)


def _trees():
    rng = np.random.default_rng(0)
    target = {"w": rng.normal(size=(3, 2)).astype(np.float32), "b": rng.normal(size=2).astype(np.float32)}
    online = {"w": rng.normal(size=(3, 2)).astype(np.float32), "b": rng.normal(size=2).astype(np.float32)}
    return target, online


def test_hard_update_copies_only_on_interval_and_is_jittable():
    target, online = _trees()
    update = jax.jit(dqn.hard_update, static_argnums=3)
    for step in range(0, 12):
        got = update(target, online, jnp.int32(step), 4)
        want = online if step % 4 == 0 else target
        for key in target:
            np.testing.assert_array_equal(np.asarray(got[key]), want[key])


def test_soft_update_is_polyak_average():
    target, online = _trees()
    got = jax.jit(dqn.soft_update)(target, online, 0.1)
    for key in target:
        np.testing.assert_allclose(np.asarray(got[key]), 0.1 * online[key] + 0.9 * target[key], rtol=1e-6)
    same = dqn.soft_update(target, online, 1.0)
    np.testing.assert_allclose(np.asarray(same["w"]), online["w"])


def test_q_learning_and_double_targets_match_numpy():
    rng = np.random.default_rng(1)
    rewards = rng.normal(size=5).astype(np.float32)
    discounts = np.array([0.99, 0.0, 0.9801, 0.99, 0.5], np.float32)
    next_target = rng.normal(size=(5, 3)).astype(np.float32)
    next_online = rng.normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(dqn.q_learning_targets(rewards, discounts, next_target)),
        rewards + discounts * next_target.max(-1), rtol=1e-6)
    chosen = next_target[np.arange(5), next_online.argmax(-1)]
    np.testing.assert_allclose(
        np.asarray(dqn.double_q_learning_targets(rewards, discounts, next_target, next_online)),
        rewards + discounts * chosen, rtol=1e-6)


def test_td_losses():
    td = jnp.array([-3.0, -0.5, 0.0, 0.2, 2.0])
    np.testing.assert_allclose(np.asarray(dqn.td_loss(td, "mse")), 0.5 * np.asarray(td) ** 2)
    huber = np.where(np.abs(td) <= 1, 0.5 * np.asarray(td) ** 2, np.abs(td) - 0.5)
    np.testing.assert_allclose(np.asarray(dqn.td_loss(td, "huber")), huber, rtol=1e-6)


def test_epsilon_greedy_frequencies():
    q = jnp.tile(jnp.array([[0.0, 1.0, 0.5, -1.0]]), (20_000, 1))
    greedy = dqn.epsilon_greedy(jax.random.PRNGKey(0), q, 0.0)
    assert bool((greedy == 1).all())
    mixed = np.asarray(dqn.epsilon_greedy(jax.random.PRNGKey(1), q, 0.4))
    # P(greedy) = 1 - eps + eps / A = 0.7; every other action eps / A = 0.1.
    np.testing.assert_allclose(np.bincount(mixed, minlength=4) / len(mixed), [0.1, 0.7, 0.1, 0.1], atol=0.015)


# --------------------------------------------------------------------------------------
# Probes: Q-values with known answers. Behaviour is uniformly random (epsilon = 1), which
# Q-learning may do since it is off-policy: every action's value gets learned.
# --------------------------------------------------------------------------------------

PROBE_CONFIG = dqn.DQNConfig(
    total_steps=2400, num_envs=8, num_steps=1, buffer_size=1000, batch_size=64,
    learning_starts=64, gradient_steps=4, hidden_sizes=(32, 32), target_update_interval=25,
    epsilon_start=1.0, epsilon_end=1.0, learning_rate=5e-3, gamma=0.9,
)


@pytest.mark.parametrize("kind", sorted(PROBES))
def test_probe_q_values(kind):
    metrics = assert_probe(dqn, PROBE_CONFIG, kind)
    # No gradient step before learning_starts (64 env steps: 8 iterations of 8 envs).
    assert float(metrics["learning"][-1]) == 1.0 and float(metrics["learning"][0]) == 0.0


def test_probe_two_step_with_all_switches_flipped():
    # n-step windows spanning iterations (num_steps=1 < n_step), prioritized replay,
    # dueling head, soft targets, squared loss, exponential epsilon, no double.
    # (n-step windows ending in a truncation: test_rainbow_probes.)
    assert_probe(dqn, PROBE_CONFIG, "two-step", n_step=2, prioritized=True, dueling=True,
                 target_update="soft", tau=0.05, loss="mse", double=False,
                 epsilon_schedule="exponential")


# --------------------------------------------------------------------------------------
# Transitions, state and metrics
# --------------------------------------------------------------------------------------


def test_n_step_transitions_across_iterations_use_full_windows():
    # two-step with n_step=2 and one env step per iteration: from obs 0 the 2-step return
    # is 0 + gamma * 1 with discount 0 (the episode terminates inside the window); from
    # obs 1 it is 1 with discount 0. Cutting windows at the rollout end would instead
    # store 1-step transitions from obs 0 with discount gamma.
    config = dataclasses.replace(PROBE_CONFIG, n_step=2, num_envs=2)
    env, params = envs.make("probe/two-step")
    agent = dqn.make(env, params, config)
    state, _ = jax.jit(train(agent, 10))(jax.random.PRNGKey(0))
    data = jax.tree.map(np.asarray, state.buffer.data)
    size = int(state.buffer.size)
    assert size == 20 and int(state.env_steps) == 2 + 20  # 1 warm-up step per env
    obs, reward, discount = data["obs"][:size, 0], data["reward"][:size], data["discount"][:size]
    np.testing.assert_allclose(reward[obs == 0], 0.9, rtol=1e-6)
    np.testing.assert_allclose(reward[obs == 1], 1.0)
    np.testing.assert_array_equal(discount, 0.0)


def test_three_step_transitions_of_cartpole_line_up_in_the_buffer():
    # One env step per iteration, so every window spans three iterations (`pending`). Under
    # the initial epsilon every action is random and CartPole-v1 pays 1 per step: a full
    # window stores 1 + g + g^2 and bootstraps from the observation stored three slots later
    # for its env; a window cut by a termination after k steps stores 1 + ... + g^(k-1) with
    # discount 0.
    config = dqn.DQNConfig(num_envs=2, num_steps=1, n_step=3, learning_starts=10**6,
                           buffer_size=1024, batch_size=8, epsilon_decay_steps=10**6)
    env, params = envs.make("CartPole-v1")
    state, _ = jax.jit(train(dqn.make(env, params, config), 400))(jax.random.PRNGKey(3))
    data = jax.tree.map(np.asarray, state.buffer.data)
    g = config.gamma
    assert int(state.buffer.size) == 800
    for env_index in range(2):  # slot = iteration * num_envs + env
        obs, next_obs, reward, discount = (data[k][env_index:800:2]
                                           for k in ("obs", "next_obs", "reward", "discount"))
        full = np.isclose(discount, g**3)
        cut = discount == 0.0
        assert (full | cut).all() and 10 < cut.sum() < 200  # random play ends episodes often
        np.testing.assert_allclose(reward[full], 1 + g + g**2, rtol=1e-6)
        assert all(np.array_equal(next_obs[t], obs[t + 3]) for t in np.flatnonzero(full[:-3]))
        assert np.isclose(reward[cut][:, None], [1, 1 + g, 1 + g + g**2], rtol=1e-6).any(axis=1).all()


def test_metrics_are_scalars_and_epsilon_follows_schedule():
    env, params = envs.make("CartPole-v1")
    config = dqn.DQNConfig(num_envs=4, num_steps=2, learning_starts=16, epsilon_decay_steps=40,
                           batch_size=8, buffer_size=64)
    agent = dqn.make(env, params, config)
    _, metrics = jax.jit(train(agent, 6))(jax.random.PRNGKey(0))
    for name in ("episode_return", "episode_length", "episodes", "loss", "q_mean", "epsilon",
                 "grad_norm", "td_abs_mean"):
        assert metrics[name].shape == (6,), name
    counts = np.arange(6) * 8
    np.testing.assert_allclose(np.asarray(metrics["epsilon"]), 1.0 - 0.95 * np.minimum(counts / 40, 1),
                               rtol=1e-6)
    loss = np.asarray(metrics["loss"])
    assert (loss[:1] == 0).all() and (loss[2:] > 0).all()  # learning starts at 16 env steps


def test_traced_hyperparameters_do_not_recompile_and_seeds_are_deterministic():
    env, params = envs.make("CartPole-v1")
    agent = dqn.make(env, params, dqn.DQNConfig(num_envs=4, learning_starts=8, batch_size=8,
                                                buffer_size=64))
    fn = jax.jit(train(agent, 8))
    key = jax.random.PRNGKey(0)
    a = fn(key, {"learning_rate": 1e-4})[0].params
    b = fn(key, {"learning_rate": 1e-2})[0].params
    c = fn(key, {"learning_rate": 1e-4})[0].params
    assert fn._cache_size() == 1
    leaves = lambda t: [np.asarray(x) for x in jax.tree.leaves(t)]  # noqa: E731
    assert all(np.array_equal(x, y) for x, y in zip(leaves(a), leaves(c)))
    assert max(np.abs(x - y).max() for x, y in zip(leaves(a), leaves(b))) > 1e-4


# --------------------------------------------------------------------------------------
# Bad configurations fail before compiling, naming the field
# --------------------------------------------------------------------------------------


def test_continuous_env_is_rejected():
    env, params = envs.make("Pendulum-v1")
    with pytest.raises(ValueError, match=r"discrete action spaces.*Box.*Use sac, td3, ddpg"):
        dqn.make(env, params, dqn.DQNConfig())


@pytest.mark.parametrize("overrides, field", [
    ({"tau": 0.0}, "tau"),
    ({"tau": 1.5}, "tau"),
    ({"batch_size": 512, "buffer_size": 256}, "batch_size"),
    ({"buffer_size": 8, "batch_size": 4, "num_envs": 16}, "buffer_size"),
    ({"gamma": 1.2}, "gamma"),
    ({"n_step": 0}, "n_step"),
    ({"per_alpha": 1.5}, "per_alpha"),
    ({"per_alpha": -0.1}, "per_alpha"),
    ({"batch_size": 20_000}, "batch_size"),
    ({"loss": "l1"}, "loss"),
    ({"target_update": "sometimes"}, "target_update"),
    ({"learning_rate": -1e-3}, "learning_rate"),
    ({"distributional": True, "num_atoms": 1}, "num_atoms"),
    ({"distributional": True, "v_min": 1.0, "v_max": 0.0}, "v_max"),
    ({"noisy": True, "noisy_sigma": 0.0}, "noisy_sigma"),
    ({"noisy_torso": True}, "noisy_torso"),
])
def test_bad_config_raises_naming_the_field(overrides, field):
    env, params = envs.make("CartPole-v1")
    with pytest.raises(ConfigError, match=rf"DQNConfig\.{field}="):
        dqn.make(env, params, dqn.DQNConfig(**overrides))


# --------------------------------------------------------------------------------------
# Learning
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_dqn_solves_cartpole(tmp_path):
    env, params = envs.make("CartPole-v1")
    agent = dqn.make(env, params, dqn.DQNConfig())
    assert agent.config.total_steps <= 500_000
    result = jaxrl.run(agent, num_seeds=4, progress=False, logdir=tmp_path)
    assert result.summary["mean_return"] >= 475, result.summary


def test_annealed_learning_rate_reaches_zero_at_the_step_budget():
    # 16 envs, one env step each per iteration: the first gradient step is taken at
    # env_steps == total_steps == 32, where the annealed rate is 0.
    env, params = envs.make("CartPole-v1")
    shapes = dict(total_steps=32, num_envs=16, buffer_size=64, batch_size=16, learning_starts=32)
    moved = {}
    for anneal in (False, True):
        agent = dqn.make(env, params, dqn.DQNConfig(**shapes, anneal_lr=anneal))
        state = agent.init(jax.random.PRNGKey(0))
        first, _ = agent.update(state)
        second, metrics = agent.update(first)
        assert float(metrics["learning"]) == 1.0 and float(first.gradient_steps) == 0
        moved[anneal] = max(float(jnp.abs(a - b).max()) for a, b in
                            zip(jax.tree.leaves(first.params), jax.tree.leaves(second.params)))
    assert moved[False] > 1e-6 and moved[True] == 0.0


@pytest.mark.slow
def test_double_dueling_dqn_solves_cartpole(tmp_path):
    from jaxrl import presets

    # The CartPole-v1 preset with the dueling head, a 50k buffer, the learning rate
    # annealed to 0, 4 gradient steps per iteration (twice the preset's replay ratio),
    # learning from 10k env steps with epsilon decayed over 50k, and Polyak target updates
    # (tau 0.005) with a learning rate of 1.5e-4. DQN's final CartPole return swings between
    # evaluations, seeds and CPUs; this config was chosen over 16-seed sweeps
    # (`scripts/steps_to_threshold.py dqn CartPole-v1 --set dueling=true ... --full`, AMD EPYC
    # family 25 model 17): it ended at 500 on all 28 of seeds 8-35, and `jaxrl.run`'s 8 seeds
    # (root seed 0) at 483.2 (one seed at 365.4, the others 500). With hard target copies
    # every 50 gradient steps and the preset's 2.5e-4, the config this test used before, 5 of
    # seeds 0-15 ended below 475 (mean 437.9; 395.7 over the 4 seeds this test ran); Polyak
    # updates with 2.5e-4, 3 of seeds 8-23. 8 seeds, so one late collapse does not decide it.
    preset = presets.get("dqn", "CartPole-v1")
    config = preset.config(dueling=True, buffer_size=50_000, anneal_lr=True, gradient_steps=4,
                           learning_starts=10_000, epsilon_decay_steps=50_000,
                           target_update="soft", tau=0.005, learning_rate=1.5e-4)
    assert config.double and config.dueling and config.total_steps <= 500_000
    env, params = envs.make("CartPole-v1")
    result = jaxrl.run(dqn.make(env, params, config), num_seeds=8, progress=False, logdir=tmp_path)
    assert result.summary["mean_return"] >= 475, result.summary


@pytest.mark.slow
def test_rainbow_preset_solves_cartpole(tmp_path):
    from jaxrl import presets

    preset = presets.get("dqn", "CartPole-v1-rainbow")
    config = preset.config()
    assert config.distributional and config.noisy and config.prioritized and config.dueling
    assert config.n_step == 3 and config.total_steps <= 500_000
    env, params = envs.make("CartPole-v1")
    result = jaxrl.run(dqn.make(env, params, config), num_seeds=4, progress=False, logdir=tmp_path)
    assert result.summary["mean_return"] >= 475, result.summary


# --------------------------------------------------------------------------------------
# C51
# --------------------------------------------------------------------------------------


def _projection_reference(next_probs, rewards, discounts, support):
    """The classic floor/ceil loop: split each shifted atom's mass between its neighbours."""
    v_min, v_max = support[0], support[-1]
    delta = (v_max - v_min) / (len(support) - 1)
    out = np.zeros_like(next_probs, dtype=np.float64)
    for b in range(next_probs.shape[0]):
        for i, z in enumerate(support):
            tz = min(max(rewards[b] + discounts[b] * z, v_min), v_max)
            pos = (tz - v_min) / delta
            lo, hi = int(np.floor(pos)), int(np.ceil(pos))
            if lo == hi:
                out[b, lo] += next_probs[b, i]
            else:
                out[b, lo] += next_probs[b, i] * (hi - pos)
                out[b, hi] += next_probs[b, i] * (pos - lo)
    return out


def test_categorical_projection_matches_numpy_loop():
    rng = np.random.default_rng(0)
    support = np.linspace(-2.0, 3.0, 11).astype(np.float32)
    next_probs = rng.dirichlet(np.ones(11), size=6).astype(np.float32)
    rewards = np.array([0.0, 0.37, -1.0, 2.5, 10.0, 0.5], np.float32)  # 10: clipped at v_max
    discounts = np.array([0.9, 0.5, 0.0, 0.5, 0.9, 1.0], np.float32)  # 0: terminal
    got = np.asarray(dqn.categorical_projection(next_probs, rewards, discounts, support))
    want = _projection_reference(next_probs, rewards, discounts, support)
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)
    # Inside the support, linear interpolation preserves the mean of the target.
    inside = [0, 1, 2]  # targets within [v_min, v_max]; the others are clipped
    mean = (next_probs * (rewards[:, None] + discounts[:, None] * support)).sum(-1)
    np.testing.assert_allclose((got * support).sum(-1)[inside], mean[inside], atol=1e-4)


C51 = dict(distributional=True, num_atoms=31, v_min=-3.0, v_max=3.0)


def test_c51_probe_action_reward():
    # Cross-entropy concentrates the mass on one atom slowly, hence the looser tolerance
    # (a learner that ignores the action would give 0 for both).
    agent, p, _ = train_probe(dqn, PROBE_CONFIG, "action-reward", **C51)
    assert_learns(agent, p, "action-reward", atol=0.1)


def test_c51_probe_truncation():
    assert_probe(dqn, PROBE_CONFIG, "truncation", double=False, **C51)


# --------------------------------------------------------------------------------------
# Noisy nets and Rainbow
# --------------------------------------------------------------------------------------


def test_noisy_dense_mean_and_factorised_noise():
    layer = dqn.NoisyDense(3, sigma_0=0.5)
    x = jnp.array([[1.0, -2.0, 0.5, 0.0]])
    params = layer.init(jax.random.PRNGKey(0), x)["params"]
    assert params["sigma_w"].shape == (4, 3)
    np.testing.assert_allclose(np.asarray(params["sigma_w"]), 0.5 / 2.0)  # sigma_0 / sqrt(fan_in)
    mean = np.asarray(x @ params["mu_w"] + params["mu_b"])
    np.testing.assert_allclose(np.asarray(layer.apply({"params": params}, x)), mean, rtol=1e-6)
    key = jax.random.PRNGKey(3)
    noisy = np.asarray(layer.apply({"params": params}, x, rngs={"noise": key}))
    assert not np.allclose(noisy, mean)
    zero_sigma = {**params, "sigma_w": jnp.zeros((4, 3)), "sigma_b": jnp.zeros(3)}
    np.testing.assert_allclose(
        np.asarray(layer.apply({"params": zero_sigma}, x, rngs={"noise": key})), mean, rtol=1e-6)
    other = np.asarray(layer.apply({"params": params}, x, rngs={"noise": jax.random.PRNGKey(4)}))
    assert not np.allclose(noisy, other)


@pytest.mark.parametrize("torso, obs_shape, hidden", [("mlp", (4,), (16, 8)), ("cnn", (10, 10, 2), (8,))])
def test_noisy_torso_makes_every_dense_layer_noisy(torso, obs_shape, hidden):
    network = dqn.QNetwork(3, torso, hidden, dueling=True, noisy=True, noisy_sigma=0.5,
                           obs_ndim=len(obs_shape), noisy_torso=True)
    obs = jax.random.uniform(jax.random.PRNGKey(0), (5,) + obs_shape)
    params = network.init(jax.random.PRNGKey(1), obs)
    layers = jax.tree_util.tree_flatten_with_path(params)[0]
    noisy = {str(path[:-1]) for path, _ in layers if "sigma_w" in str(path[-1])}
    plain = {str(path[:-1]) for path, _ in layers if "'kernel'" in str(path[-1])}
    # Every dense layer of the torso and both dueling heads is noisy; only the CNN's
    # convolution (a dense layer over patches) keeps plain weights.
    assert len(noisy) == len(hidden) + 2 and len(plain) == (1 if torso == "cnn" else 0)
    mean = network.apply(params, obs)
    heads_only = dqn.QNetwork(3, torso, hidden, dueling=True, noisy=True, obs_ndim=len(obs_shape))
    assert "sigma_w" not in str(jax.tree_util.tree_flatten_with_path(
        heads_only.init(jax.random.PRNGKey(1), obs)["params"]["MLP_0" if torso == "mlp" else "MinAtarCNN_0"])[0])
    a, b = (network.apply(params, obs, rngs={"noise": jax.random.PRNGKey(k)}) for k in (2, 3))
    assert float(jnp.abs(a - b).max()) > 1e-4 and float(jnp.abs(a - mean).max()) > 1e-4
    # With every noise scale at zero the noisy network is its mean network.
    zero = jax.tree.map_with_path(
        lambda path, x: jnp.zeros_like(x) if "sigma" in str(path[-1]) else x, params)
    np.testing.assert_allclose(np.asarray(network.apply(zero, obs, rngs={"noise": jax.random.PRNGKey(2)})),
                               np.asarray(mean), rtol=1e-5, atol=1e-6)


def test_rainbow_config_and_noisy_acting():
    config = dqn.rainbow(num_envs=4, batch_size=8, buffer_size=64, learning_starts=8)
    assert config.noisy and config.distributional and config.dueling and config.prioritized
    assert config.n_step == 3 and config.epsilon_end == 0.0
    env, params = envs.make("CartPole-v1")
    agent = dqn.make(env, params, config)
    state, metrics = jax.jit(train(agent, 4))(jax.random.PRNGKey(0))
    assert np.isfinite(np.asarray(metrics["loss"])).all() and float(metrics["loss"][-1]) > 0
    p = agent.policy_params(state)
    obs = jnp.zeros((64, 4)) + jnp.linspace(-0.05, 0.05, 64)[:, None]
    act = jax.vmap(agent.act, in_axes=(None, 0, 0, None))
    keys = jax.random.split(jax.random.PRNGKey(1), 64)
    greedy = act(p, obs, keys, True)
    np.testing.assert_array_equal(np.asarray(greedy), np.asarray(act(p, obs, keys[::-1], True)))
    # Epsilon is 0: exploration comes only from the weight noise, which depends on the key;
    # without a key the mean weights give the greedy action's Q-values.
    q_values, support = agent.extras["q_values"], p["support"]
    mean_q = q_values(p["network"], obs, support)
    noisy_a = q_values(p["network"], obs, support, jax.random.PRNGKey(5))
    noisy_b = q_values(p["network"], obs, support, jax.random.PRNGKey(6))
    assert float(jnp.abs(noisy_a - noisy_b).max()) > 1e-3
    np.testing.assert_array_equal(np.asarray(greedy), np.asarray(mean_q.argmax(-1)))
    sampled = np.asarray(act(p, obs, keys, False))
    assert set(np.unique(sampled)) <= {0, 1}


@pytest.mark.parametrize("kind, gamma, obs, want", [
    ("two-step", 0.9, [0.0, 1.0], [[0.9, 0.9], [1.0, 1.0]]),
    ("truncation", 0.5, [0.0], [[2.0, 2.0]]),
])
def test_rainbow_probes(kind, gamma, obs, want):
    # The probe shapes and rates, with every Rainbow switch on; behaviour stays uniformly
    # random (epsilon 1) so both actions' values are learned.
    shapes = {k: v for k, v in dataclasses.asdict(PROBE_CONFIG).items() if k not in dqn.RAINBOW}
    config = dqn.rainbow(**{**shapes, **C51, "gamma": gamma, "epsilon_start": 1.0, "epsilon_end": 1.0})
    env, params = envs.make(f"probe/{kind}")
    agent = dqn.make(env, params, config)
    iterations = config.total_steps // agent.steps_per_iteration
    state, _ = jax.jit(train(agent, iterations))(jax.random.PRNGKey(0))
    got = np.asarray(agent.value(agent.policy_params(state), jnp.array(obs)[:, None]))
    np.testing.assert_allclose(got, want, atol=0.1)
