"""What the minibatch shuffle costs: `jaxrl.rollout.permutation` against
`jax.random.permutation`, alone and inside PPO's reference program (docs/optimisation.md).

    taskset -c 0 python scripts/shuffle_cost.py                 # 512-element shuffles, 1 and 8 vmapped
    taskset -c 0 python scripts/shuffle_cost.py --ppo-seeds 1   # PPO CartPole-v1, 100k steps, A/B

The first form times a scan of 1000 shuffles of 512 elements (one PPO epoch's batch). The
second compiles PPO's reference program (100k env steps per seed, `--ppo-seeds` vmapped
seeds, one CPU device) twice, once with each shuffle, and alternates warm runs of the two.
`taskset -c 0` keeps everything on one core, as each seed slice runs with `--cpu-devices`.
"""

from __future__ import annotations

import argparse

from jaxrl.benchmark import _best_seconds
from jaxrl.compilation import use_cpu_devices


def shuffles(batch: int, size: int = 512, count: int = 1000) -> None:
    import jax

    from jaxrl.rollout import permutation

    keys = jax.random.split(jax.random.PRNGKey(0), batch)
    for name, shuffle in [("jax.random.permutation", jax.random.permutation),
                          ("jaxrl.rollout.permutation", permutation)]:
        def run(key, shuffle=shuffle):
            def body(total, k):
                return total + shuffle(k, size)[:4].sum(), None
            return jax.lax.scan(body, 0, jax.random.split(key, count))[0]

        seconds = _best_seconds(jax.jit(jax.vmap(run) if batch > 1 else lambda k: run(k[0])), (keys,), 3)
        print(f"{name:26s} {batch} x {size}: {seconds / count * 1e6:7.1f} us per shuffle", flush=True)


def ppo(num_seeds: int, total_steps: int = 100_000, rounds: int = 2) -> None:
    import jax

    import jaxrl.algos.ppo as ppo_module
    from jaxrl.benchmark import _agent
    from jaxrl.rollout import permutation
    from jaxrl.train import over_seeds, updates

    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    programs = {}
    for name, shuffle in [("jax.random.permutation", jax.random.permutation),
                          ("jaxrl.rollout.permutation", permutation)]:
        ppo_module.permutation = shuffle  # the name PPO's minibatch split calls, while tracing
        agent = _agent(total_steps)
        iterations = total_steps // agent.steps_per_iteration
        init = jax.jit(over_seeds(agent.init, num_seeds))
        program = jax.jit(lambda s, agent=agent, iterations=iterations:
                          over_seeds(updates(agent, iterations), num_seeds)(s)[0])
        programs[name] = (init, program.lower(jax.eval_shape(init, keys)).compile(), iterations)
    ppo_module.permutation = permutation
    for _ in range(rounds):
        for name, (init, program, iterations) in programs.items():
            seconds = _best_seconds(program, (init(keys),), 3)
            print(f"{name:26s} PPO {num_seeds} seed(s) x {iterations} iterations: {seconds:.3f} s "
                  f"({seconds / iterations / num_seeds * 1e6:.0f} us per seed-iteration)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ppo-seeds", type=int, default=None)
    args = parser.parse_args()
    use_cpu_devices(1)
    if args.ppo_seeds is None:
        shuffles(1)
        shuffles(8)
    else:
        ppo(args.ppo_seeds)


if __name__ == "__main__":
    main()
