"""Networks shared by every algorithm: MLP and MinAtar torsos, actor-critic heads.

All modules are `flax.linen` modules over a single observation or a batch: leading axes
are preserved, so `(obs_dim,)`, `(B, obs_dim)` and `(T, B, obs_dim)` inputs all work for the
MLP and `(H, W, C)` / `(..., H, W, C)` for the CNN.
"""

from __future__ import annotations

from typing import Sequence

import jax
import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from jaxrl.distributions import Categorical, DiagGaussian
from jaxrl.exploration import gsde_log_std, gsde_noise, gsde_noise_init, gsde_noise_step


ACTIVATIONS = {
    "tanh": nn.tanh,
    "relu": nn.relu,
    "elu": nn.elu,
    "gelu": nn.gelu,
    "silu": nn.silu,
    "swish": nn.silu,
    "leaky_relu": nn.leaky_relu,
}


def activation_fn(name: str):
    """Look up an activation by name, with an error listing the known names."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"Unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}."
        ) from None


@jax.jit
def householder_orthonormal(a):
    """Orthonormal columns `Q` `(m, n)` of the QR decomposition of `a` `(m, n)`, `m >= n`,
    with signs fixed so `R` has a positive diagonal (then Q is Haar-distributed when `a` is
    Gaussian).

    Written with plain matrix-vector products in a `fori_loop` instead of LAPACK's geqrf:
    XLA:CPU's batched LAPACK QR (what `vmap` over seeds of an orthogonal initialiser becomes)
    intermittently deadlocks its thread pool on jaxlib 0.10.2, and initialisation is cheap.

    Jitted, so its loop is traced once per shape: flax evaluates every parameter's
    initialiser abstractly on each `apply` (a shape check), which otherwise retraced this
    loop for every parameter of every program that applies a network.
    """
    m, n = a.shape
    rows = jnp.arange(m)

    def reflect(k, carry):
        r, q = carry
        x = jnp.where(rows >= k, r[:, k], 0.0)
        norm = jnp.sqrt(jnp.sum(x * x))
        sign = jnp.where(x[k] >= 0, 1.0, -1.0)
        v = x.at[k].add(sign * norm)
        v = v / jnp.maximum(jnp.sqrt(jnp.sum(v * v)), 1e-30)
        r = r - 2.0 * jnp.outer(v, v @ r)
        q = q - 2.0 * jnp.outer(q @ v, v)
        return r, q

    r, q = jax.lax.fori_loop(0, n, reflect, (a, jnp.eye(m, dtype=a.dtype)))
    signs = jnp.where(jnp.diagonal(r) >= 0, 1.0, -1.0)
    return q[:, :n] * signs


def orthogonal(scale: float = np.sqrt(2.0)):
    """Orthogonal initialiser (Saxe et al., 2014) for kernels `(..., fan_out)`, as
    `flax.linen.initializers.orthogonal` but LAPACK-free (see householder_orthonormal)."""

    def init(key, shape, dtype=jnp.float32):
        rows, cols = int(np.prod(shape[:-1])), int(shape[-1])
        tall = (max(rows, cols), min(rows, cols))
        q = householder_orthonormal(jax.random.normal(key, tall, jnp.float32))
        if rows < cols:
            q = q.T
        return (scale * q).reshape(shape).astype(dtype)

    return init


FEW_INPUT_FEATURES = 8  # up to this many input features `few_inputs_matmul` applies


@jax.custom_jvp
def few_inputs_matmul(x, kernel):
    """`x @ kernel` for `x` `(..., K)` with small K and `kernel` `(K, N)`, as K broadcast
    multiply-adds that XLA fuses with the layer's bias and activation into one kernel (a
    product is a call of its own). Derivatives are the product's (its tangents are products,
    so gradients transpose them exactly as they would `x @ kernel`'s)."""
    # Adding the features in the order 1, 0, 2, 3, ... reproduces XLA:CPU's product bit for
    # bit in the programs checked (docs/optimisation.md).
    order = [1, 0, *range(2, x.shape[-1])] if x.shape[-1] > 1 else [0]
    out = x[..., order[0]:order[0] + 1] * kernel[order[0]]
    for i in order[1:]:
        out = out + x[..., i:i + 1] * kernel[i]
    return out


few_inputs_matmul.defjvps(lambda x_dot, _, x, kernel: x_dot @ kernel,
                          lambda kernel_dot, _, x, kernel: x @ kernel_dot)


