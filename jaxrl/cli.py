"""The `jaxrl` command line. Parsing only: the work is done by jaxrl.train and friends.

    jaxrl train [ALGO] [--env ENV] [--total-steps N] [--num-seeds K] [--seed S]
                [--preset NAME] [--logdir DIR] [--set field=value ...]
                [--tensorboard] [--wandb] [--checkpoint-every K] [--shard seeds|envs|networks]
                [--cpu-devices N] [--cpu-threads N]
    jaxrl train --resume RUN_DIR
    jaxrl sweep ALGO --env ENV --seeds 8 --grid lr=1e-3,3e-4 ent_coef=0,0.01
    jaxrl evaluate RUN_DIR [--episodes N] [--render out.gif]
    jaxrl plot RUN_DIR [RUN_DIR ...] [--out compare.png] [--threshold R]
    jaxrl benchmark [...]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path
from typing import Sequence

DEFAULT_ALGO = "ppo"
DEFAULT_ENV = "CartPole-v1"


class CLIError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


def _count(n: int, noun: str) -> str:
    """'1 seed', '4 seeds'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _add_common(parser: argparse.ArgumentParser) -> None:
    """Options shared by train and sweep: what to train, on what, for how long."""
    parser.add_argument("algo", nargs="?", default=None, help="algorithm (default: ppo)")
    parser.add_argument("--env", default=None,
                        help="environment id (default: the preset's, else CartPole-v1)")
    parser.add_argument("--total-steps", type=int, default=None, help="env steps per seed")
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--preset", default=None,
                        help="tuned config name, or a variant of --env's (e.g. 'rainbow' for "
                        "ENV-rainbow); default: the preset named after --env if any; 'none' for defaults")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a config field (repeatable), e.g. --set learning_rate=3e-4")
    parser.add_argument("--backend", default=None, help="Brax physics backend (brax/* envs only)")
    parser.add_argument("--episode-length", type=int, default=None, help="Brax time limit (brax/* envs only)")
    parser.add_argument("--hide-velocity", action="store_true",
                        help="observe positions only (partial observability; CartPole, Pendulum, Acrobot, MountainCar)")
    parser.add_argument("--eval-episodes", type=int, default=10, help="episodes per seed per evaluation")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-cache", action="store_true", help="disable the persistent compilation cache")
    parser.add_argument("--cpu-devices", type=int, default=None, metavar="N",
                        help="split the CPU into N single-threaded devices (e.g. one per core) and "
                        "lay the seeds over them: faster for many seeds on a multi-core CPU")
    parser.add_argument("--cpu-threads", type=int, default=None, metavar="N",
                        help="XLA's CPU worker threads (default: one per core); 1 is faster for one "
                        "seed of a small network (classic control), slower for large ones (MinAtar)")


def _train_parser(prog="jaxrl train") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train an agent; writes config.json, metrics.csv, summary.json, curve.png and "
        "checkpoints/ to the run directory and prints the final deterministic evaluation. "
        "Ctrl-C finishes the current chunk, writes a checkpoint and exits; continue with --resume.",
    )
    _add_common(parser)
    parser.add_argument("--num-seeds", type=int, default=None,
                        help="seeds trained together in one vmapped program (default: preset's, else 1)")
    parser.add_argument("--logdir", default=None, help="run directory (default: runs/ALGO-ENV-TIME)")
    parser.add_argument("--eval-every", type=int, default=0,
                        help="also evaluate every K iterations (default: only at the end)")
    parser.add_argument("--resume", metavar="RUN_DIR", default=None,
                        help="continue the run in RUN_DIR from its newest checkpoint (settings come "
                        "from its config.json)")
    parser.add_argument("--checkpoint-every", type=int, default=None, metavar="K",
                        help="checkpoint every K iterations (default: about 10 per run; 0: only at the end)")
    parser.add_argument("--keep-checkpoints", type=int, default=3, help="newest checkpoints kept (default 3)")
    parser.add_argument("--tensorboard", action="store_true",
                        help="also write TensorBoard event files to RUN_DIR/tensorboard")
    parser.add_argument("--wandb", action="store_true",
                        help="also log to Weights & Biases (needs `pip install 'jaxrl[wandb]'`)")
    parser.add_argument("--wandb-project", default="jaxrl", help="W&B project (with --wandb)")
    parser.add_argument("--shard", choices=("seeds", "envs", "networks"), default=None,
                        help="lay the run over all devices: 'seeds' splits the seeds, 'envs' splits "
                        "each seed's envs (data parallel, gradients averaged across devices), "
                        "'networks' learns the actor on one device and the critic on another (PPO "
                        "with an MLP; fastest for one seed on a 2-core CPU, with --cpu-devices 2)")
    return parser


