"""SAC, TD3 and DDPG: pure functions against NumPy references, a temperature probe, the
replay targets (truncation vs termination), action rescaling and bad configurations; gSDE
(SAC's, PPO's) against NumPy, its noise statistics, reset points and rollouts.
Learning on Pendulum and Brax is in tests/test_learning_continuous.py (slow)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import envs
from jaxrl import algos
from jaxrl.algos import ddpg, off_policy, sac, td3
from jaxrl.config import ConfigError
from jaxrl.control import run_if

# --------------------------------------------------------------------------------------
# Tanh-squashed Gaussian
# --------------------------------------------------------------------------------------


def _reference_log_prob(mean, log_std, u):
    """float64 NumPy: log N(u; mean, std) - sum log(1 - tanh(u)^2), with
    log(1 - tanh(u)^2) = log 4 - 2|u| - 2 log1p(exp(-2|u|)) (exact for any u)."""
    mean, log_std, u = (np.asarray(x, np.float64) for x in (mean, log_std, u))
    std = np.exp(log_std)
    gauss = -0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * np.log(2 * np.pi)
    log_det = np.log(4.0) - 2 * np.abs(u) - 2 * np.log1p(np.exp(-2 * np.abs(u)))
    return (gauss - log_det).sum(-1)


def test_tanh_gaussian_log_prob_matches_numpy_including_near_the_bounds():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(6, 3)).astype(np.float32)
    log_std = rng.uniform(-2, 1, size=(6, 3)).astype(np.float32)
    u = rng.normal(size=(6, 3)).astype(np.float32) * 2
    # Rows 3-5 push the pre-squash action far out: tanh(u) rounds to +-1 in float32, where a
    # naive log(1 - tanh(u)^2) is -inf.
    u[3] = [9.0, -9.5, 12.0]
    u[4] = [20.0, -25.0, 30.0]
    mean[4] = [20.0, -25.0, 30.0]
    u[5] = [-40.0, 40.0, 0.0]
    got = np.asarray(sac.tanh_gaussian_log_prob(mean, log_std, u))
    want = _reference_log_prob(mean, log_std, u)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
    assert np.all(np.abs(np.tanh(u[4].astype(np.float32))) == 1.0)  # really at the bound


def test_sampled_actions_are_squashed_and_their_log_prob_matches_numpy():
    mean = jnp.array([[0.3, -0.2], [0.0, 0.5]] * 50)
    log_std = jnp.full(mean.shape, -0.7)
    action, log_prob = sac.sample_tanh_gaussian(jax.random.PRNGKey(0), mean, log_std)
    action = np.asarray(action, np.float64)
    assert np.all(np.abs(action) < 1)
    u = np.arctanh(action)  # moderate std: far from the bounds, so atanh is accurate
    np.testing.assert_allclose(np.asarray(log_prob), _reference_log_prob(mean, log_std, u),
                               rtol=1e-3, atol=1e-3)
    # Near the bounds (huge means) the sampled log-prob stays finite.
    _, far = sac.sample_tanh_gaussian(jax.random.PRNGKey(1), jnp.full((8, 2), 30.0), jnp.zeros((8, 2)))
    assert np.all(np.isfinite(np.asarray(far)))


def test_tanh_gaussian_agrees_with_distrax():
    """The hand-written squashed Gaussian (sac.py says why) against distrax's Transformed
    MultivariateNormalDiag + Tanh: same log-density for given pre-squash actions, and the same
    samples and log-probabilities from the same key, under jit and vmap."""
    import distrax

    rng = np.random.default_rng(1)
    mean = jnp.asarray(rng.normal(size=(5, 7, 3)), jnp.float32)
    log_std = jnp.asarray(rng.uniform(-3, 1, size=(5, 7, 3)), jnp.float32)
    u = jnp.asarray(rng.normal(size=(5, 7, 3)) * 3, jnp.float32)

    def reference(mean, log_std):
        base = distrax.MultivariateNormalDiag(mean, jnp.exp(log_std))
        return distrax.Transformed(base, distrax.Block(distrax.Tanh(), ndims=1))

    want = reference(mean, log_std)
    np.testing.assert_allclose(np.asarray(sac.tanh_gaussian_log_prob(mean, log_std, u)),
                               np.asarray(want.distribution.log_prob(u) - want.bijector.forward_log_det_jacobian(u)),
                               rtol=1e-5, atol=1e-4)
    keys = jax.random.split(jax.random.PRNGKey(2), 5)
    got_action, got_log_prob = jax.jit(jax.vmap(sac.sample_tanh_gaussian))(keys, mean, log_std)
    want_action, want_log_prob = jax.vmap(lambda k, m, s: reference(m, s).sample_and_log_prob(seed=k))(
        keys, mean, log_std)
    np.testing.assert_allclose(np.asarray(got_action), np.asarray(want_action), rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(got_log_prob), np.asarray(want_log_prob), rtol=1e-5, atol=1e-4)


# --------------------------------------------------------------------------------------
# Temperature
# --------------------------------------------------------------------------------------


def test_temperature_loss_gradient_is_entropy_minus_target():
    log_prob = jnp.array([-0.5, 1.0, 0.2])
    grad = jax.grad(sac.temperature_loss)(jnp.float32(0.3), log_prob, -2.0)
    entropy = -float(log_prob.mean())
    assert float(grad) == pytest.approx(entropy - (-2.0), rel=1e-6)


@pytest.mark.parametrize("target_per_dim,init_alpha", [(-1.0, 1.0), (-1.0, 0.001), (-2.5, 0.1)])
def test_temperature_drives_entropy_to_its_target_on_a_probe(target_per_dim, init_alpha):
    """A state-independent 2-D tanh-Gaussian policy maximises a quadratic Q peaked at a=0.3
    plus alpha times its entropy, with alpha tuned by the temperature loss. Whether alpha
    starts too high or too low, the policy's entropy ends near the target."""
    dim, target = 2, target_per_dim * 2
    q = lambda a: -5.0 * jnp.sum(jnp.square(a - 0.3), axis=-1)  # noqa: E731
    params = {"mean": jnp.zeros(dim), "log_std": jnp.zeros(dim), "log_alpha": jnp.log(init_alpha)}
    opt = optax.adam(1e-2)

    def step(carry, key):
        params, opt_state = carry

        def loss(p):
            mean = jnp.broadcast_to(p["mean"], (512, dim))
            log_std = jnp.broadcast_to(p["log_std"], (512, dim))
            action, log_prob = sac.sample_tanh_gaussian(key, mean, log_std)
            alpha = jax.lax.stop_gradient(jnp.exp(p["log_alpha"]))
            return (sac.actor_loss(alpha, log_prob, q(action))
                    + sac.temperature_loss(p["log_alpha"], jax.lax.stop_gradient(log_prob), target)), -log_prob.mean()

        (_, entropy), grads = jax.value_and_grad(loss, has_aux=True)(params)
        updates, opt_state = opt.update(grads, opt_state)
        return (optax.apply_updates(params, updates), opt_state), entropy

    keys = jax.random.split(jax.random.PRNGKey(0), 3000)
    _, entropies = jax.jit(lambda p: jax.lax.scan(step, (p, opt.init(p)), keys))(params)
    final = float(np.mean(np.asarray(entropies)[-300:]))
    assert abs(final - target) < 0.25, (final, target)