def _dense_dot_general(product, applies):
    """A `dot_general` for `nn.Dense` that computes `lhs @ rhs` with `product` when the call
    is a plain float32 matrix product `(..., K) @ (K, N)` and `applies(K, N)`, and with
    `jax.lax.dot_general` otherwise."""

    def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None, **kwargs):
        (lhs_contract, rhs_contract), (lhs_batch, _) = dimension_numbers
        if (rhs.ndim == 2 and not lhs_batch and applies(*rhs.shape)
                and tuple(lhs_contract) == (lhs.ndim - 1,) and tuple(rhs_contract) == (0,)
                and lhs.dtype == rhs.dtype == jnp.float32 and preferred_element_type in (None, jnp.float32)):
            return product(lhs, rhs)
        return jax.lax.dot_general(lhs, rhs, dimension_numbers, precision=precision,
                                   preferred_element_type=preferred_element_type, **kwargs)

    return dot_general


# `nn.Dense`'s `dot_general`, through `few_inputs_matmul` for a few input features.
few_inputs_dot_general = _dense_dot_general(few_inputs_matmul,
                                            lambda inputs, _: inputs <= FEW_INPUT_FEATURES)


FEW_OUTPUT_FEATURES = 4  # up to this many outputs (and more than one) `few_outputs_matmul` applies


@jax.custom_jvp
def few_outputs_matmul(x, kernel):
    """`x @ kernel` for `kernel` `(K, N)` with small N > 1: the same product, whose kernel
    gradient is computed as N sums over the rows of `x * g[..., n]` (one fused reduction).
    XLA:CPU hands the product's transpose, `x^T @ g` with so few columns, to a slow Eigen
    path: for `(128, 64)` rows and N = 2, 7.0 us against 2.6 us for the sums (docs/optimisation.md)."""
    return x @ kernel


def _few_outputs_kernel_tangent(kernel_dot, _, x, kernel):
    # Linear in `kernel_dot`; its transpose is the sum over rows of `x * g[..., n]`.
    return jnp.stack([(x * kernel_dot[:, n]).sum(-1) for n in range(kernel.shape[-1])], axis=-1)


few_outputs_matmul.defjvps(lambda x_dot, _, x, kernel: x_dot @ kernel, _few_outputs_kernel_tangent)


# `nn.Dense`'s `dot_general`, through `few_outputs_matmul` for a few output features.
few_outputs_dot_general = _dense_dot_general(
    few_outputs_matmul, lambda _, outputs: 1 < outputs <= FEW_OUTPUT_FEATURES)


def output_dense(size: int, scale: float) -> nn.Dense:
    """An output layer: orthogonal kernel with gain `scale`, zero bias, and a product whose
    kernel gradient takes `few_outputs_matmul`'s sums over rows when it has 2-4 outputs."""
    return nn.Dense(size, kernel_init=orthogonal(scale), bias_init=nn.initializers.zeros,
                    dot_general=few_outputs_dot_general)


class MLP(nn.Module):
    """Fully connected torso: `(..., in_dim) -> (..., hidden_sizes[-1])`.

    Orthogonal initialisation with gain sqrt(2) and zero biases, as in the PPO
    implementation details literature; optional LayerNorm after each layer (PQN uses it).
    `input_ndim > 1` flattens that many trailing input dims into the features first (an
    MLP over images `(..., H, W, C)`: `input_ndim=3`).

    `noisy_sigma`: when set, every layer is a `NoisyDense` with that sigma_0 (Rainbow's noisy
    torso) instead of an orthogonally initialised dense layer.

    `few_inputs_fused`: a first layer with at most `FEW_INPUT_FEATURES` inputs computes its
    product as multiply-adds fused with the bias and activation. The actor-critics use it:
    PPO's 4 CartPole-v1 envs then act 0.4 us faster per step, and their programs train the
    same parameters bit for bit (XLA:CPU's product adds the features in the same order).
    In SAC's and Rainbow's programs XLA fuses its product differently, so there it would
    change the last bits of what they train; they keep the product.
    """

    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    layer_norm: bool = False
    input_ndim: int = 1
    few_inputs_fused: bool = False
    noisy_sigma: float | None = None

    @nn.compact
    def __call__(self, x):
        act = activation_fn(self.activation)
        if self.input_ndim > 1:
            x = x.reshape(x.shape[:x.ndim - self.input_ndim] + (-1,)).astype(jnp.float32)
        for layer, size in enumerate(self.hidden_sizes):
            if self.noisy_sigma is not None:
                x = NoisyDense(size, self.noisy_sigma)(x)
            else:
                fused = self.few_inputs_fused and layer == 0
                x = nn.Dense(size, kernel_init=orthogonal(), bias_init=nn.initializers.zeros,
                             dot_general=few_inputs_dot_general if fused else jax.lax.dot_general)(x)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
            x = act(x)
        return x