def prepare_training(args: argparse.Namespace):
    """Resolve algorithm, preset, env and config; validate everything before compiling.

    Returns `(agent, total_steps, num_seeds, metadata)`.
    """
    from jaxrl import algos, presets
    from jaxrl import config as cfg

    if args.algo is None:
        args.algo = DEFAULT_ALGO
    try:
        algo = algos.get(args.algo)
    except ValueError as error:
        raise CLIError(str(error)) from None

    preset = None
    try:
        if args.preset is not None and args.preset.lower() != "none":
            preset = presets.get(args.algo, args.preset, args.env or DEFAULT_ENV)
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
    if getattr(args, "eval_every", 0) < 0:
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
        config = preset.config() if preset is not None else algo.Config()
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


def _resume_kwargs(args: argparse.Namespace):
    """`--resume RUN_DIR`: rebuild the run from its config.json and check its checkpoint,
    before compiling. Flags that would change the run are refused."""
    from jaxrl import checkpoint as ckpt
    from jaxrl.train import load_run, resume_kwargs

    changed = [flag for flag, value in (("--set", args.overrides), ("--preset", args.preset),
                                         ("--total-steps", args.total_steps),
                                         ("--num-seeds", args.num_seeds), ("--backend", args.backend),
                                         ("--episode-length", args.episode_length),
                                         ("--hide-velocity", args.hide_velocity or None),
                                         ("--logdir", args.logdir)) if value]
    if changed:
        raise CLIError(f"--resume continues a run with the settings in its config.json; drop "
                       f"{', '.join(changed)} (or start a new run without --resume).")
    try:
        agent, run_config = load_run(args.resume)
        step = ckpt.latest(args.resume)
        checkpointer = ckpt.Checkpointer(args.resume)
        try:
            meta = checkpointer.read_meta(step)
        finally:
            checkpointer.close()
    except ckpt.CheckpointError as error:
        raise CLIError(str(error)) from None
    for flag, ours, theirs in (("ALGO", args.algo, run_config["algo"]), ("--env", args.env, run_config["env"])):
        if ours is not None and ours != theirs:
            raise CLIError(f"{args.resume} is a run of {run_config['algo']} on {run_config['env']}; "
                           f"{flag} {ours} does not match. Drop it: --resume reads both from config.json.")
    if meta.get("algo") != run_config["algo"] or meta.get("env") != run_config["env"]:
        raise CLIError(f"The checkpoint {step} in {args.resume} is of {meta.get('algo')} on {meta.get('env')}, "
                       f"but the run's config.json says {run_config['algo']} on {run_config['env']}; "
                       "the directory mixes two runs. Resume from a directory written by one run.")
    return agent, resume_kwargs(run_config), step


