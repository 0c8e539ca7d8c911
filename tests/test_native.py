"""The native threefry2x32 kernel computes jax's bits exactly, in every program shape."""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import native


def _random_ops(key):
    """One of each way our code draws randomness (split, fold_in, bits, floats, ints,
    permutations, vmapped keys, an empty draw)."""
    keys = jax.random.split(key, 4)
    return {
        "split": jax.random.key_data(jax.random.split(jax.random.fold_in(key, 7), (2, 3))),
        "bits": jax.random.bits(keys[0], (33, 5)),
        "normal": jax.random.normal(keys[1], (4, 64)),
        "uniform_vmapped": jax.vmap(lambda k: jax.random.uniform(k, (3,)))(keys),
        "randint": jax.random.randint(keys[2], (17,), 0, 1000),
        "permutation": jax.random.permutation(keys[3], 100),
        "categorical": jax.random.categorical(key, jnp.zeros((8, 6))),
        "empty": jax.random.bits(key, (0, 3)),
    }


@contextlib.contextmanager
def _jax_lowering():
    """Programs lowered inside lower threefry2x32 as jax does (the native kernel is back on
    afterwards). Lower new functions inside, so no cached lowering is reused."""
    native.disable()
    try:
        yield
    finally:
        native.enable()


def _compiled_bits(key):
    """`_random_ops` lowered afresh under the current lowering: its HLO text and outputs."""
    lowered = jax.jit(lambda k: _random_ops(k)).lower(key)
    return lowered.as_text(), lowered.compile()(key)


def test_native_kernel_matches_jax_lowering_bit_for_bit():
    key = jax.random.PRNGKey(42)
    hlo_native, out_native = _compiled_bits(key)
    with _jax_lowering():
        hlo_jax, out_jax = _compiled_bits(key)
    assert native.TARGET_NAME in hlo_native
    assert native.TARGET_NAME not in hlo_jax
    for name in out_jax:
        a, b = np.asarray(out_native[name]), np.asarray(out_jax[name])
        assert a.shape == b.shape and a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_native_kernel_matches_jax_under_vmap_of_seeds():
    def draw(seed):
        return jax.random.normal(jax.random.PRNGKey(seed), (5,))

    seeds = jnp.arange(6)
    with _jax_lowering():
        expected = jax.jit(jax.vmap(lambda s: draw(s)))(seeds)
    np.testing.assert_array_equal(jax.jit(jax.vmap(draw))(seeds), expected)


def test_agent_init_is_bit_identical_with_native_kernel():
    import envs
    from jaxrl.algos import ppo

    env, env_params = envs.make("CartPole-v1")
    agent = ppo.make(env, env_params, ppo.PPOConfig(num_envs=4, num_steps=8, total_steps=64))
    key = jax.random.PRNGKey(0)
    with _jax_lowering():
        expected = jax.jit(lambda k: agent.init(k))(key)
    got = jax.jit(lambda k: agent.init(k))(key)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_build_is_cached_and_reports_a_missing_compiler(tmp_path, monkeypatch):
    first = native.build(tmp_path)
    assert first.exists() and first.parent == tmp_path
    mtime = first.stat().st_mtime_ns
    assert native.build(tmp_path) == first and first.stat().st_mtime_ns == mtime
    assert not [p for p in tmp_path.iterdir() if p != first]  # no temporary files left behind

    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    with pytest.raises(native.NativeBuildError, match="no-such-compiler"):
        native.build(tmp_path / "other")


def test_without_a_compiler_programs_fall_back_to_jax_lowering_with_one_warning(tmp_path):
    import os
    import subprocess
    import sys

    code = ("import warnings, jax, numpy as np\n"
            "import jaxrl\n"
            "from jaxrl import native\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    a = jax.jit(lambda k: jax.random.bits(k, (5,)))(jax.random.PRNGKey(1))\n"
            "    b = jax.jit(lambda k: jax.random.normal(k, (5,)))(jax.random.PRNGKey(1))\n"
            "native.disable()\n"
            "c = jax.jit(lambda k: jax.random.bits(k, (5,)) + 0)(jax.random.PRNGKey(1))\n"
            "assert (np.asarray(a) == np.asarray(c)).all()\n"
            "messages = [str(w.message) for w in caught if 'native threefry' in str(w.message)]\n"
            "assert len(messages) == 1, messages\n"
            "print(messages[0])\n")
    env = {**os.environ, "CC": str(tmp_path / "no-such-compiler"), "JAXRL_NATIVE_DIR": str(tmp_path),
           "JAX_PLATFORMS": "cpu", "JAX_ENABLE_COMPILATION_CACHE": "false"}
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "no-such-compiler" in out.stdout