def extract_patches(x, size: int):
    """All `size x size` patches of images `(..., H, W, C)`, stride 1, no padding:
    `(..., H - size + 1, W - size + 1, size * size * C)`."""
    height, width = x.shape[-3] - size + 1, x.shape[-2] - size + 1
    return jnp.concatenate(
        [x[..., i:i + height, j:j + width, :] for i in range(size) for j in range(size)], axis=-1
    )


class MinAtarCNN(nn.Module):
    """The MinAtar torso: one 3x3 convolution with 16 channels, then a dense layer.

    `(..., 10, 10, C) -> (..., hidden_sizes[-1])`, the architecture of the MinAtar paper
    (Young & Tian, 2019), with the dense width taken from `hidden_sizes`. `noisy_sigma`: the
    dense layers are `NoisyDense` (the convolution stays deterministic, as in Rainbow).

    The convolution is computed as a dense layer over extracted 3x3 patches: on XLA:CPU this
    is several times faster than `lax.conv` inside scanned training loops (profiled while
    building the Breakout-MinAtar preset), and under `vmap` over seeds it stays a batched
    matmul instead of becoming a grouped convolution. `tests/test_networks.py` checks it
    equals `lax.conv`.
    """

    hidden_sizes: Sequence[int] = (128,)
    activation: str = "relu"
    channels: int = 16
    kernel_size: int = 3
    layer_norm: bool = False
    noisy_sigma: float | None = None

    @nn.compact
    def __call__(self, x):
        act = activation_fn(self.activation)
        patches = extract_patches(x, self.kernel_size)
        x = act(nn.Dense(self.channels, kernel_init=orthogonal(), bias_init=nn.initializers.zeros)(patches))
        x = x.reshape(x.shape[:-3] + (-1,))
        return MLP(self.hidden_sizes, self.activation, self.layer_norm, noisy_sigma=self.noisy_sigma)(x)


def make_torso(kind: str, hidden_sizes: Sequence[int], activation: str, layer_norm: bool = False,
               obs_ndim: int = 1, few_inputs_fused: bool = False, noisy_sigma: float | None = None):
    """`kind` is "mlp" or "cnn" (the MinAtar CNN). `obs_ndim`: the observations' number of
    dims (the MLP flattens images). `few_inputs_fused`, `noisy_sigma`: see `MLP`."""
    if kind == "mlp":
        return MLP(tuple(hidden_sizes), activation, layer_norm, input_ndim=obs_ndim,
                   few_inputs_fused=few_inputs_fused, noisy_sigma=noisy_sigma)
    if kind == "cnn":
        return MinAtarCNN(tuple(hidden_sizes), activation, layer_norm=layer_norm,
                          noisy_sigma=noisy_sigma)
    raise ValueError(f"Unknown network {kind!r}; choose 'mlp' or 'cnn'.")


def default_torso_kind(obs_shape: tuple[int, ...]) -> str:
    """Images (H, W, C) get the CNN, everything else an MLP."""
    return "cnn" if len(obs_shape) == 3 else "mlp"


