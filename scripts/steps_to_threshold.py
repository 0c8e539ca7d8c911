"""Env steps until a preset's deterministic evaluation first reaches a return, for every
(hyperparameter combination x seed) at once: how presets are tuned for time to threshold
(`jaxrl.sweep.steps_to_threshold`; docs/optimisation.md has the PQN CartPole-v1 sweep).

    python scripts/steps_to_threshold.py pqn CartPole-v1 --set hidden_sizes=64,64 \
        --grid learning_rate=5e-3,1e-2 --grid q_lambda=0.95,1.0 --seeds 24 --max-steps 100000 --full

`--set` changes static fields of the preset's config (one compiled program); `--grid` sweeps
traced hyperparameters (`Config.TRACED`), every value and seed vmapped in that program. Each
run is evaluated (10 greedy episodes) every `--eval-every` env steps, the benchmark's chunk.
Prints per combination the median env steps to the threshold over the seeds (a run that never
reaches it counts as infinite) and how many reached it; with `--full` (train to
`--max-steps` instead of stopping once all have reached it) also the final evaluation: mean,
minimum and the number of seeds that ended below the threshold.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from jaxrl import config as cfg
from jaxrl import presets
from jaxrl.sweep import parse_grid, steps_to_threshold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("algo")
    parser.add_argument("preset")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="static override")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2", help="traced values to sweep")
    parser.add_argument("--threshold", type=float, default=475.0)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=200_000)
    parser.add_argument("--eval-every", type=int, default=5_000)
    parser.add_argument("--full", action="store_true", help="train to --max-steps and report the final evaluation")
    args = parser.parse_args()

    static = cfg.parse_set_arguments(args.set)
    agent = presets.get(args.algo, args.preset).agent(**static)
    grid = parse_grid(args.grid, agent.config) if args.grid else {}
    result = steps_to_threshold(agent, grid, range(args.first_seed, args.first_seed + args.seeds),
                                args.threshold, args.max_steps, args.eval_every, until_budget=args.full)
    print(f"{args.algo} {args.preset} {json.dumps(static)}: env steps to {args.threshold:g} "
          f"(evaluating every {result.steps_per_evaluation}), seeds {result.seeds[0]}-{result.seeds[-1]}")
    for combo, steps, final in zip(result.combos, result.steps, result.final):
        line = (f"{json.dumps(combo):50s} median {np.median(np.where(steps < 0, np.inf, steps)):>9.0f}"
                f"  reached {int((steps >= 0).sum())}/{len(steps)}")
        if args.full:
            line += (f"  final mean {final.mean():.1f} min {final.min():.1f}"
                     f" below {int((final < args.threshold).sum())}")
        print(line + f"  per seed {steps.tolist()}")


if __name__ == "__main__":
    main()
