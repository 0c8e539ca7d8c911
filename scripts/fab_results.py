"""Train PPO on a fab instance and compare it with the dispatching rules on held-out seeds.

    python scripts/fab_results.py --env fab/realistic-v0
    python scripts/fab_results.py --env fab/small-v0

Trains the `ppo` preset named after the env (vmapped over --num-seeds training seeds,
timed), then runs --episodes evaluation episodes per policy on reset keys drawn from
--eval-seed, a key stream disjoint from training's. Every policy plays the same episodes
(same lots, due dates and processing-time noise: common random numbers). Writes the table
into docs/fab.md between the markers for the env, and the raw figures to
docs/fab_results.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import jax
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import envs  # noqa: E402
from envs.fab import RULES, rule_policy  # noqa: E402
from envs.fab.evaluate import rollout_episodes  # noqa: E402
from jaxrl import presets, train  # noqa: E402
from jaxrl.algos import ppo  # noqa: E402
from jaxrl.train import enable_compilation_cache  # noqa: E402

FIGURES = (("total_cost", "total cost"), ("mean_tardiness", "tardiness (h)"),
           ("mean_cycle_time", "cycle time (h)"))


def mean_ci(x):
    x = np.asarray(x, np.float64)
    return float(x.mean()), float(1.96 * x.std(ddof=1) / np.sqrt(len(x)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="fab/realistic-v0")
    parser.add_argument("--preset", default=None, help="ppo preset name (default: the env id)")
    parser.add_argument("--total-steps", type=int, default=None, help="default: the preset's")
    parser.add_argument("--num-seeds", type=int, default=None, help="default: the preset's")
    parser.add_argument("--seed", type=int, default=0, help="training root seed")
    parser.add_argument("--eval-seed", type=int, default=10_000, help="held-out evaluation seed")
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--doc", default=str(ROOT / "docs" / "fab.md"))
    parser.add_argument("--json", default=str(ROOT / "docs" / "fab_results.json"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    enable_compilation_cache()

    preset = presets.get("ppo", args.preset or args.env)
    total_steps = args.total_steps or preset.total_steps
    num_seeds = args.num_seeds or preset.num_seeds
    env, params = envs.make(args.env, **preset.env_kwargs)
    config = preset.config(total_steps=total_steps)
    agent = ppo.make(env, params, config)
    iterations = total_steps // agent.steps_per_iteration
    train_keys = jax.random.split(jax.random.PRNGKey(args.seed), num_seeds)

    start = time.perf_counter()
    program = jax.jit(jax.vmap(train(agent, iterations))).lower(train_keys).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    state, metrics = jax.block_until_ready(program(train_keys))
    train_seconds = time.perf_counter() - start
    print(f"trained {num_seeds} seed(s) x {iterations * agent.steps_per_iteration} steps in "
          f"{train_seconds:.0f}s (+{compile_seconds:.0f}s compile)", flush=True)

    eval_keys = jax.random.split(jax.random.PRNGKey(args.eval_seed), args.episodes)

    def run(policy):
        out = jax.jit(lambda k: rollout_episodes(env, params, policy, k))(eval_keys)
        return {k: np.asarray(v) for k, v in out.items()}

    results = {}
    ppo_runs = []
    for i in range(num_seeds):
        pp = jax.tree.map(lambda x: x[i], agent.policy_params(state))
        ppo_runs.append(run(lambda o, k, pp=pp: agent.act(pp, o, k, True)))
    # PPO: each training seed plays every evaluation episode; average over seeds per episode.
    results["PPO"] = {k: np.mean([r[k] for r in ppo_runs], 0) for k in ppo_runs[0]}
    ppo_seed_costs = [float(r["total_cost"].mean()) for r in ppo_runs]
    names = {"fifo": "FIFO", "edd": "EDD (earliest due date)", "spt": "SPT (shortest processing time)",
             "cr": "CR (critical ratio)", "random": "random"}
    for rule in RULES:
        results[names[rule]] = run(rule_policy(rule, env.unwrapped.num_slots))

    fifo = results["FIFO"]["total_cost"]
    rows = []
    for name, res in results.items():
        row = {"policy": name}
        for key, _ in FIGURES:
            row[key] = mean_ci(res[key])
        row["vs_fifo"] = mean_ci(100.0 * (fifo - res["total_cost"]) / fifo.mean())
        rows.append(row)
    best_rule = min((r for r in rows if r["policy"] not in ("PPO", "random")),
                    key=lambda r: r["total_cost"][0])
    diff_best = mean_ci(results[best_rule["policy"]]["total_cost"] - results["PPO"]["total_cost"])

    command = f"python scripts/fab_results.py --env {args.env}" + (
        f" --total-steps {args.total_steps}" if args.total_steps else "") + (
        f" --num-seeds {args.num_seeds}" if args.num_seeds else "")
    lines = [
        f"`{command}` (preset `{preset.name}`: {iterations * agent.steps_per_iteration:,} env "
        f"steps x {num_seeds} seed(s); training took **{train_seconds:.0f} s** plus "
        f"{compile_seconds:.0f} s compilation on this machine's CPU). {args.episodes} held-out "
        f"episodes (evaluation seed {args.eval_seed}), the same episodes for every policy; "
        "mean ± 95% confidence interval.",
        "",
        "| policy | total cost | tardiness (h) | cycle time (h) | cost reduction vs FIFO |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [f"{r[k][0]:.3f} ± {r[k][1]:.3f}" for k, _ in FIGURES]
        lines.append(f"| {r['policy']} | " + " | ".join(cells)
                     + f" | {r['vs_fifo'][0]:.1f}% ± {r['vs_fifo'][1]:.1f}% |")
    lines += [
        "",
        f"PPO vs the best rule ({best_rule['policy']}): cost lower by {diff_best[0]:.3f} ± "
        f"{diff_best[1]:.3f} per episode (paired). PPO per training seed: "
        + ", ".join(f"{c:.3f}" for c in ppo_seed_costs) + ".",
    ]
    table = "\n".join(lines)
    print(table)
    if args.no_write:
        return
    doc = Path(args.doc)
    text = doc.read_text()
    begin, end = f"<!-- results:{args.env}:begin -->", f"<!-- results:{args.env}:end -->"
    block = f"{begin}\n{table}\n{end}"
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text)
    out = Path(args.json)
    data = json.loads(out.read_text()) if out.exists() else {}
    data[args.env] = {
        "command": command, "preset": preset.name, "env_steps": iterations * agent.steps_per_iteration,
        "num_seeds": num_seeds, "train_seconds": train_seconds, "compile_seconds": compile_seconds,
        "episodes": args.episodes, "eval_seed": args.eval_seed,
        "rows": rows, "ppo_seed_costs": ppo_seed_costs,
        "ppo_minus_best_rule": {"rule": best_rule["policy"], "diff": diff_best},
        "final_train_return": float(np.nanmean(np.asarray(metrics["episode_return"])[:, -5:])),
    }
    out.write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
