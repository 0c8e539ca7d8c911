"""`jaxrl benchmark`: time PPO on CartPole-v1 with the common reference config, and the
time our value-based presets and PPO take to reach a return of 475 on CartPole-v1, ours and
(optionally, `--sb3`) Stable-Baselines3's, in one run on this machine; write
docs/benchmarks.md and docs/benchmarks.json.

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

_PROCESS_START = time.perf_counter()

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


def _preset_agent(algo_name: str, preset_name: str, overrides=None):
    import envs
    from jaxrl import algos, presets
    from jaxrl import config as cfg

    preset = presets.get(algo_name, preset_name)
    algo = algos.get(algo_name)
    config = cfg.apply_overrides(algo.Config(), {**preset.overrides, "total_steps": preset.total_steps,
                                                 **(overrides or {})})
    env, env_params = envs.make(preset.env, **preset.env_kwargs)
    return algo.make(env, env_params, config), preset


def time_to_threshold(algo_name: str, preset_name: str, threshold: float, eval_every: int,
                      process_start: float, seed: int = 0, eval_episodes: int = 10,
                      overrides=None) -> dict:
    """Train one seed of a preset, evaluating deterministically (`eval_episodes` episodes)
    every `eval_every` env steps, until the mean evaluation return reaches `threshold` or
    the preset's budget ends. Seconds are wall time since `process_start` (imports,
    compilation, training and every evaluation included)."""
    import jax
    import numpy as np

    from jaxrl import evaluate
    from jaxrl.compilation import jit_light

    agent, preset = _preset_agent(algo_name, preset_name, overrides)
    chunk = max(1, eval_every // agent.steps_per_iteration)
    num_chunks = max(1, agent.config.total_steps // (chunk * agent.steps_per_iteration))

    def advance(state):
        return jax.lax.scan(lambda s, _: (agent.update(s)[0], None), state, None, length=chunk)[0]

    advance = jax.jit(advance, donate_argnums=0)
    score = jit_light(lambda params, key: evaluate(agent, params, key, eval_episodes)[0].mean())
    state = jit_light(agent.init)(jax.random.PRNGKey(seed))
    evaluations, reached = [], None
    for i in range(num_chunks):
        state = advance(state)
        mean = float(score(agent.policy_params(state), jax.random.PRNGKey(10_000 + i)))
        steps = (i + 1) * chunk * agent.steps_per_iteration
        seconds = time.perf_counter() - process_start
        evaluations.append((steps, mean, seconds))
        if mean >= threshold:
            reached = {"env_steps": steps, "seconds": seconds, "return": mean}
            break
    return {"library": "jaxrl", "algo": algo_name, "preset": preset_name, "env": preset.env,
            "threshold": threshold, "reached": reached, "evaluations": evaluations,
            "cold_seconds": time.perf_counter() - process_start,
            "final_return": float(np.asarray(evaluations[-1][1]))}


def throughput_ours(algo_name: str, preset_name: str, overrides, total_steps: int) -> dict:
    """Warm env steps per second of one seed of a preset with `overrides` (compiled first)."""
    import jax

    from jaxrl import train

    agent, _ = _preset_agent(algo_name, preset_name, {**overrides, "total_steps": total_steps})
    iterations = total_steps // agent.steps_per_iteration
    key = jax.random.PRNGKey(0)
    t = time.perf_counter()
    program = jax.jit(train(agent, iterations)).lower(key).compile()
    compile_seconds = time.perf_counter() - t
    t = time.perf_counter()
    jax.block_until_ready(program(key))
    seconds = time.perf_counter() - t
    steps = iterations * agent.steps_per_iteration
    return {"env_steps": steps, "compile_seconds": compile_seconds, "seconds": seconds,
            "steps_per_second": steps / seconds}


def _threshold_worker(args_json: str) -> None:
    """Entry point of a time-to-threshold subprocess (prints one JSON line)."""
    kwargs = json.loads(args_json)
    print(json.dumps(time_to_threshold(process_start=_PROCESS_START, **kwargs)))


def time_to_threshold_subprocess(cache: bool, **kwargs) -> dict:
    """`time_to_threshold` in a fresh process, with the persistent compilation cache off
    (a true cold start) or on (a rerun on a machine that has compiled it before)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    env["JAX_ENABLE_COMPILATION_CACHE"] = "true" if cache else "false"
    # The clock starts before jaxrl (and so jax) is imported, as the SB3 worker's starts
    # before torch is.
    code = ("import time; start = time.perf_counter(); import jaxrl.benchmark as b; b._PROCESS_START = start; "
            + ("from jaxrl.train import enable_compilation_cache; enable_compilation_cache(); " if cache else "")
            + f"b._threshold_worker({json.dumps(json.dumps(kwargs))})")
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"time-to-threshold worker failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # Interpreter start-up before the worker's clock started: count it too.
    result["process_seconds"] = time.perf_counter() - t
    return result