# --------------------------------------------------------------------------------------
# gSDE: state-dependent exploration (SAC, PPO, A2C)
# --------------------------------------------------------------------------------------


def _gsde_reference(eps, mean, latent, log_std):
    """float64 NumPy: pre-squash u = mean + latent @ (exp(log_std) * eps) (eps one matrix or
    one per row), the action tanh(u) and its log-probability under N(mean, std(s)) with
    std(s)^2 = latent^2 @ exp(log_std)^2 + 1e-6, minus the tanh's log-Jacobian."""
    eps, mean, latent, log_std = (np.asarray(x, np.float64) for x in (eps, mean, latent, log_std))
    weights = np.exp(log_std) * eps
    noise = latent @ weights if eps.ndim == 2 else np.einsum("nl,nla->na", latent, weights)
    u = mean + noise
    state_log_std = 0.5 * np.log(latent ** 2 @ np.exp(log_std) ** 2 + 1e-6)
    return np.tanh(u), _reference_log_prob(mean, state_log_std, u)


@pytest.mark.parametrize("per_row", [False, True])
def test_gsde_sample_and_log_prob_match_numpy(per_row):
    rng = np.random.default_rng(0)
    n, latent_dim, action_dim = 6, 5, 2
    mean = rng.normal(size=(n, action_dim)).astype(np.float32)
    latent = rng.normal(size=(n, latent_dim)).astype(np.float32)
    log_std = rng.uniform(-2.0, 0.5, size=(latent_dim, action_dim)).astype(np.float32)
    eps_shape = (n, latent_dim, action_dim) if per_row else (latent_dim, action_dim)
    eps = rng.normal(size=eps_shape).astype(np.float32)
    action, log_prob = jax.jit(sac.sample_gsde)(eps, mean, latent, log_std)
    want_action, want_log_prob = _gsde_reference(eps, mean, latent, log_std)
    np.testing.assert_allclose(np.asarray(action), want_action, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(log_prob), want_log_prob, rtol=1e-4, atol=1e-4)


