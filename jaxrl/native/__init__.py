"""Native CPU kernels: the hash behind `jax.random` (faster compiles) and a two-device swap.

Every `jax.random` call (split, fold_in, bits, uniform, normal, permutation ...) hashes its
key with threefry2x32. On CPU, jax lowers that hash to a rolled 5-iteration loop, and
XLA:CPU spends 0.3-0.5 s compiling each such loop: most of an `agent.init`'s compile time
(PPO's holds 14 of them) and a large part of a short run's cold start
(docs/optimisation.md has the measurements). Here the hash is instead one XLA custom call
to a 40-line C function (`threefry2x32.c`, built once per machine with the system C
compiler against jaxlib's FFI header and cached), which XLA compiles as a plain call.

`swap(x, axis_name)` gives each of the two devices of a mesh axis the other's `x`. On CPU
it is one call to `exchange.c` (two barriers on shared memory between the devices' threads),
where XLA's collectives cost 40-100 us each; elsewhere, or without the library, an
`all_gather`. It lets one seed's actor and critic learn on two cores (`jaxrl.train.run(...,
shard="networks")`).

The hash is integer arithmetic, so every program computes bit for bit what it computes with
jax's lowering (tests/test_native.py). `import jaxrl` installs it for the CPU platform;
`JAXRL_NATIVE_THREEFRY=0` (or `disable()`) keeps jax's lowering, as does a machine without a
C compiler (one warning, then jax's lowering). GPU and TPU lowerings are untouched.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path

import jax

SOURCES = tuple(Path(__file__).with_name(name) for name in ("threefry2x32.c", "exchange.c"))
HEADERS = (Path(__file__).with_name("ffi_handler.h"),)
TARGET_NAME = "jaxrl_threefry2x32"
EXCHANGE_TARGET = "jaxrl_exchange"
DEFAULT_BUILD_DIR = os.path.join(os.path.expanduser("~"), ".cache", "jaxrl", "native")

log = logging.getLogger(__name__)

# Process-wide switches of the lowering rule (read when a program is lowered).
_enabled = os.environ.get("JAXRL_NATIVE_THREEFRY", "1") not in ("0", "false", "False", "")
_library: ctypes.CDLL | None = None
_failed = False
_installed = False
_load_lock = threading.Lock()  # programs may be lowered from several threads


class NativeBuildError(RuntimeError):
    """The kernel could not be built here (no compiler, or it failed): jax's lowering is used."""


def build(build_dir: str | os.PathLike | None = None) -> Path:
    """Compile the C sources (`SOURCES`) into one shared library (once per source, jaxlib
    version and machine; later calls return the cached file) and return its path.

    The directory is `build_dir`, `$JAXRL_NATIVE_DIR` or ~/.cache/jaxrl/native. The compiler
    is `$CC` or `cc`. Raises `NativeBuildError` naming the command when it fails.
    """
    import jaxlib

    build_dir = Path(build_dir or os.environ.get("JAXRL_NATIVE_DIR") or DEFAULT_BUILD_DIR)
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise NativeBuildError("no C compiler found (set $CC, or install gcc)")
    sources = b"".join(path.read_bytes() for path in SOURCES + HEADERS)
    tag = hashlib.sha256(sources + jaxlib.__version__.encode()
                         + os.uname().machine.encode() + compiler.encode()).hexdigest()[:16]
    path = build_dir / f"jaxrl_native-{tag}.so"
    if path.exists():
        return path
    build_dir.mkdir(parents=True, exist_ok=True)
    # Build under a temporary name and rename: concurrent builders never see half a file.
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=build_dir)
    os.close(fd)
    command = [compiler, "-O3", "-std=c11", "-shared", "-fPIC", "-I", jax.ffi.include_dir(),
               *map(str, SOURCES), "-o", tmp]
    try:
        try:
            out = subprocess.run(command, check=False, capture_output=True, text=True)
        except OSError as e:
            raise NativeBuildError(f"`{' '.join(command)}` could not run: {e}") from e
        if out.returncode != 0:
            raise NativeBuildError(f"`{' '.join(command)}` failed:\n{out.stderr[-2000:]}")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _load() -> bool:
    """Build (if needed), load and register the kernel once; False if that failed."""
    with _load_lock:
        if _library is None and not _failed:
            _build_and_register()
    return _library is not None