def _resume_layout(args: argparse.Namespace) -> None:
    """`--resume RUN_DIR`: take the run's device layout (`--shard`, and `--cpu-devices` on CPU)
    from its config.json, so the resumed run trains the floats the run would have trained;
    refuse flags that name another layout. Read before JAX starts (no JAX here)."""
    import json

    try:
        layout = json.loads((Path(args.resume) / "config.json").read_text()).get("layout") or {}
    except (OSError, ValueError):
        return  # not a readable run directory: _resume_kwargs names the problem
    shard, devices = layout.get("shard"), int(layout.get("devices", 1))
    if args.shard is not None and args.shard != shard:
        raise CLIError(f"{args.resume} was trained with {f'--shard {shard}' if shard else 'no --shard'}; "
                       f"drop --shard {args.shard}: --resume reads the layout from config.json.")
    args.shard = shard
    if layout.get("platform") == "cpu" and devices > 1:
        if args.cpu_devices is not None and args.cpu_devices != devices:
            raise CLIError(f"{args.resume} was trained on --cpu-devices {devices}; drop --cpu-devices "
                           f"{args.cpu_devices}: --resume reads the layout from config.json.")
        args.cpu_devices = devices


def _cpu_layout(args: argparse.Namespace) -> None:
    """`--cpu-devices N` and `--cpu-threads N`: set up the CPU backend before anything
    starts JAX."""
    from jaxrl.compilation import use_cpu_devices, use_cpu_threads

    devices, threads = args.cpu_devices, args.cpu_threads
    if devices is not None and threads is not None and 0 < threads < devices:
        raise CLIError(f"--cpu-threads {threads} is fewer than --cpu-devices {devices}: the devices "
                       f"share the threads and would take turns; use --cpu-threads {devices} or more.")
    try:
        if devices is not None:
            use_cpu_devices(devices)
        if threads is not None:
            use_cpu_threads(threads)
    except (ValueError, RuntimeError) as error:
        raise CLIError(str(error).replace("cpu devices=", "--cpu-devices=")
                       .replace("cpu threads=", "--cpu-threads=")) from None