def test_gsde_log_std_is_the_spread_of_the_noise_over_fresh_matrices():
    """Over many noise matrices, `latent @ W` at a fixed state has the std `gsde_log_std`
    gives (the Gaussian the losses score actions under is the one exploration draws from),
    and a state twice as far from zero gets twice the spread."""
    from jaxrl.exploration import gsde_log_std

    latent = jnp.array([[0.5, -1.0, 2.0], [1.0, -2.0, 4.0]])
    log_std = jnp.array([[-1.0, 0.0], [-0.5, -2.0], [0.3, -1.0]])
    eps = jax.random.normal(jax.random.PRNGKey(0), (20000, 3, 2))
    noise = jax.vmap(lambda e: latent @ (jnp.exp(log_std) * e))(eps)  # (draws, 2 states, A)
    spread = np.asarray(noise).std(axis=0)
    np.testing.assert_allclose(spread, np.exp(np.asarray(gsde_log_std(latent, log_std))), rtol=0.03)
    np.testing.assert_allclose(spread[1], 2 * spread[0], rtol=1e-3)


def _gsde_agent(**changes):
    env, params = envs.make("Pendulum-v1")
    config = sac.SACConfig(num_envs=3, num_steps=6, buffer_size=64, batch_size=32, learning_starts=0,
                           hidden_sizes=(8, 2), activation="tanh", exploration="gsde", **changes)
    return sac.make(env, params, config)


@pytest.mark.parametrize("sample_freq,fresh_steps", [(-1, {0, 6}), (4, {0, 4, 6, 10}), (1, set(range(12)))])
def test_gsde_draws_a_new_noise_matrix_only_at_its_reset_points(sample_freq, fresh_steps):
    """One matrix per env held through each 6-step iteration (-1), or renewed every
    `sde_sample_freq` steps counted from the iteration's start, as Stable-Baselines3 does."""
    learner = _gsde_agent(sde_sample_freq=sample_freq).extras["learner"]
    noise = learner.noise_init(3)
    assert noise["eps"].shape == (3, 2, 1)  # (envs, latent = last hidden layer, actions)
    first = jnp.zeros(3, bool)
    step = jax.jit(learner.noise_step)
    # Two vmapped seeds (the draw is a `run_if`), each with its own keys.
    seeds = jax.jit(jax.vmap(learner.noise_step, in_axes=(0, None, None, 0)))
    both = jax.tree.map(lambda x: jnp.stack([x, x]), noise)
    for t in range(12):
        new = step(noise, first, None, jax.random.PRNGKey(t))
        changed = np.asarray(new["eps"] != noise["eps"])
        assert changed.all() if t in fresh_steps else not changed.any(), t
        noise = new
        new_both = seeds(both, first, None, jax.random.split(jax.random.PRNGKey(100 + t), 2))
        changed = np.asarray(new_both["eps"] != both["eps"])
        assert changed.all() if t in fresh_steps else not changed.any(), t
        assert np.all(np.asarray(new_both["eps"][0] != new_both["eps"][1]))
        both = new_both


