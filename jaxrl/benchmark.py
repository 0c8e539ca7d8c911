"""`jaxrl benchmark`: time PPO on CartPole-v1 with the common reference config, ours and
(optionally) Stable-Baselines3's, in one run on this machine, and write docs/benchmarks.md.

Reference config: 4 envs x 128 steps, 500k env steps, 4 epochs x 4 minibatches, 64-64 tanh,
lr 2.5e-4 annealed, gamma 0.99, GAE lambda 0.95, clip 0.2 (policy and value), entropy 0.01.

- cold: a fresh process from start to printed result (imports, compilation with the
  persistent cache disabled, training, evaluation);
- warm: training only, with the program already compiled (for SB3: `model.learn`);
- seeds: warm wall time of 1, 4, 16 ... seeds vmapped into one program.

Stable-Baselines3 runs in its own virtual environment (created on first use, never a
dependency of jaxrl) with the same hyperparameters.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REFERENCE = dict(num_envs=4, num_steps=128, num_minibatches=4, update_epochs=4,
                 hidden_sizes=(64, 64), activation="tanh", learning_rate=2.5e-4, anneal_lr=True,
                 gamma=0.99, gae_lambda=0.95, clip_eps=0.2, clip_value_loss=True, ent_coef=0.01,
                 vf_coef=0.5, max_grad_norm=0.5)
SB3_VENV = Path.home() / ".cache" / "jaxrl" / "peers" / "sb3"
SB3_REQUIREMENTS = ["torch==2.13.0", "stable-baselines3==2.9.2", "gymnasium==1.4.0"]


def _agent(total_steps: int):
    import envs
    from jaxrl.algos import ppo

    env, env_params = envs.make("CartPole-v1")
    return ppo.make(env, env_params, ppo.PPOConfig(total_steps=total_steps, **REFERENCE))


def time_ours(total_steps: int, num_seeds: int, repeats: int = 2) -> dict:
    """Compile once, then time `repeats` warm runs of `num_seeds` vmapped seeds."""
    import jax
    import numpy as np

    from jaxrl import evaluate, train

    agent = _agent(total_steps)
    iterations = total_steps // agent.steps_per_iteration
    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    t = time.perf_counter()
    program = jax.jit(jax.vmap(train(agent, iterations))).lower(keys).compile()
    compile_seconds = time.perf_counter() - t
    warm = []
    for _ in range(repeats):
        t = time.perf_counter()
        states, _ = jax.block_until_ready(program(keys))
        warm.append(time.perf_counter() - t)
    params = jax.vmap(agent.policy_params)(states)
    returns, _ = jax.jit(jax.vmap(lambda p, k: evaluate(agent, p, k, 10)))(
        params, jax.random.split(jax.random.PRNGKey(1), num_seeds))
    steps = iterations * agent.steps_per_iteration
    return {
        "num_seeds": num_seeds,
        "env_steps_per_seed": steps,
        "compile_seconds": compile_seconds,
        "warm_seconds": min(warm),
        "steps_per_second": steps * num_seeds / min(warm),
        "mean_return": float(np.mean(returns)),
        "min_seed_return": float(np.min(np.mean(returns, axis=1))),
    }


def _cold_worker(total_steps: int) -> None:
    """Entry point of the cold-start subprocess: no compilation cache, one seed."""
    print(json.dumps(time_ours(total_steps, 1, repeats=1)))


def time_ours_cold(total_steps: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", f"from jaxrl.benchmark import _cold_worker; _cold_worker({total_steps})"],
        capture_output=True, text=True, env=env, check=True,
    )
    cold = time.perf_counter() - t
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["cold_seconds"] = cold
    return result


def ensure_sb3_venv(path: Path) -> Path:
    """The interpreter of a virtual environment with Stable-Baselines3 (created if missing)."""
    python = path / "bin" / "python"
    if not python.exists():
        print(f"creating {path} for Stable-Baselines3 ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *SB3_REQUIREMENTS], check=True)
    return python


def time_sb3(python: Path, total_steps: int, seed: int = 0) -> dict:
    script = Path(__file__).parent / "peers" / "sb3_ppo.py"
    t = time.perf_counter()
    out = subprocess.run([str(python), str(script), str(total_steps), str(seed)],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["cold_seconds"] = time.perf_counter() - t
    return result


def machine() -> dict:
    import jax

    cpu = platform.processor()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "jax": jax.__version__,
            "device": str(jax.devices()[0])}


def write_markdown(path: Path, results: dict, command: str) -> None:
    m = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Measured by `scripts/benchmark.py` (same as `jaxrl benchmark`); every figure below comes",
        "from one run of the command on the machine described, nothing from elsewhere.",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}; Python {m['python']}, "
        f"jax {m['jax']} on `{m['device']}`. Date: {results['date']}.",
        "",
        "## PPO, CartPole-v1, reference config",
        "",
        "4 envs x 128 steps, 4 epochs x 4 minibatches, 64-64 tanh, lr 2.5e-4 annealed, "
        f"{results['total_steps']:,} env steps, one seed. Return: deterministic evaluation, 10 episodes.",
        "",
        "| | cold (process start to result) | compile | warm (training only) | env steps/s (warm) | return |",
        "|---|---|---|---|---|---|",
    ]
    ours = results["ours_cold"]
    lines.append(
        f"| jaxrl | {ours['cold_seconds']:.1f} s | {ours['compile_seconds']:.1f} s | "
        f"{results['seeds'][0]['warm_seconds']:.2f} s | {results['seeds'][0]['steps_per_second']:,.0f} | "
        f"{ours['mean_return']:.1f} |"
    )
    sb3 = results.get("sb3")
    if sb3:
        lines.append(
            f"| Stable-Baselines3 {sb3['versions']['stable_baselines3']} (torch {sb3['versions']['torch']}, "
            f"{sb3['torch_threads']} threads) | {sb3['cold_seconds']:.1f} s | - | {sb3['learn_seconds']:.1f} s | "
            f"{sb3['total_steps'] / sb3['learn_seconds']:,.0f} | {sb3['mean_return']:.1f} |"
        )
        lines += [
            "",
            f"Speed-up, warm: **{sb3['learn_seconds'] / results['seeds'][0]['warm_seconds']:.1f}x**; "
            f"cold: **{sb3['cold_seconds'] / ours['cold_seconds']:.1f}x**.",
        ]
    lines += [
        "",
        "## Cost of vmapped seeds",
        "",
        "Warm wall time of one compiled program training N seeds at once (same config).",
        "",
        "| seeds | warm seconds | relative to 1 seed | env steps/s (all seeds) | mean return | worst seed |",
        "|---|---|---|---|---|---|",
    ]
    base = results["seeds"][0]["warm_seconds"]
    for r in results["seeds"]:
        lines.append(
            f"| {r['num_seeds']} | {r['warm_seconds']:.2f} | {r['warm_seconds'] / base:.2f}x | "
            f"{r['steps_per_second']:,.0f} | {r['mean_return']:.1f} | {r['min_seed_return']:.1f} |"
        )
    lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="jaxrl benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--total-steps", type=int, default=500_000)
    parser.add_argument("--seeds", default="1,4,16", help="comma-separated vmapped seed counts")
    parser.add_argument("--sb3", action="store_true", help="also time Stable-Baselines3 PPO")
    parser.add_argument("--sb3-venv", type=Path, default=SB3_VENV,
                        help=f"virtual environment for SB3 (created if missing; default {SB3_VENV})")
    parser.add_argument("--quick", action="store_true", help="100k steps, seeds 1,4 (a smoke run)")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args(argv)
    if args.quick:
        args.total_steps, args.seeds = 100_000, "1,4"
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.total_steps < 512 or any(s < 1 for s in seeds):
        print("error: --total-steps must be >= 512 and --seeds positive integers", file=sys.stderr)
        return 2
    command = "python scripts/benchmark.py " + " ".join(argv if argv is not None else sys.argv[2:])
    results = {"date": time.strftime("%Y-%m-%d"), "total_steps": args.total_steps,
               "command": command.strip()}
    print("jaxrl cold start ...", file=sys.stderr)
    results["ours_cold"] = time_ours_cold(args.total_steps)
    results["seeds"] = []
    for n in seeds:
        print(f"jaxrl warm, {n} seed(s) ...", file=sys.stderr)
        results["seeds"].append(time_ours(args.total_steps, n))
    if args.sb3:
        print("Stable-Baselines3 ...", file=sys.stderr)
        results["sb3"] = time_sb3(ensure_sb3_venv(args.sb3_venv), args.total_steps)
    results["machine"] = machine()
    write_markdown(args.out, results, results["command"])
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