def _build_and_register() -> None:
    global _library, _failed
    try:
        library = ctypes.cdll.LoadLibrary(str(build()))
        jax.ffi.register_ffi_target(TARGET_NAME, jax.ffi.pycapsule(library.jaxrl_threefry2x32),
                                    platform="cpu")
        # Elementwise, so XLA may split it along the leading (seed) axis of sharded programs.
        jax.ffi.register_ffi_target_as_batch_partitionable(TARGET_NAME)
        jax.ffi.register_ffi_target(EXCHANGE_TARGET, jax.ffi.pycapsule(library.jaxrl_exchange),
                                    platform="cpu")
        _library = library
    except Exception as e:  # noqa: BLE001 - any failure means: keep jax's lowering
        _failed = True
        warnings.warn(f"jaxrl: native threefry kernel unavailable, using jax's lowering "
                      f"(compiles slower, same results): {e}", RuntimeWarning, stacklevel=3)


def enabled() -> bool:
    """Whether programs lowered from now on use the native kernel (when it builds)."""
    return _enabled and _installed


def enable() -> None:
    """Lower threefry2x32 to the native kernel on CPU (the default after `import jaxrl`)."""
    global _enabled
    _enabled = True
    install()


def disable() -> None:
    """Lower threefry2x32 as jax does, for programs lowered from now on."""
    global _enabled
    _enabled = False


def install() -> None:
    """Register the CPU lowering rule (idempotent; `import jaxrl` calls it). The rule picks
    the native kernel or jax's own lowering each time a program is lowered."""
    global _installed
    if _installed:
        return
    from jax._src.interpreters import mlir
    from jax._src.random import threefry2x32 as jax_threefry

    jax_rule = jax_threefry._threefry2x32_cpu_lowering_rule
    native_rule = jax.ffi.ffi_lowering(TARGET_NAME)

    def lowering(ctx, key0, key1, count0, count1):
        if not _enabled or not _load():
            return jax_rule(ctx, key0, key1, count0, count1)
        aval_out = ctx.avals_out[0]
        if 0 in aval_out.shape:
            zeros = mlir.full_like_aval(ctx, 0, aval_out)
            return [zeros, zeros]
        # The kernel takes four buffers of the output's shape (the primitive broadcasts).
        rank = len(aval_out.shape)
        operands = [mlir.broadcast_in_dim(ctx, x, aval_out,
                                          broadcast_dimensions=range(rank - len(aval.shape), rank))
                    for x, aval in zip((key0, key1, count0, count1), ctx.avals_in)]
        return native_rule(ctx.replace(avals_in=(aval_out,) * 4), *operands)

    mlir.register_lowering(jax_threefry.threefry2x32_p, lowering, platform="cpu")
    _installed = True
    log.debug("native threefry2x32 lowering installed (enabled=%s)", _enabled)


def swap(x: jax.Array, axis_name: str) -> jax.Array:
    """The other device's `x`, inside `shard_map` over a mesh axis of exactly two devices.

    Bit for bit a copy, whichever way it runs: on CPU one call to the native exchange (the
    two devices' threads meet on shared memory), on other platforms or without a C compiler
    an `all_gather`. Both devices must call it at the same points of one program. Only one
    program at a time per process may swap on CPU (the native exchange has one channel).
    """
    import jax.numpy as jnp

    size = jax.lax.axis_size(axis_name)
    if size != 2:
        raise ValueError(f"swap over axis {axis_name!r} of {size} devices: it needs exactly 2.")
    index = jax.lax.axis_index(axis_name)

    def gathered(x, index):
        return jnp.take(jax.lax.all_gather(x, axis_name), 1 - index, axis=0)

    if sys.platform == "win32" or not _load():
        return gathered(x, index)

    def native(x, index):
        other = jax.ffi.ffi_call(EXCHANGE_TARGET, jax.ShapeDtypeStruct(x.shape, x.dtype),
                                 has_side_effect=True, vmap_method="broadcast_all")(
            x, index.astype(jnp.int32))
        # Typed as varying over the axis, as the all_gather branch is (it differs per device).
        varying = (jax.typeof(index).manual_axis_type.varying
                   - jax.typeof(other).manual_axis_type.varying)
        return jax.lax.pcast(other, tuple(varying), to="varying") if varying else other

    return jax.lax.platform_dependent(x, index, cpu=native, default=gathered)


if sys.platform == "win32":  # the build above assumes a POSIX C toolchain
    _enabled = False
