"""Test-suite setup: CPU only, persistent compilation cache on (CI reruns skip compiling)."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

from jaxrl.train import enable_compilation_cache  # noqa: E402

enable_compilation_cache(os.environ.get("JAXRL_CACHE_DIR"))
jax.config.update("jax_platforms", "cpu")