def _worst_single_matrix_residual(latent, deviation):
    """How far the deviations from the mean, `(T, N)` for T steps of N envs with one action,
    are from `latent @ w` for a single w per env (`latent` `(T, N, L)`, L < T): the largest
    least-squares residual relative to the deviations' scale, over envs. ~0 when each env
    held one noise matrix through the T steps."""
    latent, deviation = np.asarray(latent, np.float64), np.asarray(deviation, np.float64)
    worst = 0.0
    for env_index in range(deviation.shape[1]):
        a, b = latent[:, env_index], deviation[:, env_index]
        w, *_ = np.linalg.lstsq(a, b, rcond=None)
        worst = max(worst, np.abs(a @ w - b).max() / np.abs(b).max())
    return worst


def test_gsde_explores_with_one_matrix_per_env_through_an_iteration():
    """The actions a gSDE SAC agent takes: with a 2-unit latent, the pre-squash deviations
    from the mean over one env's 6 steps are `latent(s) @ w` for a single w (a consistent
    6 x 2 linear system), which fails once the matrix is renewed mid-iteration."""
    residuals = {}
    for sample_freq in (-1, 3):
        agent = _gsde_agent(sde_sample_freq=sample_freq)
        state = jax.jit(agent.init)(jax.random.PRNGKey(1))
        state, _ = jax.jit(agent.update)(state)  # 18 transitions, fewer than a batch: no learning
        obs = np.asarray(state.buffer.data["obs"][:18]).reshape(6, 3, -1)  # (step, env, obs)
        action = np.asarray(state.buffer.data["action"][:18], np.float64).reshape(6, 3)
        mean, latent, _ = agent.extras["actor"].apply(state.learner["actor"], jnp.asarray(obs))
        deviation = np.arctanh(np.clip(action, -1 + 1e-7, 1 - 1e-7)) - np.asarray(mean, np.float64)[..., 0]
        residuals[sample_freq] = _worst_single_matrix_residual(latent, deviation)
    assert residuals[-1] < 1e-3 and residuals[3] > 1e-2, residuals


def _ppo_gsde_agent(**changes):
    from jaxrl.algos import ppo

    env, params = envs.make("Pendulum-v1")
    config = ppo.PPOConfig(num_envs=3, num_steps=6, num_minibatches=2, hidden_sizes=(8, 2),
                           exploration="gsde", init_log_std=-1.0, **changes)
    return ppo.make(env, params, config)


def test_ppo_gsde_rollout_holds_one_matrix_per_env_and_scores_its_actions():
    """PPO's gSDE rollout: unclipped actions deviate from the mean by `z(s) @ w` with one w
    per env through the rollout (renewed every 3 steps with sde_sample_freq=3), and the
    stored log-probabilities are the policy's own for those actions."""
    from jaxrl.algos.ppo import ActorCritic
    from jaxrl.rollout import collect

    residuals = {}
    for sample_freq in (-1, 3):
        agent = _ppo_gsde_agent(sde_sample_freq=sample_freq)
        state = jax.jit(agent.init)(jax.random.PRNGKey(2))
        network = agent.extras["network"]
        policy = agent.extras["rollout_policy"](state.params, None)
        _, noise, traj = jax.jit(lambda s: collect(agent.env, agent.env_params, policy, s.hidden, s.envs,
                                                   jax.random.PRNGKey(3), 6))(state)
        assert int(noise["steps"]) == 6
        dist, latent = network.apply(state.params, traj.obs, method=ActorCritic.policy_and_latent)
        np.testing.assert_allclose(np.asarray(traj.log_prob), np.asarray(dist.log_prob(traj.action)),
                                   rtol=1e-5, atol=1e-5)
        deviation = np.asarray(traj.action - dist.mode(), np.float64)[..., 0]
        residuals[sample_freq] = _worst_single_matrix_residual(latent, deviation)
    assert residuals[-1] < 1e-3 and residuals[3] > 1e-2, residuals