def train_command(argv: Sequence[str] | None = None, prog="jaxrl train") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _train_parser(prog).parse_args(argv)
    try:
        if args.resume:
            _resume_layout(args)
        _cpu_layout(args)
        for name in ("checkpoint_every",):
            value = getattr(args, name)
            if value is not None and value < 0:
                raise CLIError(f"--{name.replace('_', '-')}={value} must be >= 0.")
        if args.keep_checkpoints < 1:
            raise CLIError(f"--keep-checkpoints={args.keep_checkpoints} must be >= 1.")
        if args.wandb:
            import importlib.util

            if importlib.util.find_spec("wandb") is None:
                raise CLIError("--wandb needs the wandb package, which is not installed; install the "
                               "extra with `pip install 'jaxrl[wandb]'` or drop --wandb.")
        if args.resume:
            agent, kwargs, step = _resume_kwargs(args)
            logdir = args.resume
            print(f"resuming {agent.algo} on {agent.env.name} from iteration {step} in {logdir}")
        else:
            agent, total_steps, num_seeds, metadata = prepare_training(args)
            metadata["command"] = " ".join([prog, *argv])
            kwargs = dict(total_steps=total_steps, num_seeds=num_seeds, seed=args.seed,
                          eval_every=args.eval_every, eval_episodes=args.eval_episodes,
                          metadata=metadata)
            if args.checkpoint_every is not None:
                kwargs["checkpoint_every"] = args.checkpoint_every
            logdir = args.logdir or os.path.join(
                "runs",
                f"{agent.algo}-{agent.env.name.replace('/', '_')}-{datetime.datetime.now():%Y%m%d-%H%M%S}",
            )
        if args.cpu_devices and args.shard is None:
            seeds = kwargs["num_seeds"]
            if seeds % args.cpu_devices:
                raise CLIError(f"--cpu-devices {args.cpu_devices} lays the seeds over {args.cpu_devices} "
                               f"devices, but {seeds} seed(s) do not divide evenly; use a multiple of "
                               f"{args.cpu_devices} seeds (--num-seeds), --shard envs or --shard networks.")
            args.shard = "seeds"
    except CLIError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from jaxrl.checkpoint import CheckpointError
    from jaxrl.train import enable_compilation_cache, run

    if not args.no_cache:
        enable_compilation_cache()
    wandb = {"project": args.wandb_project} if args.wandb else False
    try:
        result = run(
            agent, logdir=logdir, progress=not args.no_progress, resume=bool(args.resume),
            keep_checkpoints=args.keep_checkpoints, tensorboard=args.tensorboard, wandb=wandb,
            shard=args.shard, **kwargs,
        )
    except (CheckpointError, ValueError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    s = result.summary
    if not result.completed:
        print(f"stopped ({s['stopped_by']}) after iteration {result.iteration} "
              f"({s['env_steps']:,} env steps per seed); checkpoint written to {s['checkpoint']}\n"
              f"continue with: jaxrl train --resume {logdir}")
        return 130
    print(
        f"{s['algo']} on {s['env']}: deterministic evaluation return {s['mean_return']:.1f} "
        f"± {s['std_return']:.1f} (min {s['min_return']:.1f}, max {s['max_return']:.1f}) over "
        f"{_count(s['num_seeds'], 'seed')} x {_count(s['eval_episodes'], 'episode')} after {s['env_steps']:,} env steps per seed\n"
        f"wall {s['wall_seconds']:.1f}s (compile {s['compile_seconds']:.1f}s), "
        f"{s['steps_per_second']:,.0f} env steps/s"
        + (f" on {s['devices']} devices ({args.shard} sharded)" if s.get("devices", 1) > 1 else "") + "\n"
        f"run directory: {logdir}"
    )
    return 0


def _sweep_parser(prog="jaxrl sweep") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train every combination of traced hyperparameters x seeds in one compiled "
        "program (laid over all devices), then write results.csv (mean, std, IQM with bootstrap "
        "95%% intervals over seeds per combination), sweep.png, and name the best combination.",
    )
    _add_common(parser)
    parser.add_argument("--seeds", type=int, default=4, help="seeds per combination (default 4)")
    parser.add_argument("--grid", nargs="+", required=True, metavar="FIELD=V1,V2",
                        help="traced hyperparameters and their values, e.g. lr=1e-3,3e-4 ent_coef=0,0.01")
    parser.add_argument("--logdir", default=None, help="sweep directory (default: runs/sweep-ALGO-ENV-TIME)")
    parser.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                        help="multi-process/multi-host: jax.distributed coordinator address")
    parser.add_argument("--num-processes", type=int, default=None, help="with --coordinator: process count")
    parser.add_argument("--process-id", type=int, default=None, help="with --coordinator: this process's index")
    return parser


def init_distributed(coordinator: str | None, num_processes: int | None, process_id: int | None) -> None:
    """Join a jax.distributed job (before any computation). On CPU, cross-process
    collectives go through gloo."""
    import jax

    if coordinator is None and num_processes is None and process_id is None:
        return
    if None in (coordinator, num_processes, process_id):
        raise CLIError("--coordinator, --num-processes and --process-id go together "
                       "(e.g. --coordinator host0:1234 --num-processes 2 --process-id 0).")
    if not 0 <= process_id < num_processes:
        raise CLIError(f"--process-id={process_id} must be in [0, {num_processes}).")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                               process_id=process_id)


