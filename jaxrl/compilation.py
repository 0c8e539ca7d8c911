"""How our programs are compiled.

XLA's CPU backend spends most of the compile time of a small program in LLVM code
generation and in its fusion emitters. Programs that run once (`agent.init`) or briefly and
rarely (an evaluation) pay that cost without earning it back, so `jit_light` compiles them
with LLVM optimisation off and the classic fused-loop emitters instead. Measured on the
2-core CPU (docs/benchmarks.md, "Compile options"): DQN CartPole init 1.1 s -> 0.3 s and
evaluation 0.97 s -> 0.35 s of compile; SAC brax/inverted_pendulum evaluation 6.0 s -> 3.1 s
of compile while one evaluation runs 15 ms -> 31 ms. Training chunks, which run for most of
a run's wall time, keep XLA's defaults (the same options make a PPO chunk ~4x slower).
"""

from __future__ import annotations

from typing import Any, Callable

import jax

LIGHT_CPU_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}


def light_compiler_options() -> dict[str, Any] | None:
    """Compiler options for programs that run once or rarely; None (XLA's defaults) off CPU."""
    return dict(LIGHT_CPU_COMPILER_OPTIONS) if jax.default_backend() == "cpu" else None


def jit_light(fn: Callable, **jit_kwargs) -> Callable:
    """`jax.jit(fn, **jit_kwargs)` compiled for a program that runs once or rarely (an init,
    an evaluation): a fraction of the compile time, at some cost in run time on CPU."""
    return jax.jit(fn, compiler_options=light_compiler_options(), **jit_kwargs)
