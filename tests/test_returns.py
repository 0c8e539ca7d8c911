"""GAE and discounted returns against straightforward NumPy loops, under jit and vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.returns import discounted_returns, gae, lambda_returns


def gae_reference(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Textbook loop over one stream: bootstraps from next_values unless terminated and
    restarts the recursion at every episode end."""
    T = len(rewards)
    advantages = np.zeros(T)
    running = 0.0
    for t in reversed(range(T)):
        bootstrap = 0.0 if terminated[t] else gamma * next_values[t]
        delta = rewards[t] + bootstrap - values[t]
        if terminated[t] or truncated[t]:
            running = delta
        else:
            running = delta + gamma * lam * running
        advantages[t] = running
    return advantages, advantages + values


def returns_reference(rewards, next_values, terminated, truncated, gamma):
    T = len(rewards)
    out = np.zeros(T)
    tail = next_values[-1]
    for t in reversed(range(T)):
        if terminated[t]:
            tail = 0.0
        elif truncated[t] or t == T - 1:
            tail = next_values[t]
        out[t] = rewards[t] + gamma * tail
        tail = out[t]
    return out


def _stream(seed, T, kind):
    rng = np.random.default_rng(seed)
    rewards = rng.normal(size=T).astype(np.float32)
    values = rng.normal(size=T).astype(np.float32)
    next_values = rng.normal(size=T).astype(np.float32)
    terminated = np.zeros(T, bool)
    truncated = np.zeros(T, bool)
    if kind in ("terminated", "mixed"):
        terminated[[3, 11]] = True
    if kind in ("truncated", "mixed"):
        truncated[[6, 15]] = True
    return rewards, values, next_values, terminated, truncated


@pytest.mark.parametrize("kind", ["none", "terminated", "truncated", "mixed"])
def test_gae_matches_numpy_reference(kind):
    rewards, values, next_values, terminated, truncated = _stream(0, 20, kind)
    gamma, lam = 0.97, 0.9
    adv, ret = jax.jit(gae)(rewards, values, next_values, terminated, truncated, gamma, lam)
    ref_adv, ref_ret = gae_reference(rewards, values, next_values, terminated, truncated, gamma, lam)
    np.testing.assert_allclose(adv, ref_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ret, ref_ret, rtol=1e-5, atol=1e-5)


def test_gae_truncation_bootstraps_but_termination_does_not():
    # One step, reward 1, V(s)=0, V(final_obs)=10.
    args = (jnp.ones(1), jnp.zeros(1), jnp.full(1, 10.0))
    adv_trunc, _ = gae(*args, jnp.array([False]), jnp.array([True]), 0.9, 0.95)
    adv_term, _ = gae(*args, jnp.array([True]), jnp.array([False]), 0.9, 0.95)
    assert float(adv_trunc[0]) == pytest.approx(1.0 + 0.9 * 10.0)
    assert float(adv_term[0]) == pytest.approx(1.0)


def test_gae_vmaps_over_env_axis_like_batched_call():
    streams = [_stream(s, 16, "mixed") for s in range(3)]
    stacked = [np.stack(x, axis=1) for x in zip(*streams)]  # (T, 3)
    batched, _ = gae(*stacked, 0.99, 0.95)
    mapped, _ = jax.vmap(gae, in_axes=(1, 1, 1, 1, 1, None, None), out_axes=1)(*stacked, 0.99, 0.95)
    np.testing.assert_allclose(batched, mapped, rtol=1e-6)
    for i, stream in enumerate(streams):
        ref, _ = gae_reference(*stream, 0.99, 0.95)
        np.testing.assert_allclose(batched[:, i], ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["none", "terminated", "truncated", "mixed"])
def test_discounted_returns_matches_reference(kind):
    rewards, _, next_values, terminated, truncated = _stream(1, 20, kind)
    out = jax.jit(discounted_returns)(rewards, next_values, terminated, truncated, 0.9)
    np.testing.assert_allclose(out, returns_reference(rewards, next_values, terminated, truncated, 0.9),
                               rtol=1e-5, atol=1e-5)


def test_gae_with_lambda_one_equals_discounted_returns():
    rewards, values, next_values, terminated, truncated = _stream(2, 20, "mixed")
    # Within an episode the next state's value is the next step's value.
    done = terminated | truncated
    for t in range(len(values) - 1):
        if not done[t]:
            next_values[t] = values[t + 1]
    _, ret = gae(rewards, values, next_values, terminated, truncated, 0.95, 1.0)
    np.testing.assert_allclose(
        ret, discounted_returns(rewards, next_values, terminated, truncated, 0.95), rtol=1e-4, atol=1e-4
    )


def lambda_returns_forward_view(rewards, next_values, terminated, truncated, gamma, lam):
    """The forward-view definition: a (1 - lambda)-weighted mix of n-step returns, the
    longest window ending at the episode's end or the batch's end taking the rest."""
    T = len(rewards)
    out = np.zeros(T)
    for t in range(T):
        end = t  # last step of the window
        while end < T - 1 and not (terminated[end] or truncated[end]):
            end += 1
        mixture = 0.0
        for n in range(1, end - t + 2):
            last = t + n - 1
            n_step = sum(gamma ** k * rewards[t + k] for k in range(n))
            if not terminated[last]:
                n_step += gamma ** n * next_values[last]
            weight = lam ** (n - 1) if last == end else (1 - lam) * lam ** (n - 1)
            mixture += weight * n_step
        out[t] = mixture
    return out


@pytest.mark.parametrize("kind", ["none", "terminated", "truncated", "mixed"])
@pytest.mark.parametrize("lam", [0.0, 0.65, 1.0])
def test_lambda_returns_match_forward_view(kind, lam):
    rewards, _, next_values, terminated, truncated = _stream(3, 20, kind)
    out = jax.jit(lambda_returns)(rewards, next_values, terminated, truncated, 0.9, lam)
    ref = lambda_returns_forward_view(rewards, next_values, terminated, truncated, 0.9, lam)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_lambda_returns_vmap_over_envs_and_lambdas():
    streams = [_stream(s, 18, "mixed") for s in range(3)]
    rewards, _, next_values, terminated, truncated = [np.stack(x, axis=1) for x in zip(*streams)]
    lams = jnp.array([0.0, 0.5, 0.9])
    per_lambda = jax.vmap(lambda lam: lambda_returns(rewards, next_values, terminated, truncated, 0.99, lam))
    out = jax.jit(per_lambda)(lams)  # (3 lambdas, T, 3 envs)
    for i, lam in enumerate([0.0, 0.5, 0.9]):
        for env in range(3):
            ref = lambda_returns_forward_view(rewards[:, env], next_values[:, env], terminated[:, env],
                                              truncated[:, env], 0.99, lam)
            np.testing.assert_allclose(out[i, :, env], ref, rtol=1e-5, atol=1e-5)