def time_sb3_zoo(python: Path, algo: str, env_id: str, threshold: float, max_steps: int,
                 eval_every: int, seed: int = 0, identical: bool = False) -> dict:
    script = Path(__file__).parent / "peers" / "sb3_zoo.py"
    argv = [str(python), str(script), algo, env_id, str(threshold), str(max_steps), str(eval_every), str(seed)]
    if identical:
        argv.append("same-as-ours")
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


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


THRESHOLD_CASES = [
    # (algo, preset, threshold, eval_every env steps)
    ("dqn", "CartPole-v1", 475.0, 5_000),
    ("dqn", "CartPole-v1-rainbow", 475.0, 5_000),
    ("pqn", "CartPole-v1", 475.0, 5_000),
    ("ppo", "CartPole-v1", 475.0, 5_000),
]
IDENTICAL_DQN = dict(num_envs=1, num_steps=1, gradient_steps=1, batch_size=128, learning_starts=1000,
                     epsilon_decay_steps=20_000)  # matches peers/sb3_zoo.py IDENTICAL


def run_thresholds(sb3_python: Path | None, seeds=(0, 1, 2), identical_steps: int = 50_000) -> dict:
    """Time to a deterministic evaluation return of 475 on CartPole-v1, compile included,
    for our value-based presets and PPO (cold: compilation cache off) and for SB3 DQN with
    RL Zoo's hyperparameters; and DQN throughput with identical hyperparameters."""
    out = {"ours": [], "sb3": [], "seeds": list(seeds)}
    for algo, preset, threshold, every in THRESHOLD_CASES:
        for seed in seeds:
            print(f"jaxrl {algo} {preset} seed {seed} to {threshold} ...", file=sys.stderr)
            r = time_to_threshold_subprocess(False, algo_name=algo, preset_name=preset,
                                             threshold=threshold, eval_every=every, seed=seed)
            out["ours"].append({**r, "seed": seed})
    if sb3_python is not None:
        for seed in seeds:
            print(f"SB3 dqn (zoo) seed {seed} to 475 ...", file=sys.stderr)
            out["sb3"].append({**time_sb3_zoo(sb3_python, "dqn", "CartPole-v1", 475.0, 200_000, 5_000, seed),
                               "seed": seed})
        print("SB3 dqn, identical hyperparameters ...", file=sys.stderr)
        out["sb3_identical"] = time_sb3_zoo(sb3_python, "dqn", "CartPole-v1", 1e9, identical_steps,
                                            10 * identical_steps, 0, identical=True)
    print("jaxrl dqn, identical hyperparameters ...", file=sys.stderr)
    out["ours_identical"] = throughput_ours("dqn", "CartPole-v1", IDENTICAL_DQN, identical_steps)
    return out