class NoisyDense(nn.Module):
    """Linear layer with factorised Gaussian noise (Fortunato et al., 2018):
    `y = x (mu_w + sigma_w * f(e_in) f(e_out)^T) + mu_b + sigma_b * f(e_out)`,
    `f(e) = sign(e) sqrt(|e|)`, `e ~ N(0, 1)`. Noise is drawn from the "noise" RNG stream
    when the caller provides one (`apply(..., rngs={"noise": key})`); without it the layer
    is the mean linear layer. mu ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), sigma =
    sigma_0 / sqrt(fan_in)."""

    features: int
    sigma_0: float = 0.5

    @nn.compact
    def __call__(self, x):
        fan_in = x.shape[-1]
        bound = 1.0 / jnp.sqrt(fan_in)
        uniform = lambda key, shape: jax.random.uniform(key, shape, jnp.float32, -bound, bound)  # noqa: E731
        sigma = lambda key, shape: jnp.full(shape, self.sigma_0 / jnp.sqrt(fan_in), jnp.float32)  # noqa: E731
        mu_w = self.param("mu_w", uniform, (fan_in, self.features))
        mu_b = self.param("mu_b", uniform, (self.features,))
        sigma_w = self.param("sigma_w", sigma, (fan_in, self.features))
        sigma_b = self.param("sigma_b", sigma, (self.features,))
        if not self.has_rng("noise"):
            return x @ mu_w + mu_b
        in_key, out_key = jax.random.split(self.make_rng("noise"))
        scale = lambda e: jnp.sign(e) * jnp.sqrt(jnp.abs(e))  # noqa: E731
        e_in = scale(jax.random.normal(in_key, (fan_in,)))
        e_out = scale(jax.random.normal(out_key, (self.features,)))
        return x @ (mu_w + sigma_w * jnp.outer(e_in, e_out)) + mu_b + sigma_b * e_out


class QNetwork(nn.Module):
    """Torso (MLP or MinAtar CNN) and a linear Q head over `action_dim` actions:
    `(..., *obs_shape) -> (..., action_dim)`.

    Dueling: separate value and advantage streams, `Q = V + A - mean_a A` (the mean-
    subtracted form makes V and A identifiable).

    Noisy: the head layers are `NoisyDense`; with `noisy_torso` the torso's dense layers
    too (Rainbow's form: every dense layer after the convolutions is noisy).

    Distributional (`num_atoms > 1`): returns logits `(..., action_dim, num_atoms)` of
    each action's return distribution; dueling then combines the streams per atom, on the
    logits (as in Rainbow).
    """

    action_dim: int
    torso: str = "mlp"
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "relu"
    dueling: bool = False
    num_atoms: int = 1
    noisy: bool = False
    noisy_sigma: float = 0.5
    layer_norm: bool = False  # LayerNorm after each torso layer (PQN)
    obs_ndim: int = 1  # dims of one observation (an MLP torso flattens images)
    noisy_torso: bool = False

    @nn.compact
    def __call__(self, obs):
        torso_sigma = self.noisy_sigma if self.noisy and self.noisy_torso else None
        x = make_torso(self.torso, self.hidden_sizes, self.activation, self.layer_norm,
                       self.obs_ndim, noisy_sigma=torso_sigma)(obs.astype(jnp.float32))
        if self.noisy:
            dense = lambda size: NoisyDense(size, self.noisy_sigma)  # noqa: E731
        else:
            dense = lambda size: output_dense(size, 1.0)  # noqa: E731
        atoms = self.num_atoms
        out = dense(self.action_dim * atoms)(x).reshape(x.shape[:-1] + (self.action_dim, atoms))
        if self.dueling:
            value = dense(atoms)(x)[..., None, :]
            out = value + out - out.mean(axis=-2, keepdims=True)
        return out if atoms > 1 else out[..., 0]


def masked_logits(logits, action_mask):
    """Give masked-out actions (mask False) a logit so low their probability is zero."""
    if action_mask is None:
        return logits
    return jnp.where(action_mask, logits, jnp.finfo(logits.dtype).min)


def mask_distribution(dist, action_mask):
    """`dist` (a Categorical) with masked-out actions given zero probability; `dist` itself
    when `action_mask` is None. For policies built without a mask argument (recurrent)."""
    if action_mask is None:
        return dist
    return Categorical(logits=masked_logits(dist.logits, action_mask))


def env_action_mask_fn(env, env_params, obs_shape):
    """`obs -> bool mask` from the env's optional `action_mask` hook (envs.Environment), or
    None when the env has no mask (every action always valid)."""
    hook = getattr(env, "action_mask", None)
    # Asked abstractly: calling the hook on a concrete array would compile its ops eagerly.
    if hook is None or jax.eval_shape(lambda obs: hook(obs, env_params),
                                      jax.ShapeDtypeStruct(tuple(obs_shape), jnp.float32)) is None:
        return None
    return lambda obs: hook(obs, env_params)


def policy_and_value_heads(action_dim: int):
    """The output layers of actor-critics: policy logits/means (small init, so the initial
    policy is near uniform) and a scalar value."""
    return (
        output_dense(action_dim, 0.01),
        output_dense(1, 1.0),
    )


