"""Where a preset's cold start goes, phase by phase, in one fresh process.

    JAX_ENABLE_COMPILATION_CACHE=false python scripts/cold_start.py dqn CartPole-v1
    JAX_ENABLE_COMPILATION_CACHE=false python scripts/cold_start.py sac Pendulum-v1 --chunk 1000

Prints the seconds of each phase of what the time-to-threshold benchmark does before its
first evaluation (`jaxrl.benchmark.time_to_threshold`, the programs of
`jaxrl.benchmark.threshold_programs`): importing jax and jaxrl, building
the agent, then tracing and compiling `init`, a training chunk of `--chunk` env steps and a
10-episode evaluation, one after another (the benchmark overlaps each compile with the next
trace, so its wall time is less than the sum), and one run of each. Turn the persistent
compilation cache off, as above, or the compiles are cache reads.
"""

from __future__ import annotations

import time

_START = time.perf_counter()

import argparse  # noqa: E402
import sys  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("algo")
    parser.add_argument("preset")
    parser.add_argument("--chunk", type=int, default=5000, help="env steps per training chunk (default 5000)")
    args = parser.parse_args()

    last = [_START]

    def phase(name: str) -> None:
        now = time.perf_counter()
        print(f"{name:<22} {now - last[0]:6.2f} s", flush=True)
        last[0] = now

    import jax

    import jaxrl  # noqa: F401

    phase("import jax + jaxrl")
    from jaxrl.benchmark import _preset_agent, threshold_programs

    agent, _ = _preset_agent(args.algo, args.preset)
    phase("build the agent")
    key = jax.random.PRNGKey(0)
    iterations, init, advance, score = threshold_programs(agent, args.chunk)
    lowered = init.lower(key)
    phase("trace init")
    state_shape = jax.eval_shape(init, key)
    init = lowered.compile()
    phase("compile init")
    lowered = advance.lower(state_shape)
    phase("trace chunk")
    advance = lowered.compile()
    phase("compile chunk")
    lowered = score.lower(jax.eval_shape(agent.policy_params, state_shape), key)
    phase("trace evaluation")
    score = lowered.compile()
    phase("compile evaluation")
    state = jax.block_until_ready(init(key))
    phase("run init")
    state = jax.block_until_ready(advance(state))
    phase(f"run chunk ({iterations * agent.steps_per_iteration} steps)")
    jax.block_until_ready(score(agent.policy_params(state), key))
    phase("run evaluation")
    print(f"{'total':<22} {time.perf_counter() - _START:6.2f} s")


if __name__ == "__main__":
    sys.exit(main())