def sweep_command(argv: Sequence[str] | None = None, prog="jaxrl sweep") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _sweep_parser(prog).parse_args(argv)
    args.num_seeds, args.eval_every = args.seeds, 0
    try:
        _cpu_layout(args)
        init_distributed(args.coordinator, args.num_processes, args.process_id)
        if args.seeds <= 0:
            raise CLIError(f"--seeds={args.seeds} must be a positive integer.")
        agent, total_steps, _, metadata = prepare_training(args)
        from jaxrl import algos
        from jaxrl import sweep as sw

        try:
            grid = sw.parse_grid(args.grid, agent.config)
            combos = sw.combinations(grid)
            algo = algos.get(agent.algo)
            sw.validate_combinations(agent.config, combos,
                                     lambda c: algo.make(agent.env, agent.env_params, c))
        except ValueError as error:
            raise CLIError(str(error)) from None
    except CLIError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    metadata["command"] = " ".join([prog, *argv])
    from jaxrl.train import enable_compilation_cache

    if not args.no_cache:
        enable_compilation_cache()
    import jax

    logdir = args.logdir or os.path.join(
        "runs", f"sweep-{agent.algo}-{agent.env.name.replace('/', '_')}-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    print(f"sweep: {len(combos)} combinations x {args.seeds} seeds = {len(combos) * args.seeds} runs of "
          f"{total_steps:,} env steps, one program over {len(jax.devices())} device(s) "
          f"in {jax.process_count()} process(es)", flush=True)
    result = sw.sweep(agent, grid, num_seeds=args.seeds, seed=args.seed, total_steps=total_steps,
                      eval_episodes=args.eval_episodes, logdir=logdir, metadata=metadata,
                      keep_state=False)
    if jax.process_index() == 0:
        print(sw.format_table(result))
        print(f"best: {sw.best_label(result)} (IQM {result.best['iqm']:.2f}, mean {result.best['mean']:.2f})\n"
              f"compile {result.compile_seconds:.1f}s, total {result.seconds:.1f}s\n"
              f"sweep directory: {logdir}")
    return 0


def _evaluate_parser(prog="jaxrl evaluate") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Evaluate a run's newest checkpoint over every trained seed "
        "(deterministic by default); optionally render one episode.")
    parser.add_argument("run_dir", help="run directory written by `jaxrl train`")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per seed (default 10)")
    parser.add_argument("--stochastic", action="store_true", help="sample actions instead of the greedy/mean action")
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed (default 0)")
    parser.add_argument("--checkpoint", type=int, default=None, metavar="ITERATION",
                        help="evaluate this checkpoint instead of the newest")
    parser.add_argument("--render", default=None, metavar="OUT",
                        help="write one episode of the first seed: a .gif (gymnax envs) or .html (brax)")
    parser.add_argument("--fps", type=int, default=30, help="GIF frames per second")
    parser.add_argument("--no-cache", action="store_true", help="disable the persistent compilation cache")
    return parser