def action_distribution(out, log_std=None, action_mask=None) -> Categorical | DiagGaussian:
    """Categorical over logits `out` (masked) when `log_std` is None, else a diagonal
    Gaussian with means `out` and log std `log_std` (state-independent `(A,)`, or one per
    row, `out`'s shape)."""
    if log_std is None:
        return Categorical(logits=masked_logits(out, action_mask))
    return DiagGaussian.create(out, jnp.broadcast_to(jnp.exp(log_std), out.shape))


class ActorCritic(nn.Module):
    """Policy and value networks for on-policy algorithms.

    Discrete actions: a categorical over `action_dim` logits.
    Continuous actions: a diagonal Gaussian with a state-independent, learned log std
    (sampled actions are not squashed: the env wrapper clips them). With
    `state_dependent_noise` (gSDE, `jaxrl.exploration.gsde_log_std`), its std is that of
    the noise `z(s) @ W`, `z(s)` the actor torso's output held fixed (as Stable-Baselines3's
    PPO does: the noise does not train the torso) and `W ~ N(0, exp(log_std)^2)`, `log_std`
    a learned `(hidden, A)` matrix; `policy_and_latent` also returns `z(s)` so a rollout can
    draw that noise from a held `W`.

    With `shared_torso=False` (default for MLPs) actor and critic have separate torsos, so
    `policy` and `value` can be evaluated independently at the cost of one torso each.

    Methods take observations of shape `(..., *obs_shape)` and return a distribution with
    batch shape `(...)` and values of shape `(...)`.
    """

    action_dim: int
    discrete: bool
    torso: str = "mlp"
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    shared_torso: bool = False
    init_log_std: float = 0.0
    obs_ndim: int = 1  # dims of one observation (an MLP torso flattens images)
    state_dependent_noise: bool = False  # gSDE (continuous actions, MLP torso)

    def setup(self):
        def torso():
            return make_torso(self.torso, self.hidden_sizes, self.activation,
                              obs_ndim=self.obs_ndim, few_inputs_fused=True)

        self.actor_torso = torso()
        self.critic_torso = self.actor_torso if self.shared_torso else torso()
        self.policy_head, self.value_head = policy_and_value_heads(self.action_dim)
        log_std_shape = ((self.hidden_sizes[-1], self.action_dim) if self.state_dependent_noise
                         else (self.action_dim,))
        self.log_std = None if self.discrete else self.param(
            "log_std", nn.initializers.constant(self.init_log_std), log_std_shape)

    def initial_noise(self, num_envs: int):
        """gSDE's per-env noise state before the first step (`jaxrl.exploration.
        gsde_noise_init` for this torso's latent and actions); None without gSDE."""
        if not self.state_dependent_noise:
            return None
        return gsde_noise_init(num_envs, self.hidden_sizes[-1], self.action_dim)

    def policy_and_latent(self, obs, action_mask=None):
        """`(policy, latent)`: the action distribution and the actor torso's output."""
        latent = self.actor_torso(obs)
        log_std = self.log_std
        if self.state_dependent_noise:
            log_std = gsde_log_std(jax.lax.stop_gradient(latent), log_std)
        return action_distribution(self.policy_head(latent), log_std, action_mask), latent

    def policy(self, obs, action_mask=None) -> Categorical | DiagGaussian:
        return self.policy_and_latent(obs, action_mask)[0]

    def value(self, obs):
        return self.value_head(self.critic_torso(obs))[..., 0]

    def __call__(self, obs, action_mask=None):
        return self.policy(obs, action_mask), self.value(obs)


def build_actor_critic(obs_shape, action_space, network: str = "auto", hidden_sizes=(64, 64),
                       activation: str = "tanh", shared_torso: bool = False,
                       init_log_std: float = 0.0, state_dependent_noise: bool = False) -> ActorCritic:
    """The ActorCritic for an env: categorical head for `Discrete` spaces (anything with
    `.n`), Gaussian for boxes (gSDE's with `state_dependent_noise`); the MinAtar CNN (a ReLU
    network, shared by actor and critic) for image observations when `network="auto"`."""
    discrete = hasattr(action_space, "n")
    torso = default_torso_kind(tuple(obs_shape)) if network == "auto" else network
    return ActorCritic(
        action_dim=int(action_space.n) if discrete else int(action_space.shape[0]),
        discrete=discrete, torso=torso, hidden_sizes=tuple(hidden_sizes),
        activation="relu" if torso == "cnn" and activation == "tanh" else activation,
        shared_torso=shared_torso or torso == "cnn", init_log_std=init_log_std,
        obs_ndim=len(obs_shape), state_dependent_noise=state_dependent_noise,
    )


