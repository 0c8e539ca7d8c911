"""How our programs are compiled.

XLA's CPU backend spends most of the compile time of a small program in LLVM code
generation and in its fusion emitters. Programs that run once (`agent.init`) or briefly and
rarely (an evaluation) pay that cost without earning it back, so `jit_light` compiles them
with less of it (docs/optimisation.md has the measurements):

- `same_numerics=True` (for programs whose outputs are trained on, like `agent.init`):
  only the classic fused-loop emitters instead of the fusion emitters. The LLVM
  optimisation level stays, so every float comes out bit for bit as with XLA's defaults
  (tests/test_benchmark.py checks the inits) and `jaxrl train` trains exactly what
  `jax.jit(train(agent, n))` trains.
- otherwise (evaluations, whose outputs are only reported): also LLVM -O0. Floats may
  differ in the last bits (no FMA contraction, other vectorised math), which greedy
  evaluation returns do not notice; DQN CartPole evaluation compiles in 0.35 s instead of
  0.97 s, SAC brax/inverted_pendulum's in 3.1 s instead of 6.0 s (one evaluation runs
  15 ms -> 31 ms).

Training chunks, which run for most of a run's wall time, keep XLA's defaults (the -O0 set
makes a PPO chunk ~4x slower).

A run compiles several programs (init, training chunks, evaluation). `Compiler` traces
each on the calling thread and compiles it on a background thread, so the Python-bound
tracing of the next program overlaps the compilation of the previous ones (XLA releases
the GIL while it compiles). The programs are the same; only the wall time changes.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

import jax

SAME_NUMERICS_CPU_COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False}
LIGHT_CPU_COMPILER_OPTIONS = {**SAME_NUMERICS_CPU_COMPILER_OPTIONS, "xla_backend_optimization_level": 0}


def light_compiler_options(same_numerics: bool = False) -> dict[str, Any] | None:
    """Compiler options for programs that run once or rarely; None (XLA's defaults) off CPU."""
    if jax.default_backend() != "cpu":
        return None
    return dict(SAME_NUMERICS_CPU_COMPILER_OPTIONS if same_numerics else LIGHT_CPU_COMPILER_OPTIONS)


def jit_light(fn: Callable, *, same_numerics: bool = False, **jit_kwargs) -> Callable:
    """`jax.jit(fn, **jit_kwargs)` compiled for a program that runs once or rarely: a
    fraction of the compile time, at some cost in run time on CPU. `same_numerics=True`
    keeps results bit-identical to `jax.jit` (use it for anything trained on)."""
    return jax.jit(fn, compiler_options=light_compiler_options(same_numerics), **jit_kwargs)


def use_cpu_devices(count: int) -> None:
    """Split the host CPU into `count` XLA devices, each running its programs on one thread.

    On a multi-core CPU this is the fast layout for many seeds: with the seeds sharded one
    slice per device (`run(..., shard="seeds")`, `jaxrl train --cpu-devices N`), each core
    trains its own seeds, where one device's intra-op thread pool spends more on hand-offs
    than it gains on the small kernels of an RL update (docs/benchmarks.md: 16 PPO seeds on
    2 cores, 2 devices against 1). Must run before JAX starts its backends (before the first
    computation); raises otherwise, naming the environment variable that does the same.
    """
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"cpu devices={count!r}: must be a positive integer, e.g. os.cpu_count().")
    from jax._src import xla_bridge

    if xla_bridge.backends_are_initialized():
        if jax.default_backend() == "cpu" and jax.device_count() == count:
            return
        raise RuntimeError(
            f"cpu devices={count}: JAX has already started with {jax.device_count()} "
            f"{jax.default_backend()} device(s). Call use_cpu_devices({count}) (or pass "
            f"--cpu-devices {count}) before any JAX computation, or start Python with "
            f"XLA_FLAGS='--xla_force_host_platform_device_count={count} --xla_cpu_multi_thread_eigen=false'.")
    jax.config.update("jax_num_cpu_devices", count)
    flags = re.sub(r"--xla_cpu_multi_thread_eigen=\S+", "", os.environ.get("XLA_FLAGS", ""))
    os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()


def use_cpu_threads(count: int) -> None:
    """Run the CPU backend's programs on `count` worker threads (XLA's default: one per core).

    One seed of a small network (classic control: 64-wide MLPs, a few envs) runs fastest on
    one thread. Its kernels take microseconds, and with a worker per core XLA hands
    independent kernels to the other core and back, which costs more than the overlap
    gains (docs/optimisation.md: PPO's reference config 7-21% faster on one, the DQN, SAC,
    PQN and PPO classic-control presets 6-16%). Large kernels need the threads:
    Breakout-MinAtar PPO (the MinAtar CNN) ran 1.85x slower on one. Devices made by
    `use_cpu_devices` share these threads, so use at least one thread per device.

    Sets `PJRT_NPROC`, which XLA's CPU client reads when JAX starts its backends: call it
    before any JAX computation; raises otherwise, naming the environment variable.
    """
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"cpu threads={count!r}: must be a positive integer, e.g. 1 for one small seed.")
    from jax._src import xla_bridge

    if xla_bridge.backends_are_initialized():
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        started = os.environ.get("PJRT_NPROC") or str(cores)
        if jax.default_backend() == "cpu" and started == str(count):
            return
        raise RuntimeError(
            f"cpu threads={count}: JAX has already started its {jax.default_backend()} backend. "
            f"Call use_cpu_threads({count}) (or pass --cpu-threads {count}) before any JAX "
            f"computation, or start Python with PJRT_NPROC={count} in the environment.")
    os.environ["PJRT_NPROC"] = str(count)


class Compiler:
    """Trace on the calling thread, compile in the background.

    `submit(jitted, *args)` lowers `jitted` for `args` (arrays or `jax.ShapeDtypeStruct`s)
    at once and returns a `Future` of the compiled program; `result()` waits for it. Use it
    as a context manager so the worker threads are joined:

        with Compiler() as compiler:
            init = compiler.submit(jax.jit(agent.init), key)
            chunk = compiler.submit(jax.jit(step), jax.eval_shape(agent.init, key))
            state = init.result()(key)
            ...

    Two workers, so one program's compile need not wait for another's. The gain is the
    overlap of tracing with compiling: XLA already spreads one compilation over the cores
    it has (on 2 cores, three programs compiled from three threads at once took as long as
    one after another; docs/optimisation.md).
    """

    def __init__(self, workers: int = 2):
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="jaxrl-compile")

    def submit(self, jitted, *args) -> Future:
        return self._pool.submit(jitted.lower(*args).compile)

    def __enter__(self) -> "Compiler":
        return self

    def __exit__(self, *exc) -> None:
        self._pool.shutdown(wait=True, cancel_futures=exc[0] is not None)