def test_ppo_gsde_std_follows_the_state_and_does_not_train_the_torso():
    """The policy's std is `gsde_log_std(z(s), log_std)` per state; its entropy has a
    gradient in `log_std` only (the torso's output enters it held fixed)."""
    from jaxrl.algos.ppo import ActorCritic
    from jaxrl.exploration import gsde_log_std

    agent = _ppo_gsde_agent()
    state = agent.init(jax.random.PRNGKey(0))
    network = agent.extras["network"]
    obs = jax.random.normal(jax.random.PRNGKey(1), (5, 3))
    dist, latent = network.apply(state.params, obs, method=ActorCritic.policy_and_latent)
    want = np.exp(np.asarray(gsde_log_std(latent, state.params["params"]["log_std"])))
    np.testing.assert_allclose(np.asarray(dist.scale), want, rtol=1e-6)
    assert np.ptp(np.asarray(dist.scale)) > 0  # state-dependent
    grads = jax.grad(lambda p: network.apply(p, obs, method=ActorCritic.policy).entropy().sum())(state.params)
    assert float(jnp.abs(grads["params"]["log_std"]).sum()) > 0
    torso = [leaf for path, leaf in jax.tree_util.tree_leaves_with_path(grads["params"])
             if "actor_torso" in jax.tree_util.keystr(path)]
    assert torso and all(float(jnp.abs(g).max()) == 0 for g in torso)
    # An update logs the noise matrix's mean std (SB3's train/std) after it.
    state, metrics = jax.jit(agent.update)(state)
    np.testing.assert_allclose(float(metrics["sde_std"]), float(jnp.exp(state.params["params"]["log_std"]).mean()),
                               rtol=1e-6)


def test_ppo_gsde_is_validated():
    from jaxrl.algos import ppo

    with pytest.raises(ConfigError, match="recurrent"):
        _ppo_gsde_agent(recurrent=True)
    env, params = envs.make("CartPole-v1")
    with pytest.raises(ConfigError, match="exploration"):
        ppo.make(env, params, ppo.PPOConfig(exploration="gsde"))
    with pytest.raises(ConfigError, match="sde_sample_freq=-2"):
        _ppo_gsde_agent(sde_sample_freq=-2)


def test_gsde_starts_at_log_std_init_and_is_validated():
    agent = _gsde_agent(log_std_init=-3.67)
    state = jax.jit(agent.init)(jax.random.PRNGKey(0))
    np.testing.assert_allclose(np.asarray(state.learner["actor"]["params"]["log_std"]), -3.67)
    env, params = envs.make("Pendulum-v1")
    with pytest.raises(ConfigError, match="exploration='ou': must be 'gaussian' or 'gsde'"):
        sac.make(env, params, sac.SACConfig(exploration="ou"))
    with pytest.raises(ConfigError, match="sde_sample_freq=0"):
        sac.make(env, params, sac.SACConfig(exploration="gsde", sde_sample_freq=0))


# --------------------------------------------------------------------------------------
# TD3 target smoothing, exploration, action rescaling
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("noise_std,clip", [(0.2, 0.5), (5.0, 0.3), (0.0, 0.5)])
def test_td3_target_smoothing_stays_inside_the_clip(noise_std, clip):
    actions = jnp.linspace(-1.0, 1.0, 4001).reshape(-1, 1) * jnp.ones((1, 3))
    smoothed = np.asarray(td3.smoothed_target_actions(jax.random.PRNGKey(0), actions, noise_std, clip))
    deviation = np.abs(smoothed - np.asarray(actions))
    assert np.all(deviation <= clip + 1e-6)
    assert np.all(np.abs(smoothed) <= 1.0)
    if noise_std == 0:
        np.testing.assert_array_equal(smoothed, np.asarray(actions))
    else:
        assert deviation.max() > 0.9 * min(clip, 2 * noise_std)  # the noise is really there
    if noise_std > clip:  # wide noise: interior actions move by exactly the clip
        interior = np.abs(np.asarray(actions)) < 1 - clip
        assert np.isclose(deviation[interior], clip, atol=1e-6).mean() > 0.9