def actor_critic_functions(network: ActorCritic, action_mask_fn=None):
    """`act` and `value` over `policy_params = {"network": params, "obs_stats": stats|None}`
    for a feed-forward ActorCritic (observations normalised with `obs_stats` if given).
    `action_mask_fn(raw_obs) -> mask` (see env_action_mask_fn) masks the policy in `act`."""
    from jaxrl.normalization import normalize

    def act(policy_params, obs, key, deterministic: bool = False):
        mask = None if action_mask_fn is None else action_mask_fn(obs)
        obs = normalize(obs, policy_params["obs_stats"])
        dist = network.apply(policy_params["network"], obs, mask, method=ActorCritic.policy)
        return dist.mode() if deterministic else dist.sample(seed=key)

    def value(policy_params, obs):
        obs = normalize(obs, policy_params["obs_stats"])
        return network.apply(policy_params["network"], obs, method=ActorCritic.value)

    return act, value


def gsde_rollout_step(network: ActorCritic, params, obs, noise, key, rollout_steps: int,
                      sample_freq: int):
    """One rollout step of an on-policy agent exploring with gSDE (`network` built with
    `state_dependent_noise`): advance the per-env noise matrices (`jaxrl.exploration.
    gsde_noise_step`), act `mean + z(s) @ W` with each env's held `W`, and score the action
    under the policy. `obs` `(N, ...)` (normalised) -> `(noise, actions (N, A), log_probs (N,))`."""
    dist, latent = network.apply(params, obs, method=ActorCritic.policy_and_latent)
    noise = gsde_noise_step(noise, key, rollout_steps, sample_freq)
    action = dist.mode() + gsde_noise(latent, params["params"]["log_std"], noise["eps"])
    return noise, action, dist.log_prob(action)


class RecurrentActorCritic(nn.Module):
    """A GRU policy/value network for partially observed envs: for the actor and for the
    critic each, an MLP torso -> a GRU -> a head. Separate cores keep the (large) value-loss
    gradients from swamping the policy's under global-norm clipping.

    The hidden state is the concatenation `[actor, critic]`, shape `(B, 2 * rnn_size)`.
    One step: `(hidden, obs (B, *obs_shape), first (B,)) -> (hidden, dist, value)`. The
    hidden state is zeroed *before* processing any observation that starts an episode
    (`first`), so no memory leaks across episode boundaries, in rollouts and replay alike.
    """

    action_dim: int
    discrete: bool
    hidden_sizes: Sequence[int] = (64,)
    activation: str = "tanh"
    rnn_size: int = 64
    init_log_std: float = 0.0
    obs_ndim: int = 1  # dims of one observation (the MLP torso flattens images)

    def setup(self):
        def core():
            return MLP(self.hidden_sizes, self.activation, input_ndim=self.obs_ndim), nn.GRUCell(
                self.rnn_size, kernel_init=nn.initializers.lecun_normal(),
                recurrent_kernel_init=orthogonal(1.0))

        self.actor_torso, self.actor_cell = core()
        self.critic_torso, self.critic_cell = core()
        self.policy_head, self.value_head = policy_and_value_heads(self.action_dim)
        self.log_std = None if self.discrete else self.param(
            "log_std", nn.initializers.constant(self.init_log_std), (self.action_dim,))

    def initial_hidden(self, batch_size: int):
        return jnp.zeros((batch_size, 2 * self.rnn_size), jnp.float32)

    def _critic(self, hidden, obs):
        hidden, features = self.critic_cell(hidden, self.critic_torso(obs))
        return hidden, self.value_head(features)[..., 0]

    def __call__(self, hidden, obs, first):
        hidden = jnp.where(first[:, None], 0.0, hidden)
        actor_hidden, features = self.actor_cell(hidden[:, :self.rnn_size], self.actor_torso(obs))
        dist = action_distribution(self.policy_head(features), self.log_std)
        critic_hidden, value = self._critic(hidden[:, self.rnn_size:], obs)
        return jnp.concatenate([actor_hidden, critic_hidden], axis=-1), dist, value

    def value_after(self, hidden, obs):
        """V of `obs` continuing from `hidden` (no reset): the bootstrap value of the
        observation that followed a step (`final_obs`), truncated episodes included."""
        return self._critic(hidden[:, self.rnn_size:], obs)[1]


