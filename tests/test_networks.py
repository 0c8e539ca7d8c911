"""Networks: the patch-based MinAtar convolution equals lax.conv; shapes over batch axes."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.networks import MLP, ActorCritic, MinAtarCNN, QNetwork, extract_patches


def test_patch_convolution_equals_lax_conv():
    x = jax.random.normal(jax.random.PRNGKey(0), (5, 10, 10, 4))
    kernel = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 4, 16))
    expected = jax.lax.conv_general_dilated(x, kernel, (1, 1), "VALID",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))
    patches = extract_patches(x, 3)  # (5, 8, 8, 36), ordered (i, j, channel)
    got = patches @ kernel.reshape(36, 16)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_torsos_keep_leading_axes():
    mlp = MLP((32, 16))
    params = mlp.init(jax.random.PRNGKey(0), jnp.zeros(3))
    assert mlp.apply(params, jnp.zeros((7, 2, 3))).shape == (7, 2, 16)
    cnn = MinAtarCNN((64,))
    params = cnn.init(jax.random.PRNGKey(0), jnp.zeros((10, 10, 4)))
    assert cnn.apply(params, jnp.zeros((10, 10, 4))).shape == (64,)
    assert cnn.apply(params, jnp.zeros((3, 2, 10, 10, 4))).shape == (3, 2, 64)


def test_actor_critic_heads():
    net = ActorCritic(action_dim=2, discrete=False, hidden_sizes=(8,), init_log_std=-1.0)
    params = net.init(jax.random.PRNGKey(0), jnp.zeros(3))
    dist, value = net.apply(params, jnp.zeros((4, 3)))
    assert value.shape == (4,) and dist.event_shape == (2,)
    np.testing.assert_allclose(dist.stddev(), np.exp(-1.0) * np.ones((4, 2)), rtol=1e-6)
    net = ActorCritic(action_dim=3, discrete=True, hidden_sizes=(8,))
    params = net.init(jax.random.PRNGKey(0), jnp.zeros(3))
    mask = jnp.array([True, False, True])
    dist = net.apply(params, jnp.ones(3), mask, method=ActorCritic.policy)
    assert float(dist.probs[1]) == 0.0


def test_orthogonal_initialiser_is_orthogonal_and_scaled():
    from jaxrl.networks import orthogonal

    for shape in [(8, 8), (20, 6), (6, 20), (3, 3, 4, 5)]:
        w = np.asarray(orthogonal(2.0)(jax.random.PRNGKey(3), shape)).reshape(-1, shape[-1])
        gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
        np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-4)
    a = orthogonal(1.0)(jax.random.PRNGKey(0), (16, 16))
    b = orthogonal(1.0)(jax.random.PRNGKey(1), (16, 16))
    assert not np.allclose(a, b)
    # Haar: the average entry of Q is ~0 and E[q_ij^2] = 1/n.
    qs = jax.vmap(lambda k: orthogonal(1.0)(k, (8, 8)))(jax.random.split(jax.random.PRNGKey(2), 2000))
    assert abs(float(qs.mean())) < 0.01
    np.testing.assert_allclose(float((qs ** 2).mean()), 1 / 8, rtol=0.02)
    assert abs(float(qs[:, 0, 0].mean())) < 0.03  # no sign bias on the diagonal


def test_mlp_flattens_image_observations():
    # An MLP over MinAtar images (bool (..., 10, 10, 4)) sees the 400 flattened features.
    images = jax.random.bernoulli(jax.random.PRNGKey(0), 0.3, (2, 5, 10, 10, 4))
    on_images = MLP((16,), "relu", input_ndim=3)
    on_flat = MLP((16,), "relu")
    params = on_images.init(jax.random.PRNGKey(1), images)
    out = on_images.apply(params, images)
    assert out.shape == (2, 5, 16)
    np.testing.assert_allclose(out, on_flat.apply(params, images.reshape(2, 5, 400).astype(jnp.float32)))
    # The Q-network's MLP torso (DQN, PQN with network=mlp) does the same.
    q_net = QNetwork(3, "mlp", (16,), obs_ndim=3)
    q_params = q_net.init(jax.random.PRNGKey(2), images)
    assert q_net.apply(q_params, images).shape == (2, 5, 3)