def test_ornstein_uhlenbeck_step_matches_numpy_and_restarts_at_episode_starts():
    from jaxrl.exploration import ornstein_uhlenbeck_step

    key = jax.random.PRNGKey(3)
    noise = jnp.array([[0.4, -0.2], [1.0, 0.5], [-0.3, 0.0]])
    first = jnp.array([False, True, False])
    got = np.asarray(jax.jit(ornstein_uhlenbeck_step)(key, noise, first, 0.5, 0.15, 0.01))
    eps = np.asarray(jax.random.normal(key, noise.shape), np.float64)
    start = np.where(np.asarray(first)[:, None], 0.0, np.asarray(noise, np.float64))
    want = start - 0.15 * start * 0.01 + 0.5 * np.sqrt(0.01) * eps
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got[1], 0.5 * 0.1 * eps[1], rtol=1e-5)  # restarted from 0


def test_ornstein_uhlenbeck_noise_is_correlated_with_the_stationary_variance():
    # The AR(1) recursion x' = (1 - theta dt) x + sigma sqrt(dt) eps has stationary variance
    # sigma^2 / (2 theta - theta^2 dt) and lag-1 correlation 1 - theta dt.
    from jaxrl.exploration import ornstein_uhlenbeck_step

    sigma, theta, dt, envs_, steps = 0.5, 1.0, 0.01, 2048, 2000
    first = jnp.zeros(envs_, bool)

    def step(noise, key):
        new = ornstein_uhlenbeck_step(key, noise, first, sigma, theta, dt)
        return new, new[:, 0]

    _, path = jax.jit(lambda keys: jax.lax.scan(step, jnp.zeros((envs_, 1)), keys))(
        jax.random.split(jax.random.PRNGKey(0), steps))
    path = np.asarray(path, np.float64)[1000:]  # past ten time constants: stationary
    np.testing.assert_allclose(path.var(), sigma ** 2 / (2 * theta - theta ** 2 * dt), rtol=0.05)
    lag1 = np.mean(path[1:] * path[:-1]) / path.var()
    np.testing.assert_allclose(lag1, 1 - theta * dt, atol=0.01)


@pytest.mark.parametrize("module", [td3, ddpg])
def test_ou_exploration_is_carried_across_iterations_and_gaussian_keeps_none(module):
    env, params = envs.make("Pendulum-v1")
    tiny = dict(buffer_size=256, batch_size=16, learning_starts=16, hidden_sizes=(8,), num_envs=2)
    gaussian = module.make(env, params, module.Config(**tiny))
    ou = module.make(env, params, module.Config(**tiny, exploration="ou", exploration_noise=0.5))
    for agent, carried in ((gaussian, False), (ou, True)):
        state = jax.jit(agent.init)(jax.random.PRNGKey(0))
        assert state.exploration.shape == (2, 1)
        update = jax.jit(agent.update)
        state, _ = update(state)
        after_one = np.asarray(state.exploration)
        state, _ = update(state)
        if carried:  # Pendulum episodes last 200 steps: no restart between these two
            assert np.all(after_one != 0) and np.all(np.asarray(state.exploration) != after_one)
            step = 0.5 * np.sqrt(0.01)  # one OU increment's scale
            assert np.max(np.abs(np.asarray(state.exploration) - after_one)) < 5 * step
        else:
            assert np.all(after_one == 0) and np.all(np.asarray(state.exploration) == 0)


def test_unknown_exploration_is_rejected():
    env, params = envs.make("Pendulum-v1")
    with pytest.raises(ConfigError, match="exploration='pink': must be 'gaussian' or 'ou'"):
        td3.make(env, params, td3.TD3Config(exploration="pink"))
    with pytest.raises(ConfigError, match="ou_dt"):
        td3.make(env, params, td3.TD3Config(exploration="ou", ou_dt=0.0))