# --------------------------------------------------------------------------------------
# Continuous-control actors and critics (SAC, TD3, DDPG)
# --------------------------------------------------------------------------------------


class ContinuousQ(nn.Module):
    """Q(s, a) for continuous actions: an MLP over `[obs, action]` and a linear head.
    `(..., obs_dim), (..., action_dim) -> (...)`."""

    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = False

    @nn.compact
    def __call__(self, obs, action):
        x = jnp.concatenate([obs.astype(jnp.float32), action.astype(jnp.float32)], axis=-1)
        x = MLP(tuple(self.hidden_sizes), self.activation, self.layer_norm)(x)
        return output_dense(1, 1.0)(x)[..., 0]


class CriticEnsemble(nn.Module):
    """`num_critics` independent `ContinuousQ` networks evaluated as one batched network
    (their parameters are stacked on a leading axis, so twin critics cost one set of
    batched matmuls): `(..., obs_dim), (..., action_dim) -> (num_critics, ...)`."""

    num_critics: int = 2
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = False

    @nn.compact
    def __call__(self, obs, action):
        ensemble = nn.vmap(ContinuousQ, variable_axes={"params": 0}, split_rngs={"params": True},
                           in_axes=None, out_axes=0, axis_size=self.num_critics)
        return ensemble(tuple(self.hidden_sizes), self.activation, self.layer_norm)(obs, action)


class TanhGaussianActor(nn.Module):
    """SAC's actor: the mean and log std of a diagonal Gaussian over pre-squash actions,
    `(..., obs_dim) -> ((..., action_dim), (..., action_dim))`. The log std is squashed
    smoothly into `[log_std_min, log_std_max]` (a tanh rescaling, so it keeps gradients at
    the edges, unlike a clip). The tanh squashing itself is in `jaxrl.algos.sac`."""

    action_dim: int
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    layer_norm: bool = False

    @nn.compact
    def __call__(self, obs):
        x = MLP(tuple(self.hidden_sizes), self.activation, self.layer_norm)(obs.astype(jnp.float32))
        mean = output_dense(self.action_dim, 0.01)(x)
        raw = output_dense(self.action_dim, 0.01)(x)
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (jnp.tanh(raw) + 1.0)
        return mean, log_std


class StateDependentNoiseActor(nn.Module):
    """SAC's actor for generalized state-dependent exploration (gSDE; Raffin et al., 2022):
    `(..., obs_dim) -> (mean (..., A), latent (..., L), log_std (L, A))`.

    `latent` is the torso's last hidden layer (L = `hidden_sizes[-1]`); the exploration
    noise is `latent @ W` for a noise matrix `W ~ N(0, exp(log_std)^2)` held for many steps,
    so the same state gets the same push and the policy explores smoothly. `log_std` is a
    parameter, not a function of the state (initialised to 0 here; SAC sets its start value).
    The mean is clipped to `[-clip_mean, clip_mean]` before the tanh squashing, as
    Stable-Baselines3 does for gSDE, so it cannot saturate the tanh beyond recovery."""

    action_dim: int
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    clip_mean: float = 2.0
    layer_norm: bool = False

    @nn.compact
    def __call__(self, obs):
        latent = MLP(tuple(self.hidden_sizes), self.activation, self.layer_norm)(obs.astype(jnp.float32))
        mean = jnp.clip(output_dense(self.action_dim, 0.01)(latent), -self.clip_mean, self.clip_mean)
        log_std = self.param("log_std", nn.initializers.zeros, (latent.shape[-1], self.action_dim))
        return mean, latent, log_std


class DeterministicActor(nn.Module):
    """TD3/DDPG's actor: `(..., obs_dim) -> (..., action_dim)` in [-1, 1] (tanh output)."""

    action_dim: int
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = False

    @nn.compact
    def __call__(self, obs):
        x = MLP(tuple(self.hidden_sizes), self.activation, self.layer_norm)(obs.astype(jnp.float32))
        return jnp.tanh(output_dense(self.action_dim, 0.01)(x))
