"""Compile seconds and run seconds of a preset's programs under XLA:CPU compile options.

    python scripts/compile_options.py dqn CartPole-v1
    python scripts/compile_options.py sac brax/inverted_pendulum --chunk 1000

For each option set (XLA defaults; no fusion emitters; + LLVM -O1; + LLVM -O0, the
`jaxrl.compilation.jit_light` set) compiles the preset's `init`, a training chunk of
`--chunk` env steps and a 10-episode deterministic evaluation, each from scratch, and times
one run of each after a warm-up. The chunk runs from the initial state, so for off-policy
presets it times the warm-up before `learning_starts`, not a learning chunk. The numbers
behind docs/optimisation.md.
"""

from __future__ import annotations

import argparse
import time

OPTION_SETS = {
    "default": None,
    "no-fusion-emitters": {"xla_cpu_use_fusion_emitters": False},
    "no-fusion-emitters,O1": {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 1},
    "no-fusion-emitters,O0": {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 0},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("algo")
    parser.add_argument("preset")
    parser.add_argument("--chunk", type=int, default=10_000, help="env steps per training chunk")
    args = parser.parse_args()

    import jax

    jax.config.update("jax_enable_compilation_cache", False)
    from jaxrl import evaluate
    from jaxrl.benchmark import _preset_agent
    from jaxrl.train import updates

    agent, _ = _preset_agent(args.algo, args.preset)
    length = max(1, args.chunk // agent.steps_per_iteration)

    def chunk(state):
        return updates(agent, length)(state)[0]

    def evaluation(params, key):
        return evaluate(agent, params, key, 10)[0].mean()

    key = jax.random.PRNGKey(0)
    state = jax.jit(agent.init)(key)
    params = agent.policy_params(state)
    print(f"{'options':24s} {'program':10s} {'compile s':>10s} {'run s':>10s}")
    for name, options in OPTION_SETS.items():
        # A new jitted function per program and option set: each is compiled from scratch.
        for program, fn, fn_args in (("init", agent.init, (key,)), ("chunk", chunk, (state,)),
                                     ("evaluate", evaluation, (params, key))):
            t = time.perf_counter()
            compiled = jax.jit(lambda *a, fn=fn: fn(*a), compiler_options=options).lower(*fn_args).compile()
            compile_seconds = time.perf_counter() - t
            jax.block_until_ready(compiled(*fn_args))
            t = time.perf_counter()
            jax.block_until_ready(compiled(*fn_args))
            print(f"{name:24s} {program:10s} {compile_seconds:10.2f} {time.perf_counter() - t:10.4f}", flush=True)


if __name__ == "__main__":
    main()
