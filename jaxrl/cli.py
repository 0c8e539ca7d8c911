"""The `jaxrl` command line. Parsing only: the work is done by jaxrl.train and friends.

    jaxrl train [ALGO] [--env ENV] [--total-steps N] [--num-seeds K] [--seed S]
                [--preset NAME] [--logdir DIR] [--set field=value ...]
    jaxrl benchmark [...]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from typing import Sequence

DEFAULT_ALGO = "ppo"
DEFAULT_ENV = "CartPole-v1"


class CLIError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


def _train_parser(prog="jaxrl train") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train an agent; writes config.json, metrics.csv, summary.json and curve.png "
        "to the run directory and prints the final deterministic evaluation.",
    )
    parser.add_argument("algo", nargs="?", default=DEFAULT_ALGO, help="algorithm (default: ppo)")
    parser.add_argument("--env", default=None,
                        help="environment id (default: the preset's, else CartPole-v1)")
    parser.add_argument("--total-steps", type=int, default=None, help="env steps per seed")
    parser.add_argument("--num-seeds", type=int, default=None,
                        help="seeds trained together in one vmapped program (default: preset's, else 1)")
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--preset", default=None,
                        help="tuned config name (default: the preset named after --env if any; 'none' for defaults)")
    parser.add_argument("--logdir", default=None, help="run directory (default: runs/ALGO-ENV-TIME)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a config field (repeatable), e.g. --set learning_rate=3e-4")
    parser.add_argument("--backend", default=None, help="Brax physics backend (brax/* envs only)")
    parser.add_argument("--episode-length", type=int, default=None, help="Brax time limit (brax/* envs only)")
    parser.add_argument("--hide-velocity", action="store_true",
                        help="observe positions only (partial observability; CartPole, Pendulum, Acrobot, MountainCar)")
    parser.add_argument("--eval-every", type=int, default=0,
                        help="also evaluate every K iterations (default: only at the end)")
    parser.add_argument("--eval-episodes", type=int, default=10, help="episodes per seed per evaluation")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-cache", action="store_true", help="disable the persistent compilation cache")
    return parser


def prepare_training(args: argparse.Namespace):
    """Resolve algorithm, preset, env and config; validate everything before compiling.

    Returns `(agent, total_steps, num_seeds, metadata)`.
    """
    from jaxrl import algos, presets
    from jaxrl import config as cfg

    try:
        algo = algos.get(args.algo)
    except ValueError as error:
        raise CLIError(str(error)) from None

    preset = None
    try:
        if args.preset is not None and args.preset.lower() != "none":
            preset = presets.get(args.algo, args.preset)
        elif args.preset is None:
            preset = presets.for_env(args.algo, args.env or DEFAULT_ENV)
    except ValueError as error:
        raise CLIError(str(error)) from None
    env_id = args.env or (preset.env if preset else DEFAULT_ENV)
    if preset is not None and args.env is not None and preset.env != args.env:
        raise CLIError(
            f"Preset {preset.name!r} is tuned for {preset.env}, not {args.env}; "
            f"drop --env or choose a preset for {args.env} ({', '.join(presets.names(args.algo))})."
        )

    for name in ("total_steps", "num_seeds", "eval_episodes"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise CLIError(f"--{name.replace('_', '-')}={value} must be a positive integer.")
    if args.eval_every < 0:
        raise CLIError(f"--eval-every={args.eval_every} must be >= 0.")

    import envs

    env_kwargs = dict(preset.env_kwargs) if preset else {}
    if args.backend is not None:
        env_kwargs["backend"] = args.backend
    if args.episode_length is not None:
        env_kwargs["episode_length"] = args.episode_length
    if args.hide_velocity:
        env_kwargs["hide_velocity"] = True
    try:
        env, env_params = envs.make(env_id, **env_kwargs)
    except ValueError as error:
        raise CLIError(str(error)) from None

    try:
        config = algo.Config()
        if preset is not None:
            config = cfg.apply_overrides(config, preset.overrides)
        if preset is not None:
            config = cfg.apply_overrides(config, {"total_steps": preset.total_steps})
        if args.total_steps is not None:
            config = cfg.apply_overrides(config, {"total_steps": args.total_steps})
        config = cfg.apply_overrides(config, cfg.parse_set_arguments(args.overrides))
        total_steps = config.total_steps
        agent = algo.make(env, env_params, config)
    except ValueError as error:
        raise CLIError(str(error)) from None

    num_seeds = args.num_seeds or (preset.num_seeds if preset else 1)
    metadata = {
        "env_kwargs": env_kwargs,
        "preset": preset.name if preset else None,
    }
    return agent, total_steps, num_seeds, metadata


def train_command(argv: Sequence[str] | None = None, prog="jaxrl train") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _train_parser(prog).parse_args(argv)
    try:
        agent, total_steps, num_seeds, metadata = prepare_training(args)
    except CLIError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    metadata["command"] = " ".join([prog, *argv])
    from jaxrl.train import enable_compilation_cache, run

    if not args.no_cache:
        enable_compilation_cache()
    logdir = args.logdir or os.path.join(
        "runs",
        f"{agent.algo}-{agent.env.name.replace('/', '_')}-{datetime.datetime.now():%Y%m%d-%H%M%S}",
    )
    result = run(
        agent, total_steps=total_steps, logdir=logdir, num_seeds=num_seeds, seed=args.seed,
        eval_every=args.eval_every, eval_episodes=args.eval_episodes,
        progress=not args.no_progress, metadata=metadata,
    )
    s = result.summary
    print(
        f"{s['algo']} on {s['env']}: deterministic evaluation return {s['mean_return']:.1f} "
        f"± {s['std_return']:.1f} (min {s['min_return']:.1f}, max {s['max_return']:.1f}) over "
        f"{s['num_seeds']} seeds x {s['eval_episodes']} episodes after {s['env_steps']:,} env steps per seed\n"
        f"wall {s['wall_seconds']:.1f}s (compile {s['compile_seconds']:.1f}s), "
        f"{s['steps_per_second']:,.0f} env steps/s\n"
        f"run directory: {logdir}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"train": train_command}
    try:
        from jaxrl import benchmark

        commands["benchmark"] = benchmark.main
    except ImportError:
        pass
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: jaxrl {" + ",".join(commands) + "} ...\n\n"
              "  train       train an agent (bare `jaxrl train` trains PPO on CartPole-v1)\n"
              "  benchmark   time PPO CartPole-v1 (and Stable-Baselines3 with --sb3)\n")
        return 0
    if argv[0] not in commands:
        print(f"error: unknown command {argv[0]!r}; choose one of {', '.join(commands)}", file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
