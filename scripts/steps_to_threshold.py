"""Env steps until a preset's deterministic evaluation first reaches a return, for every
(hyperparameter combination x seed) at once: how presets are tuned for time to threshold.

    python scripts/steps_to_threshold.py pqn CartPole-v1 --set epsilon_end=0.1 \
        --grid learning_rate=5e-3,1e-2 --grid q_lambda=0.95,1.0 --seeds 24 --max-steps 100000 --full

Every run trains in chunks of about `--eval-every` env steps (the chunk the time-to-threshold
benchmark uses, `jaxrl.benchmark.threshold_programs`) and is evaluated after each chunk
(10 episodes, greedy). `--set` changes static fields (one compile); `--grid` sweeps traced
hyperparameters (`Config.TRACED`), all vmapped in one program. Seed `s` starts from
`PRNGKey(s)`, as seed `s` of the benchmark does (the floats of a vmapped run differ from a
lone one in the last bits, so the per-seed step counts are close to, not equal to, the
benchmark's). Prints per combination the median env steps to the threshold over seeds
(runs that never reach it count as infinite), how many reached it, and with `--full` (train
to `--max-steps` instead of stopping once all have reached it) the final evaluation: mean,
minimum and how many seeds ended below the threshold.
"""

from __future__ import annotations

import argparse
import itertools
import json

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import config as cfg
from jaxrl import presets
from jaxrl.evaluation import evaluate
from jaxrl.sweep import parse_grid
from jaxrl.train import updates


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

    preset = presets.get(args.algo, args.preset)
    static = cfg.parse_set_arguments(args.set)
    agent = preset.agent(**static)
    grid = parse_grid(args.grid, agent.config) if args.grid else {}
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    runs = [(combo, seed) for combo in combos for seed in range(args.first_seed, args.first_seed + args.seeds)]
    base = cfg.traced_hparams(agent.config)
    hparams = {name: jnp.array([combo.get(name, float(base[name])) for combo, _ in runs], jnp.float32)
               for name in base}
    keys = jnp.stack([jax.random.PRNGKey(seed) for _, seed in runs])

    chunk = max(1, args.eval_every // agent.steps_per_iteration)
    steps_per_chunk = chunk * agent.steps_per_iteration
    init = jax.jit(jax.vmap(agent.init))
    advance = jax.jit(jax.vmap(lambda state: updates(agent, chunk)(state)[0]), donate_argnums=0)
    score = jax.jit(jax.vmap(lambda state, key: evaluate(agent, agent.policy_params(state), key, 10)[0].mean()))

    state = init(keys, hparams)
    first = np.full(len(runs), -1)
    final = np.zeros(len(runs))
    for i in range(args.max_steps // steps_per_chunk):
        state = advance(state)
        final = np.asarray(score(state, jnp.stack([jax.random.PRNGKey(10_000 + i)] * len(runs))))
        first[(final >= args.threshold) & (first < 0)] = (i + 1) * steps_per_chunk
        if (first >= 0).all() and not args.full:
            break

    print(f"{args.algo} {args.preset} {json.dumps(static)}: env steps to {args.threshold:g} "
          f"(evaluating every {steps_per_chunk}), seeds {args.first_seed}-{args.first_seed + args.seeds - 1}")
    for combo in combos:
        idx = [j for j, (c, _) in enumerate(runs) if c == combo]
        steps = first[idx]
        line = (f"{json.dumps(combo) or '{}':50s} median {np.median(np.where(steps < 0, np.inf, steps)):>9.0f}"
                f"  reached {int((steps >= 0).sum())}/{len(idx)}")
        if args.full:
            line += (f"  final mean {final[idx].mean():.1f} min {final[idx].min():.1f}"
                     f" below {int((final[idx] < args.threshold).sum())}")
        print(line + f"  per seed {steps.tolist()}")


if __name__ == "__main__":
    main()
