"""Test-suite setup: CPU only, persistent compilation cache on (CI reruns skip compiling)."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

from jaxrl.train import enable_compilation_cache  # noqa: E402

enable_compilation_cache(os.environ.get("JAXRL_CACHE_DIR"))
jax.config.update("jax_platforms", "cpu")


def pytest_collection_modifyitems(config, items):
    """Learning tests (marked slow, 0.5-3 minutes each) first, in their own order: each
    worker of `-n 2` starts on a long one and the short tests fill in around them, instead
    of the longest ones starting last and running alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