def _threshold_markdown(t: dict) -> list[str]:
    import statistics

    def cell(runs):
        hit = [r["reached"] for r in runs if r["reached"]]
        if not hit:
            return "not reached", "-", "-"
        secs = statistics.median(h["seconds"] for h in hit)
        steps = statistics.median(h["env_steps"] for h in hit)
        return f"{secs:.1f} s", f"{steps:,.0f}", f"{len(hit)}/{len(runs)}"

    lines = [
        "## Time to a return of 475 on CartPole-v1 (compile included)",
        "",
        "Wall time from process start until a deterministic evaluation (10 episodes every 5k",
        "env steps, both sides) first reaches 475; one seed per process,",
        f"seeds {t['seeds']}, medians over the seeds that reached it. Ours: the preset, with the",
        "persistent compilation cache off (a true cold start). SB3: DQN with RL Zoo's",
        "CartPole-v1 hyperparameters (256-256 network, 128 gradient steps per 256 env steps),",
        "capped at 200k env steps.",
        "",
        "| | median seconds | median env steps | seeds reaching 475 |",
        "|---|---|---|---|",
    ]
    groups = {}
    for r in t["ours"]:
        groups.setdefault(f"jaxrl {r['algo']} preset `{r['preset']}`", []).append(r)
    if t.get("sb3"):
        groups["Stable-Baselines3 DQN, RL Zoo hyperparameters"] = t["sb3"]
    for name, runs in groups.items():
        secs, steps, frac = cell(runs)
        lines.append(f"| {name} | {secs} | {steps} | {frac} |")
    ours_i = t.get("ours_identical")
    sb3_i = t.get("sb3_identical")
    if ours_i and sb3_i:
        lines += [
            "",
            "### DQN throughput with identical hyperparameters",
            "",
            f"1 env, one gradient step (batch 128) per env step, 64-64 ReLU, {ours_i['env_steps']:,} env steps,",
            "10k buffer, target copy every 50 steps; warm training time (SB3: `model.learn`).",
            "",
            "| | seconds | env steps/s |",
            "|---|---|---|",
            f"| jaxrl (compiled once, {ours_i['compile_seconds']:.1f} s) | {ours_i['seconds']:.1f} | "
            f"{ours_i['steps_per_second']:,.0f} |",
            f"| Stable-Baselines3 {sb3_i['versions']['stable_baselines3']} | {sb3_i['learn_seconds']:.1f} | "
            f"{sb3_i['steps_per_second']:,.0f} |",
            "",
            f"Ratio: **{ours_i['steps_per_second'] / sb3_i['steps_per_second']:.1f}x**.",
        ]
    return lines + [""]


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


def _ppo_markdown(results: dict) -> list[str]:
    lines = [
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
    return lines


def write_markdown(path: Path, results: dict, command: str) -> None:
    m = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Measured by `scripts/benchmark.py` (same as `jaxrl benchmark`); every figure below comes",
        "from one run of the command on the machine described, nothing from elsewhere.",
        "",
        f"Commands: {', '.join(f'`{c}`' for c in results.get('commands', [command]))}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}; Python {m['python']}, "
        f"jax {m['jax']} on `{m['device']}`. Date: {results['date']}.",
        "",
    ]
    if "ours_cold" in results:
        lines += _ppo_markdown(results)
    if "thresholds" in results:
        lines += _threshold_markdown(results["thresholds"])
    lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="jaxrl benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--total-steps", type=int, default=500_000)
    parser.add_argument("--seeds", default="1,4,16", help="comma-separated vmapped seed counts")
    parser.add_argument("--sb3", action="store_true", help="also time Stable-Baselines3")
    parser.add_argument("--sb3-venv", type=Path, default=SB3_VENV,
                        help=f"virtual environment for SB3 (created if missing; default {SB3_VENV})")
    parser.add_argument("--only", choices=["ppo", "thresholds"], default=None,
                        help="run one section and keep the other sections' figures from the JSON file")
    parser.add_argument("--quick", action="store_true", help="100k steps, seeds 1,4 (a smoke run)")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args(argv)
    if args.quick:
        args.total_steps, args.seeds = 100_000, "1,4"
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.total_steps < 512 or any(s < 1 for s in seeds):
        print("error: --total-steps must be >= 512 and --seeds positive integers", file=sys.stderr)
        return 2
    command = ("python scripts/benchmark.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    json_path = args.out.with_suffix(".json")
    results = {}
    if args.only and json_path.exists():
        results = json.loads(json_path.read_text())
    sections = [args.only] if args.only else ["ppo", "thresholds"]
    previous = [c for c in results.get("commands", [results.get("command")]) if c]
    results["commands"] = [c for c in previous if args.only and f"--only {args.only}" not in c] + [command]
    results["date"] = time.strftime("%Y-%m-%d")
    sb3_python = ensure_sb3_venv(args.sb3_venv) if args.sb3 else None
    if "ppo" in sections:
        results["total_steps"] = args.total_steps
        print("jaxrl cold start ...", file=sys.stderr)
        results["ours_cold"] = time_ours_cold(args.total_steps)
        results["seeds"] = []
        for n in seeds:
            print(f"jaxrl warm, {n} seed(s) ...", file=sys.stderr)
            results["seeds"].append(time_ours(args.total_steps, n))
        results.pop("sb3", None)
        if sb3_python is not None:
            print("Stable-Baselines3 PPO ...", file=sys.stderr)
            results["sb3"] = time_sb3(sb3_python, args.total_steps)
    if "thresholds" in sections:
        results["thresholds"] = run_thresholds(sb3_python, seeds=(0,) if args.quick else (0, 1, 2))
    results["machine"] = machine()
    write_markdown(args.out, results, command)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
