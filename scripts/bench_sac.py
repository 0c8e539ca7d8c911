"""SAC on Pendulum-v1: our preset's wall time to a deterministic evaluation return of -200
(process start to the first evaluation at or above it, compilation included) against
Stable-Baselines3 SAC with its RL Zoo hyperparameters, and env-step throughput with
identical hyperparameters (1 env, one gradient step per env step, 256-256, batch 256).

    python scripts/bench_sac.py ours-threshold [--seed S] [--no-cache]
    python scripts/bench_sac.py ours-throughput [--steps N]
    python scripts/bench_sac.py sb3-threshold | sb3-throughput   (runs jaxrl/peers/sb3_sac.py
                                                                  in the SB3 venv)
Each prints one JSON line. Results: docs/continuous.md.
"""

import time

process_start = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

SB3_PYTHON = os.path.expanduser("~/.cache/jaxrl/peers/sb3/bin/python")
PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "jaxrl", "peers", "sb3_sac.py")


def ours_threshold(args):
    import jax
    import envs
    from jaxrl import presets
    from jaxrl import config as cfg
    from jaxrl.algos import sac
    from jaxrl.evaluation import evaluate
    from jaxrl.train import enable_compilation_cache

    if not args.no_cache:
        enable_compilation_cache()
    preset = presets.get("sac", "Pendulum-v1")
    config = cfg.apply_overrides(sac.SACConfig(), preset.overrides)
    env, params = envs.make("Pendulum-v1")
    agent = sac.make(env, params, config)
    chunk = max(1, args.eval_every // agent.steps_per_iteration)
    key = jax.random.PRNGKey(args.seed)
    state = jax.jit(agent.init)(key)
    train = jax.jit(lambda s: jax.lax.scan(lambda c, _: agent.update(c), s, None, length=chunk)[0],
                    donate_argnums=0)
    evaluate_fn = jax.jit(lambda s, k: evaluate(agent, agent.policy_params(s), k, 10)[0].mean())
    evaluations, reached, steps = [], None, 0
    while steps < args.max_steps:
        state = train(state)
        steps += chunk * agent.steps_per_iteration
        mean = float(evaluate_fn(state, jax.random.fold_in(key, steps)))
        elapsed = time.perf_counter() - process_start
        evaluations.append({"env_steps": steps, "mean_return": mean, "seconds": elapsed})
        if mean >= args.threshold:
            reached = {"env_steps": steps, "seconds": elapsed, "mean_return": mean}
            break
    return {"library": "jaxrl", "mode": "threshold", "seed": args.seed, "cache": not args.no_cache,
            "reached": reached, "evaluations": evaluations}


def ours_throughput(args):
    import jax
    import envs
    from jaxrl.algos import sac
    from jaxrl.train import enable_compilation_cache

    enable_compilation_cache()
    config = sac.SACConfig(num_envs=1, gradient_steps=1, batch_size=256, hidden_sizes=(256, 256),
                           buffer_size=args.buffer_size, learning_starts=100, actor_lr=1e-3,
                           critic_lr=1e-3, alpha_lr=1e-3)
    env, params = envs.make("Pendulum-v1")
    agent = sac.make(env, params, config)
    state = jax.jit(agent.init)(jax.random.PRNGKey(args.seed))
    chunk = 500
    train = jax.jit(lambda s: jax.lax.scan(lambda c, _: agent.update(c), s, None, length=chunk)[0],
                    donate_argnums=0)
    t = time.perf_counter()
    state = jax.block_until_ready(train(state))  # compile + first chunk
    first = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(args.steps // chunk - 1):
        state = train(state)
    jax.block_until_ready(state)
    seconds = time.perf_counter() - t
    steps = (args.steps // chunk - 1) * chunk
    return {"library": "jaxrl", "mode": "throughput", "env_steps": steps, "learn_seconds": seconds,
            "steps_per_second": steps / seconds, "compile_and_first_chunk_seconds": first,
            "buffer_size": args.buffer_size}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["ours-threshold", "ours-throughput", "sb3-threshold", "sb3-throughput"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=-200.0)
    parser.add_argument("--eval-every", type=int, default=1000, help="env steps between evaluations")
    parser.add_argument("--max-steps", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=5_000, help="throughput: env steps")
    parser.add_argument("--buffer-size", type=int, default=1_000_000, help="throughput: replay size")
    parser.add_argument("--no-cache", action="store_true", help="compile from scratch")
    args = parser.parse_args()
    if args.mode == "ours-threshold":
        result = ours_threshold(args)
    elif args.mode == "ours-throughput":
        result = ours_throughput(args)
    else:
        sub = ["threshold", str(args.seed), str(args.max_steps), str(args.eval_every), str(args.threshold)] \
            if args.mode == "sb3-threshold" else ["throughput", str(args.seed), str(args.steps)]
        out = subprocess.run([SB3_PYTHON, PEER, *sub], check=True, capture_output=True, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
