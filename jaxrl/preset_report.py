"""Train every preset with its own budget and seeds and write docs/presets.md: the
measured returns that `jaxrl.presets` and the README quote. Run with
`python scripts/measure_presets.py [--algo ppo] [--only ENV ...]`."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import envs
from jaxrl import algos, presets, run
from jaxrl import config as cfg


def measure(preset: presets.Preset) -> dict:
    algo = algos.get(preset.algo)
    config = cfg.apply_overrides(algo.Config(), {**preset.overrides, "total_steps": preset.total_steps})
    env, env_params = envs.make(preset.env, **preset.env_kwargs)
    agent = algo.make(env, env_params, config)
    with tempfile.TemporaryDirectory() as logdir:
        summary = run(agent, logdir=logdir, num_seeds=preset.num_seeds, progress=False,
                      metadata={"preset": preset.name}).summary
    return {"algo": preset.algo, "preset": preset.name, "env": preset.env,
            **{k: summary[k] for k in ("num_seeds", "env_steps", "mean_return", "std_return",
                                       "min_return", "max_return", "per_seed_return",
                                       "wall_seconds", "compile_seconds", "steps_per_second")}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="measure_presets", description=__doc__)
    parser.add_argument("--algo", default=None)
    parser.add_argument("--only", nargs="*", default=None, help="preset names")
    parser.add_argument("--out", type=Path, default=Path("docs/presets.md"))
    args = parser.parse_args(argv)
    from jaxrl.train import enable_compilation_cache

    enable_compilation_cache()
    chosen = [p for p in presets.PRESETS.values()
              if (args.algo is None or p.algo == args.algo) and (args.only is None or p.name in args.only)]
    results = []
    json_path = args.out.with_suffix(".json")
    previous = json.loads(json_path.read_text()) if json_path.exists() else []
    for preset in chosen:
        print(f"{preset.algo} {preset.name} ...", file=sys.stderr, flush=True)
        results.append(measure(preset))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    merged = {(r["algo"], r["preset"]): r for r in previous}
    merged.update({(r["algo"], r["preset"]): r for r in results})
    rows = sorted(merged.values(), key=lambda r: (r["algo"], r["env_steps"]))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(rows, indent=2) + "\n")
    lines = [
        "# Preset results",
        "",
        "Final deterministic evaluation (10 episodes per seed) of every preset at its own step",
        "budget, measured on this project's 2-core CI CPU by `python scripts/measure_presets.py`.",
        "Wall seconds include compilation, here mostly served by the persistent compilation",
        "cache (an empty cache adds the compile time of a cold start), and vary with machine load:",
        "other jobs shared the two cores during some of these runs.",
        f"Last run: {time.strftime('%Y-%m-%d')}.",
        "",
        "| algo | preset / env | seeds | env steps per seed | mean ± std return | worst seed | wall s | compile s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['algo']} | {r['preset']} | {r['num_seeds']} | {r['env_steps']:,} | "
            f"{r['mean_return']:.1f} ± {r['std_return']:.1f} | {min(r['per_seed_return']):.1f} | "
            f"{r['wall_seconds']:.0f} | {r['compile_seconds']:.0f} |"
        )
    lines += ["", "Reproduce one: `jaxrl train ALGO --preset NAME` (`jaxrl train ALGO --env ENV` picks the",
              "preset named after ENV).", ""]
    args.out.write_text("\n".join(lines))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