def evaluate_command(argv: Sequence[str] | None = None, prog="jaxrl evaluate") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _evaluate_parser(prog).parse_args(argv)
    from jaxrl import checkpoint as ckpt

    try:
        if args.episodes <= 0:
            raise CLIError(f"--episodes={args.episodes} must be a positive integer.")
        if args.fps <= 0:
            raise CLIError(f"--fps={args.fps} must be a positive integer.")
        from jaxrl.train import load_run

        agent, _ = load_run(args.run_dir)
        ckpt.latest(args.run_dir)
        if args.render is not None:
            from jaxrl import render

            if not render.can_render(agent.env):
                raise CLIError(f"--render: no renderer for {agent.env.name}; GIFs are drawn for CartPole, "
                               "Pendulum, Acrobot, MountainCar and MinAtar envs, HTML for brax/* envs.")
            brax = hasattr(agent.env.unwrapped, "brax_env")
            suffix = os.path.splitext(args.render)[1].lower()
            if suffix not in ((".html", ".gif") if brax else (".gif",)):
                raise CLIError(f"--render {args.render}: write {agent.env.name} episodes to a "
                               f"{'.html' if brax else '.gif'} file.")
    except (CLIError, ckpt.CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from jaxrl.evaluation import evaluate_run
    from jaxrl.train import enable_compilation_cache, restore
    from jaxrl import logs

    if not args.no_cache:
        enable_compilation_cache()
    try:
        report = evaluate_run(args.run_dir, args.episodes, not args.stochastic, args.seed, args.checkpoint)
    except ckpt.CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    seeds = report["seeds"]
    print(f"{report['algo']} on {report['env']} at iteration {report['iteration']} "
          f"({report['env_steps']:,} env steps per seed), {'deterministic' if report['deterministic'] else 'stochastic'}:\n"
          f"  return {report['mean_return']:.2f} ± {report['std_return']:.2f} over {_count(report['num_seeds'], 'seed')} x "
          f"{_count(report['episodes_per_seed'], 'episode')} (min {report['min_return']:.1f}, max {report['max_return']:.1f})\n"
          f"  over seeds: mean {seeds['mean']:.2f} [{seeds['mean_ci_low']:.2f}, {seeds['mean_ci_high']:.2f}], "
          f"IQM {seeds['iqm']:.2f} [{seeds['iqm_ci_low']:.2f}, {seeds['iqm_ci_high']:.2f}] (bootstrap 95% CI)")
    if args.render is not None:
        import jax

        from jaxrl import render

        agent, _, state, _ = restore(args.run_dir, args.checkpoint)
        params = agent.policy_params(jax.tree.map(lambda x: x[0], state))
        info = render.render_episode(agent, params, jax.random.PRNGKey(args.seed), args.render,
                                     deterministic=not args.stochastic, fps=args.fps)
        report["render"] = info
        print(f"  rendered one episode (return {info['return']:.1f}, {info['frames']} frames) to {info['path']}")
    logs.write_json_atomic(os.path.join(args.run_dir, "evaluation.json"), report)
    return 0


def _plot_parser(prog="jaxrl plot") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Learning curves of several runs (mean and 95%% interval over seeds) "
        "on one figure, beside final-return bars and env steps to reach a threshold.")
    parser.add_argument("run_dirs", nargs="+", help="run directories written by `jaxrl train`")
    parser.add_argument("--out", default="comparison.png", help="figure path (default comparison.png)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="return to reach (default: 90%% of the best final training return)")
    parser.add_argument("--title", default=None, help="title of the curves panel")
    return parser


def plot_command(argv: Sequence[str] | None = None, prog="jaxrl plot") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _plot_parser(prog).parse_args(argv)

    missing = [d for d in args.run_dirs if not (Path(d) / "metrics.csv").exists()
               and not (Path(d) / "seed_returns.csv").exists()]
    if missing:
        print(f"error: not run directories (no metrics.csv): {', '.join(missing)}", file=sys.stderr)
        return 2
    from jaxrl import plots

    numbers = plots.compare(args.run_dirs, args.out, threshold=args.threshold, title=args.title)
    for run in numbers["runs"]:
        final = run["final"]
        reach = [x for x in run["steps_to_threshold"] if x == x]
        print(f"{run['label']}: final return "
              + (f"{final['mean']:.2f} [{final['mean_ci_low']:.2f}, {final['mean_ci_high']:.2f}]" if final else "n/a")
              + f"; reached {numbers['threshold']:.4g} in {len(reach)}/{len(run['steps_to_threshold'])} seeds"
              + (f" after {sum(reach) / len(reach):,.0f} env steps on average" if reach else ""))
    print(f"figure: {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"train": train_command, "sweep": sweep_command, "evaluate": evaluate_command,
                "plot": plot_command}
    try:
        from jaxrl import benchmark

        commands["benchmark"] = benchmark.main
    except ImportError:
        pass
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: jaxrl {" + ",".join(commands) + "} ...\n\n"
              "  train       train an agent (bare `jaxrl train` trains PPO on CartPole-v1); --resume RUN_DIR continues\n"
              "  sweep       hyperparameter grid x seeds in one compiled program, results table and plot\n"
              "  evaluate    evaluate a run's checkpoint over its seeds; --render out.gif\n"
              "  plot        learning curves and comparison dashboard of several runs\n"
              "  benchmark   time our algorithms beside Stable-Baselines3 and sbx (--peers sb3,sbx); docs/benchmarks.md\n")
        return 0
    if argv[0] not in commands:
        print(f"error: unknown command {argv[0]!r}; choose one of {', '.join(commands)}", file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
