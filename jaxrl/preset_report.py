"""Train every preset with its own budget and seeds and write docs/presets.md: the
measured returns that `jaxrl.presets` and the README quote. Run with
`python scripts/measure_presets.py [--algo ppo] [--only ENV ...]`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

from jaxrl import logs, presets, run
from jaxrl.benchmark import machine, machine_name


ROW_KEYS = ("num_seeds", "env_steps", "mean_return", "std_return", "min_return", "max_return",
            "per_seed_return", "wall_seconds", "compile_seconds", "steps_per_second")


def eval_every(preset: presets.Preset, steps_per_iteration: int) -> int:
    """Iterations between evaluations when the preset is timed to a target return (about 20
    evaluations per run), else 0 (only the final one)."""
    if preset.target_return is None:
        return 0
    return max(preset.total_steps // steps_per_iteration // 20, 1)


def row_from_run(logdir: Path, preset: presets.Preset) -> dict:
    """A results row from a finished run directory of `preset`: the final evaluation and, for
    a preset with a `target_return`, the env steps and wall seconds (since `run` started,
    compilation included) of the first evaluation whose mean over seeds reached it."""
    logdir = Path(logdir)
    summary = json.loads((logdir / "summary.json").read_text())
    if not summary.get("completed", False):
        raise ValueError(f"{logdir} holds an unfinished run; finish it with --resume {logdir}")
    row = {"algo": preset.algo, "preset": preset.name, "env": preset.env,
           **{k: summary[k] for k in ROW_KEYS}}
    if preset.target_return is not None:
        row["measured_on"] = machine_name(machine())  # timed rows: the machine that ran them
        command = json.loads((logdir / "config.json").read_text()).get("command")
        if command:  # runs started from the command line record it
            row["command"] = command
        evaluations = summary.get("evaluations", [])
        columns = logs.read_metrics(logdir / "metrics.csv")
        wall_at = dict(zip(columns["iteration"].astype(int), columns["wall_seconds"]))
        steps_per_iteration = summary["env_steps"] // max(int(columns["iteration"].max()), 1)
        curve = [(e["iteration"] * steps_per_iteration, float(wall_at[e["iteration"]]), e["mean_return"])
                 for e in evaluations]
        curve.append((summary["env_steps"], summary["wall_seconds"], summary["mean_return"]))
        reached = next(((steps, wall) for steps, wall, ret in curve if ret >= preset.target_return), None)
        best = max(curve, key=lambda point: point[2])
        row.update(target_return=preset.target_return, evaluations=len(curve),
                   target_reached=None if reached is None else {"env_steps": reached[0],
                                                                "wall_seconds": reached[1]},
                   best_evaluation={"env_steps": best[0], "wall_seconds": best[1],
                                    "mean_return": best[2]})
    return row


def measure(preset: presets.Preset) -> dict:
    agent = preset.agent()
    every = eval_every(preset, agent.steps_per_iteration)
    with tempfile.TemporaryDirectory() as logdir:
        run(agent, logdir=logdir, num_seeds=preset.num_seeds, progress=False, eval_every=every,
            metadata={"preset": preset.name})
        return row_from_run(Path(logdir), preset)


def check_run_matches(logdir: Path, preset: presets.Preset) -> None:
    """Refuse a run directory that did not train `preset` (algo, env, seeds, full config)."""
    recorded = json.loads((Path(logdir) / "config.json").read_text())
    expected = json.loads(json.dumps(dataclasses.asdict(preset.config())))
    differences = [f"{key}: run {recorded['config'].get(key)!r}, preset {value!r}"
                   for key, value in expected.items() if recorded["config"].get(key) != value]
    for key, value in (("algo", preset.algo), ("env", preset.env), ("num_seeds", preset.num_seeds),
                       ("env_kwargs", preset.env_kwargs)):
        if recorded.get(key) != value:
            differences.append(f"{key}: run {recorded.get(key)!r}, preset {value!r}")
    if differences:
        raise ValueError(f"{logdir} did not train preset {preset.algo} {preset.name}: "
                         + "; ".join(differences))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="measure_presets", description=__doc__)
    parser.add_argument("--algo", default=None)
    parser.add_argument("--only", nargs="*", default=None, help="preset names")
    parser.add_argument("--out", type=Path, default=Path("docs/presets.md"))
    parser.add_argument("--from-run", type=Path, default=None, metavar="RUN_DIR",
                        help="record the preset named by --only (one) from a finished run "
                             "directory of it, trained on this machine, instead of training it again")
    args = parser.parse_args(argv)
    from jaxrl.train import enable_compilation_cache

    enable_compilation_cache()
    chosen = [p for p in presets.PRESETS.values()
              if (args.algo is None or p.algo == args.algo) and (args.only is None or p.name in args.only)]
    results = []
    json_path = args.out.with_suffix(".json")
    previous = json.loads(json_path.read_text()) if json_path.exists() else []
    if args.from_run is not None:
        if len(chosen) != 1:
            parser.error(f"--from-run records one preset; --algo/--only chose {len(chosen)}")
        check_run_matches(args.from_run, chosen[0])
    for preset in chosen:
        print(f"{preset.algo} {preset.name} ...", file=sys.stderr, flush=True)
        results.append(row_from_run(args.from_run, preset) if args.from_run else measure(preset))
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
        "| algo | preset / env | seeds | env steps per seed | return, mean ± std over all episodes | worst seed | wall s | compile s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['algo']} | {r['preset']} | {r['num_seeds']} | {r['env_steps']:,} | "
            f"{r['mean_return']:.1f} ± {r['std_return']:.1f} | {min(r['per_seed_return']):.1f} | "
            f"{r['wall_seconds']:.0f} | {r['compile_seconds']:.0f} |"
        )
    lines += ["", "Reproduce one: `jaxrl train ALGO --preset NAME` (`jaxrl train ALGO --env ENV` picks the",
              "preset named after ENV; `--env ENV --preset rainbow` its variant ENV-rainbow).", ""]
    args.out.write_text("\n".join(lines))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
