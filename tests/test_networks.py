"""Networks: the patch-based MinAtar convolution equals lax.conv; shapes over batch axes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.networks import (MLP, ActorCritic, MinAtarCNN, QNetwork, extract_patches, few_inputs_matmul,
                            few_outputs_dot_general, few_outputs_matmul)


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
    assert value.shape == (4,) and dist.mode().shape == (4, 2)
    np.testing.assert_allclose(dist.scale, np.exp(-1.0) * np.ones((4, 2)), rtol=1e-6)
    net = ActorCritic(action_dim=3, discrete=True, hidden_sizes=(8,))
    params = net.init(jax.random.PRNGKey(0), jnp.zeros(3))
    mask = jnp.array([True, False, True])
    dist = net.apply(params, jnp.ones(3), mask, method=ActorCritic.policy)
    assert float(dist.probs[1]) == 0.0


def test_categorical_matches_numpy_under_jit_and_vmap():
    """jaxrl.distributions.Categorical against a NumPy reference, unrolled (few actions)
    and reduced (many), masked, and its gradients against jax.nn's log-softmax."""
    from jaxrl.distributions import SMALL_ACTION_COUNT, Categorical
    from jaxrl.networks import masked_logits

    for n in (2, 6, SMALL_ACTION_COUNT + 2):
        logits = 3.0 * jax.random.normal(jax.random.PRNGKey(n), (5, 7, n))
        mask = jnp.arange(n) != 1  # action 1 never allowed
        actions = jax.random.randint(jax.random.PRNGKey(1), (5, 7), 0, n)
        actions = jnp.where(actions == 1, 0, actions)

        def stats(logits, actions):
            dist = Categorical(masked_logits(logits, mask))
            return dist.log_prob(actions), dist.entropy(), dist.probs, dist.mode()

        log_prob, entropy, probs, mode = jax.jit(jax.vmap(stats))(logits, actions)
        x = np.where(np.asarray(mask), np.asarray(logits, np.float64), -np.inf)
        ref_log_probs = x - x.max(-1, keepdims=True)
        ref_log_probs -= np.log(np.exp(ref_log_probs).sum(-1, keepdims=True))
        ref_probs = np.exp(ref_log_probs)
        np.testing.assert_allclose(probs, ref_probs, rtol=1e-5, atol=1e-7)
        assert float(probs[..., 1].max()) == 0.0
        np.testing.assert_allclose(
            log_prob, np.take_along_axis(ref_log_probs, np.asarray(actions)[..., None], -1)[..., 0],
            rtol=1e-5, atol=1e-5)
        with np.errstate(invalid="ignore"):  # 0 * -inf for the masked action
            ref_entropy = -np.where(ref_probs > 0, ref_probs * ref_log_probs, 0.0).sum(-1)
        np.testing.assert_allclose(entropy, ref_entropy, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(mode, ref_log_probs.argmax(-1))

        def loss(logits, ours):
            log_probs = (Categorical(logits).log_probs() if ours
                         else jax.nn.log_softmax(logits))
            weights = jnp.linspace(-1.0, 1.0, n)
            return (log_probs * weights).sum() + (jnp.exp(log_probs) * log_probs).sum()

        np.testing.assert_allclose(jax.grad(loss)(logits, True), jax.grad(loss)(logits, False),
                                   rtol=1e-4, atol=1e-5)


def test_categorical_samples_follow_the_probabilities():
    from jaxrl.distributions import Categorical

    logits = jnp.log(jnp.array([0.1, 0.6, 0.3]))
    keys = jax.random.split(jax.random.PRNGKey(0), 20_000)
    actions, log_probs = jax.vmap(Categorical(logits).sample_and_log_prob)(keys)
    counts = np.bincount(np.asarray(actions), minlength=3)
    expected = 20_000 * np.array([0.1, 0.6, 0.3])
    chi_square = float(((counts - expected) ** 2 / expected).sum())
    assert chi_square < 13.8, (counts, chi_square)  # p = 0.001 at 2 degrees of freedom
    np.testing.assert_allclose(log_probs, np.log([0.1, 0.6, 0.3])[np.asarray(actions)], rtol=1e-5)
    assert actions.dtype == jnp.int32


def test_diag_gaussian_matches_numpy_and_distrax_bit_for_bit():
    """jaxrl.distributions.DiagGaussian against a NumPy reference, and against distrax's
    MultivariateNormalDiag, which the continuous policies used before: the same floats under
    jit, values and gradients (so the policies train the same parameters)."""
    import distrax

    from jaxrl.distributions import DiagGaussian

    loc = jax.random.normal(jax.random.PRNGKey(0), (5, 7, 3))
    log_std = jnp.array([-1.3, 0.2, 0.7])
    actions = jax.random.normal(jax.random.PRNGKey(1), (5, 7, 3)) * 2.0
    key = jax.random.PRNGKey(2)

    def stats(make, loc, log_std):
        dist = make(loc, jnp.broadcast_to(jnp.exp(log_std), loc.shape))
        sample, sample_log_prob = dist.sample_and_log_prob(seed=key)
        return (dist.log_prob(actions), dist.entropy(), sample, sample_log_prob, dist.sample(seed=key),
                dist.mode())

    ours = jax.jit(lambda *a: stats(DiagGaussian.create, *a))(loc, log_std)
    theirs = jax.jit(lambda *a: stats(distrax.MultivariateNormalDiag, *a))(loc, log_std)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)

    def loss(make, loc, log_std):
        log_prob, entropy, _, sample_log_prob, sample, _ = stats(make, loc, log_std)
        return log_prob.sum() + 0.1 * entropy.sum() + sample_log_prob.sum() + (sample ** 2).sum()

    for argnum in (0, 1):
        ours = jax.jit(jax.grad(lambda *a: loss(DiagGaussian.create, *a), argnums=argnum))(loc, log_std)
        theirs = jax.jit(jax.grad(lambda *a: loss(distrax.MultivariateNormalDiag, *a),
                                  argnums=argnum))(loc, log_std)
        np.testing.assert_array_equal(ours, theirs)

    # The densities themselves, in float64.
    mean, std, x = np.asarray(loc, np.float64), np.exp(np.asarray(log_std, np.float64)), np.asarray(actions)
    ref = (-0.5 * ((x - mean) / std) ** 2 - np.log(np.sqrt(2 * np.pi) * std)).sum(-1)
    log_prob, entropy, sample, sample_log_prob, _, mode = stats(DiagGaussian.create, loc, log_std)
    np.testing.assert_allclose(log_prob, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(entropy, np.broadcast_to((0.5 + np.log(np.sqrt(2 * np.pi) * std)).sum(), (5, 7)),
                               rtol=1e-6)
    dist = DiagGaussian.create(loc, jnp.broadcast_to(jnp.exp(log_std), loc.shape))
    np.testing.assert_allclose(sample_log_prob, dist.log_prob(sample), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(mode, loc)


def test_diag_gaussian_samples_have_its_moments():
    from jaxrl.distributions import DiagGaussian

    loc, scale = jnp.array([1.0, -2.0]), jnp.array([0.5, 3.0])
    keys = jax.random.split(jax.random.PRNGKey(0), 20_000)
    samples = jax.vmap(lambda k: DiagGaussian.create(loc, scale).sample(k))(keys)
    # Five standard errors: of the mean scale / sqrt(n) (0.0035 and 0.021), of the std
    # about scale / sqrt(2n) (0.5% of it).
    assert np.all(np.abs(samples.mean(0) - loc) < 5 * scale / np.sqrt(20_000)), samples.mean(0)
    assert np.all(np.abs(samples.std(0) / scale - 1) < 5 / np.sqrt(40_000)), samples.std(0)


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


@pytest.mark.parametrize("product, features, outputs", [(few_inputs_matmul, 4, 8), (few_outputs_matmul, 8, 3)])
def test_few_feature_products_match_the_product_and_its_gradients(product, features, outputs):
    """`few_inputs_matmul` (a few input features) and `few_outputs_matmul` (a few outputs)
    compute `x @ kernel` and its derivatives, in reverse and forward mode, under jit and
    vmap."""
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(keys[0], (3, 16, features))
    kernel = jax.random.normal(keys[1], (features, outputs))
    cotangent = jax.random.normal(keys[2], (3, 16, outputs))

    def pullback(product):
        out, vjp = jax.vjp(product, x, kernel)
        return (out, *vjp(cotangent))

    def pushforward(product):  # forward mode too (a custom_vjp would refuse it)
        return jax.jvp(product, (x, kernel), (x * 0.5, kernel * 0.5))

    want = jax.jit(lambda: (*pullback(jnp.matmul), *pushforward(jnp.matmul)))()
    got = jax.jit(lambda: (*pullback(product), *pushforward(product)))()
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
    # The kernel's gradient against NumPy's x^T g, and per-seed parameters under vmap.
    np.testing.assert_allclose(got[2], np.einsum("sbk,sbn->kn", x, cotangent), rtol=1e-5, atol=1e-5)
    kernels = jax.random.normal(keys[1], (3, features, outputs))
    np.testing.assert_allclose(jax.jit(jax.vmap(product))(x, kernels),
                               np.einsum("sbk,skn->sbn", x, kernels), rtol=1e-5, atol=1e-5)
    seed_grads = jax.jit(jax.vmap(jax.grad(lambda k, x, c: jnp.sum(product(x, k) * c))))(kernels, x, cotangent)
    np.testing.assert_allclose(seed_grads, np.einsum("sbk,sbn->skn", x, cotangent), rtol=1e-5, atol=1e-5)
    # One feature (few_inputs_matmul's degenerate loop).
    np.testing.assert_allclose(few_inputs_matmul(x[..., :1], kernel[:1]), np.asarray(x[..., :1]) * np.asarray(kernel[0]),
                               rtol=1e-6)


def test_few_outputs_product_only_for_two_to_four_outputs():
    """A head of 2-4 outputs goes through `few_outputs_matmul` (its kernel gradient as
    sums over rows); one output, or more than four, stays a plain product."""
    x = jnp.ones((16, 8))
    numbers = (((1,), (0,)), ((), ()))
    for outputs, routed in [(1, False), (2, True), (4, True), (5, False)]:
        jaxpr = str(jax.make_jaxpr(lambda k: few_outputs_dot_general(x, k, numbers))(jnp.ones((8, outputs))))
        assert ("custom_jvp_call" in jaxpr) == routed, (outputs, jaxpr)


def test_actor_critic_with_few_inputs_computes_what_plain_products_compute():
    net = ActorCritic(action_dim=2, discrete=True, hidden_sizes=(32, 32))
    obs = jax.random.normal(jax.random.PRNGKey(1), (64, 4))
    params = net.init(jax.random.PRNGKey(0), obs)
    dist, value = jax.jit(net.apply)(params, obs)
    p = params["params"]

    def plain_torso(t):
        h = jnp.tanh(obs @ t["Dense_0"]["kernel"] + t["Dense_0"]["bias"])
        return jnp.tanh(h @ t["Dense_1"]["kernel"] + t["Dense_1"]["bias"])

    logits = plain_torso(p["actor_torso"]) @ p["policy_head"]["kernel"] + p["policy_head"]["bias"]
    values = (plain_torso(p["critic_torso"]) @ p["value_head"]["kernel"] + p["value_head"]["bias"])[:, 0]
    np.testing.assert_allclose(dist.logits, logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(value, values, rtol=1e-5, atol=1e-6)