def test_action_rescaling_maps_the_unit_cube_onto_the_box_exactly():
    low = np.array([-2.0, 0.1, -7.3, -1e-3], np.float32)
    high = np.array([2.0, 0.9, 1.1, 5e3], np.float32)
    ones = np.ones(4, np.float32)
    np.testing.assert_array_equal(np.asarray(off_policy.scale_action(-ones, low, high)), low)
    np.testing.assert_array_equal(np.asarray(off_policy.scale_action(ones, low, high)), high)
    a = np.random.default_rng(0).uniform(-1, 1, size=(100, 4)).astype(np.float32)
    scaled = np.asarray(off_policy.scale_action(a, low, high))
    assert np.all((scaled >= low) & (scaled <= high))
    np.testing.assert_allclose(scaled, low + (a + 1) / 2 * (high - low), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(np.asarray(off_policy.unscale_action(scaled, low, high)), a, atol=1e-4)
    # The agents act in the env's units: Pendulum's torque box is [-2, 2].
    env, params = envs.make("Pendulum-v1")
    agent = sac.make(env, params, sac.SACConfig(buffer_size=1000))
    np.testing.assert_array_equal(np.asarray(agent.extras["scale_action"](jnp.array([-1.0]))), [-2.0])
    np.testing.assert_array_equal(np.asarray(agent.extras["scale_action"](jnp.array([1.0]))), [2.0])


# --------------------------------------------------------------------------------------
# Replay targets: truncated episodes bootstrap from the final observation, terminated don't
# --------------------------------------------------------------------------------------


def _collect(agent, iterations):
    state = agent.init(jax.random.PRNGKey(0))
    run = jax.jit(lambda s: jax.lax.scan(lambda c, _: agent.update(c), s, None, length=iterations))
    return run(state)[0]


def test_run_if_skips_the_branch_under_vmap_unless_some_seed_needs_it():
    """The gradient steps' conditional: like `lax.cond` for one seed, and under `vmap` the
    true branch runs once when any seed's predicate holds (kept only for those seeds) and not
    at all when none does, where a vmapped cond would run it every time."""
    ran = []

    def double(x):
        jax.debug.callback(lambda: ran.append(1))
        return 2.0 * x

    one = jax.jit(lambda p, x: run_if(p, double, lambda x: x, x))
    assert float(one(True, 3.0)) == 6.0 and float(one(False, 3.0)) == 3.0
    seeds = jax.jit(jax.vmap(lambda p, x: run_if(p, double, lambda x: x, x)))
    x = jnp.array([3.0, 4.0])
    ran.clear()
    np.testing.assert_array_equal(seeds(jnp.array([False, False]), x), [3.0, 4.0])
    assert not ran
    np.testing.assert_array_equal(seeds(jnp.array([False, True]), x), [3.0, 8.0])
    assert ran
    # Nested (hyperparameters x seeds): each level skips or selects on its own.
    grid = jax.jit(jax.vmap(jax.vmap(lambda p, x: run_if(p, double, lambda x: x, x))))
    ran.clear()
    np.testing.assert_array_equal(grid(jnp.zeros((2, 2), bool), x.reshape(1, 2) + jnp.zeros((2, 1))),
                                  [[3.0, 4.0], [3.0, 4.0]])
    assert not ran
    np.testing.assert_array_equal(grid(jnp.array([[True, False], [False, False]]), jnp.array([[3.0, 4.0], [5.0, 6.0]])),
                                  [[6.0, 4.0], [5.0, 6.0]])
    assert ran


def test_truncated_pendulum_episodes_bootstrap_from_their_final_observation():
    env, params = envs.make("Pendulum-v1")  # never terminates; truncated after 200 steps
    config = td3.TD3Config(num_envs=1, buffer_size=512, batch_size=8, learning_starts=10_000,
                           hidden_sizes=(8,), gamma=0.97)
    state = _collect(td3.make(env, params, config), 250)
    data = jax.tree.map(np.asarray, state.buffer.data)
    size = int(state.buffer.size)
    np.testing.assert_allclose(data["discount"][:size], 0.97, rtol=1e-6)  # every step bootstraps
    # Within an episode next_obs is the next step's obs; at the time limit (step 199) it is
    # the last observation of the finished episode, not the reset observation.
    np.testing.assert_allclose(data["next_obs"][:198], data["obs"][1:199], rtol=1e-6)
    assert not np.allclose(data["next_obs"][199], data["obs"][200])
    cos_sin = data["next_obs"][199][:2]
    assert np.isclose(np.sum(cos_sin ** 2), 1.0, atol=1e-4)  # a real pendulum state
    # Actions are stored in [-1, 1] (unscaled from the env's [-2, 2]).
    assert np.all(np.abs(data["action"][:size]) <= 1.0) and np.abs(data["action"][:size]).max() > 0.5


def test_terminated_episodes_do_not_bootstrap():
    env, params = envs.make("probe/action-reward-continuous")  # every step terminates
    config = sac.SACConfig(num_envs=4, buffer_size=64, batch_size=8, learning_starts=10_000,
                           hidden_sizes=(8,))
    state = _collect(sac.make(env, params, config), 10)
    assert int(state.buffer.size) == 40
    np.testing.assert_array_equal(np.asarray(state.buffer.data["discount"][:40]), 0.0)


# --------------------------------------------------------------------------------------
# Bad input: clear errors before compiling
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sac", "td3", "ddpg"])
def test_discrete_env_is_rejected(name):
    algo = algos.get(name)
    env, params = envs.make("CartPole-v1")
    with pytest.raises(ConfigError, match=r"continuous.*Discrete.*Use dqn, pqn, ppo"):
        algo.make(env, params, algo.Config())


@pytest.mark.parametrize("name", ["sac", "td3", "ddpg"])
@pytest.mark.parametrize("tau", [0.0, -0.1, 1.5])
def test_tau_outside_unit_interval_is_rejected(name, tau):
    algo = algos.get(name)
    env, params = envs.make("Pendulum-v1")
    with pytest.raises(ConfigError, match=r"tau=.*\(0, 1\]"):
        algo.make(env, params, algo.Config(tau=tau))


@pytest.mark.parametrize("module", [td3, ddpg])
def test_policy_delay_below_one_is_rejected(module):
    env, params = envs.make("Pendulum-v1")
    with pytest.raises(ConfigError, match="policy_delay=0: must be >= 1"):
        module.make(env, params, module.Config(policy_delay=0))


def test_other_bad_fields_name_the_field():
    env, params = envs.make("Pendulum-v1")
    with pytest.raises(ConfigError, match="batch_size"):
        sac.make(env, params, sac.SACConfig(buffer_size=100, batch_size=256))
    with pytest.raises(ConfigError, match="init_alpha"):
        sac.make(env, params, sac.SACConfig(init_alpha=0.0))
    with pytest.raises(ConfigError, match="critic_lr"):
        td3.make(env, params, td3.TD3Config(critic_lr=-1e-3))


def test_ddpg_is_td3_with_one_critic_no_delay_no_smoothing():
    config = ddpg.DDPGConfig()
    assert (config.num_critics, config.policy_delay, config.target_noise) == (1, 1, 0.0)
    env, params = envs.make("Pendulum-v1")
    agent = ddpg.make(env, params, ddpg.DDPGConfig(buffer_size=1000, hidden_sizes=(8,)))
    state = jax.jit(agent.init)(jax.random.PRNGKey(0))
    kernel = state.learner["critic"]["params"]["VmapContinuousQ_0"]
    assert jax.tree.leaves(kernel)[0].shape[0] == 1  # one critic
    assert agent.algo == "ddpg"


@pytest.mark.parametrize("module", [td3, ddpg, sac])
def test_layer_norm_makes_a_fresh_actor_blind_to_the_observation_scale(module):
    # Why the Brax presets turn it on: unnormalised observations 100x larger give the plain
    # actor 100x larger pre-tanh outputs (it saturates at the action bounds), while with
    # LayerNorm (zero biases at initialisation) the hidden features, so the actions, are the same.
    # (SAC's actor gives the Gaussian's mean and log std: both must be unmoved.)
    env, params = envs.make("Pendulum-v1")
    obs = jnp.array([[0.6, -0.8, 0.3], [-0.1, 0.99, -2.0]])
    actions = {}
    for layer_norm in (False, True):
        agent = module.make(env, params, module.Config(buffer_size=1000, hidden_sizes=(16, 16),
                                                       layer_norm=layer_norm))
        state = jax.jit(agent.init)(jax.random.PRNGKey(0))
        actor = agent.extras["actor"]
        actions[layer_norm] = [np.asarray(actor.apply(state.learner["actor"], scale * obs))
                               for scale in (1.0, 100.0)]
        critic_params = state.learner["critic"]["params"]["VmapContinuousQ_0"]["MLP_0"]
        assert ("LayerNorm_0" in critic_params) == layer_norm
    np.testing.assert_allclose(actions[True][0], actions[True][1], atol=1e-5)
    assert np.max(np.abs(actions[False][1] - actions[False][0])) > 1e-2
