"""The training driver shared by every algorithm.

- `train(agent, num_iterations)` is pure: `key -> (state, metrics)` with one `lax.scan` over
  `agent.update`. Jit it, vmap it over seeds or hyperparameters, shard it.
- `run(agent, ...)` compiles a chunk of iterations once (vmapped over seeds) and drives it
  from a short Python loop that shows progress, writes the run directory and evaluates.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any, Mapping

import jax
import numpy as np

from jaxrl import config as cfg
from jaxrl import logs
from jaxrl.agent import Agent
from jaxrl.compilation import Compiler, jit_light, light_compiler_options
from jaxrl.evaluation import evaluate

DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "jaxrl", "jax")


def enable_compilation_cache(path: str | None = None) -> str:
    """Turn on JAX's persistent compilation cache (a second run of the same program skips
    compilation). The directory comes from `path`, `$JAXRL_CACHE_DIR` or ~/.cache/jaxrl/jax."""
    path = path or os.environ.get("JAXRL_CACHE_DIR") or DEFAULT_CACHE_DIR
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


def updates(agent: Agent, num_iterations: int, split_axis: str | None = None):
    """Return the pure function `state -> (state, metrics)`: `num_iterations` calls of
    `agent.update` in one `lax.scan` (a training chunk). `metrics` stacks the per-iteration
    scalars: each leaf has shape `(num_iterations,)`. With `split_axis` the calls are of
    `agent.split_update` over that two-device mesh axis (`split_networks`)."""
    update = agent.update if split_axis is None else lambda s: agent.split_update(s, split_axis)

    def run_updates(state):
        return jax.lax.scan(lambda s, _: update(s), state, None, length=num_iterations)

    return run_updates


def evaluated_chunks(agent: Agent, eval_every: int, eval_episodes: int = 10):
    """The pure pieces of a train-then-evaluate loop, as time-to-threshold runs use them
    (`jaxrl.benchmark.threshold_programs`, `jaxrl.sweep.steps_to_threshold`).

    Returns `(iterations, advance, score)`: `iterations` per chunk (`eval_every` env steps
    rounded down to whole iterations, at least one); `advance(state) -> state`, one chunk
    (only the state, so XLA drops the unused per-iteration metrics); `score(policy_params,
    key) -> mean return` of an `eval_episodes`-episode deterministic evaluation."""
    from jaxrl.evaluation import evaluate

    iterations = max(1, eval_every // agent.steps_per_iteration)

    def advance(state):
        return updates(agent, iterations)(state)[0]

    def score(policy_params, key):
        return evaluate(agent, policy_params, key, eval_episodes)[0].mean()

    return iterations, advance, score


def over_seeds(fn, num_seeds: int):
    """`jax.vmap(fn)` over the leading (seed) axis of every argument and output.

    With one seed, `fn` runs on that seed's slice and the axis is put back on its outputs:
    the same shapes in and out, without a size-1 batch dimension inside the program, which
    XLA:CPU executes faster (PPO's reference config on CartPole-v1, one seed: 4.48 s vmapped,
    3.91 s not; docs/optimisation.md). Floats may differ from the vmapped program in the last
    bits (other kernels), so a one-seed run is not bit-identical to seed 0 of a larger one.
    """
    if num_seeds != 1:
        return jax.vmap(fn)

    def one_seed(*args):
        out = fn(*jax.tree.map(lambda x: x[0], args))
        return jax.tree.map(lambda x: x[None], out)

    return one_seed


SPLIT_AXIS = "d"  # the mesh axis of `state_shardings`, which `split_networks` splits over


def check_split(agent: Agent, devices) -> None:
    """Raise a ValueError naming the fix unless `agent` can run with `shard="networks"` on
    `devices`: an agent with `split_update` and at least two devices."""
    if agent.split_update is None:
        raise ValueError(
            f"shard='networks' splits an actor and a critic that are separate networks; this "
            f"{agent.algo} agent has none to split (PPO with an MLP policy, not recurrent and "
            f"without shared_torso, has); use shard='seeds' or no sharding.")
    if len(devices) < 2:
        raise ValueError(
            f"shard='networks' needs two devices and JAX has {len(devices)}: pass --cpu-devices 2 "
            f"(or call jaxrl.compilation.use_cpu_devices(2) before any JAX computation).")


def split_networks(fn, devices):
    """`fn` (made with `updates(..., split_axis=SPLIT_AXIS)`) as a program over the first
    two of `devices`: both run it on the whole (replicated) state, each doing its half of
    every gradient step (`Agent.split_update`), and return the same state."""
    from jax.sharding import Mesh, PartitionSpec as P

    mesh = Mesh(np.array(list(devices)[:2]), (SPLIT_AXIS,))
    # Not checked by jax's replication analysis: the devices compute the same values by
    # construction (the same program on the same inputs, gradients summed by a swap).
    return jax.shard_map(fn, mesh=mesh, in_specs=P(), out_specs=P(), check_vma=False)


def train(agent: Agent, num_iterations: int):
    """Return the pure function `(key, hparams=None) -> (final_state, metrics)`.

    `metrics` stacks the per-iteration scalars: each leaf has shape `(num_iterations,)`.
    """

    def run_training(key, hparams=None):
        return updates(agent, num_iterations)(agent.init(key, hparams))

    return run_training


def plan_chunks(num_iterations: int, target_chunks: int) -> tuple[int, int, int]:
    """Split `num_iterations` into `num_chunks` chunks of `chunk` iterations plus a
    remainder (`remainder` < `chunk`, compiled separately only when non-zero).

    Prefers a divisor of `num_iterations` close to the target so one program is compiled.
    Returns `(chunk, num_chunks, remainder)`.
    """
    target_chunks = max(1, min(target_chunks, num_iterations))
    ideal = num_iterations / target_chunks
    divisors = [d for d in range(1, num_iterations + 1) if num_iterations % d == 0]
    good = [d for d in divisors if ideal / 2 <= d <= ideal * 2]
    if good:
        chunk = min(good, key=lambda d: abs(d - ideal))
        return chunk, num_iterations // chunk, 0
    chunk = max(1, math.ceil(ideal))
    return chunk, num_iterations // chunk, num_iterations % chunk


def _seed_mean_return(metrics: Mapping[str, np.ndarray]):
    """Per-iteration return statistics across seeds, weighting by finished episodes and
    skipping seeds (and iterations) with none. Arrays `(num_seeds, iterations)`."""
    counts = metrics["episodes"]
    returns = np.where(counts > 0, metrics["episode_return"], np.nan)
    total = counts.sum(0)
    mean = np.nansum(returns * counts, 0) / np.maximum(total, 1)
    mean = np.where(total > 0, mean, np.nan)
    # Columns with no finished episode in any seed stay NaN (logged blank), silently.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanmin(returns, 0), np.nanmax(returns, 0)
    return mean, low, high, total


def _rows(metrics, first_iteration, steps_per_iteration, num_seeds, wall_seconds):
    """One CSV row per iteration: env steps per seed, wall time, return statistics over
    seeds and the seed-mean of every other metric."""
    mean, low, high, total = _seed_mean_return(metrics)
    iterations = next(iter(metrics.values())).shape[1]
    rows = []
    for i in range(iterations):
        iteration = first_iteration + i + 1
        row = {
            "iteration": iteration,
            "env_steps": iteration * steps_per_iteration,
            "total_env_steps": iteration * steps_per_iteration * num_seeds,
            "wall_seconds": wall_seconds,
            "return_mean": float(mean[i]),
            "return_min": float(low[i]),
            "return_max": float(high[i]),
            "episodes": int(total[i]),
        }
        for key, value in metrics.items():
            if key in ("episode_return", "episodes"):
                continue
            if key == "episode_length":
                counts = metrics["episodes"][:, i]
                row[key] = float((value[:, i] * counts).sum() / counts.sum()) if counts.sum() else float("nan")
                continue
            row[key] = float(np.mean(value[:, i]))
        rows.append(row)
    return rows


def _seed_rows(metrics, first_iteration, steps_per_iteration):
    """Per-seed return of each iteration (blank where that seed finished no episode), for
    plots with intervals over seeds."""
    counts, returns = metrics["episodes"], metrics["episode_return"]
    rows = []
    for i in range(counts.shape[1]):
        iteration = first_iteration + i + 1
        row = {"iteration": iteration, "env_steps": iteration * steps_per_iteration}
        for s in range(counts.shape[0]):
            row[f"seed{s}"] = float(returns[s, i]) if counts[s, i] > 0 else float("nan")
        rows.append(row)
    return rows


def state_shardings(state_shape, mode: str | None, num_envs: int | None = None, devices=None):
    """Shardings of a seed-vmapped train state (leading axis = seeds) over `devices`.

    - `"seeds"`: every leaf split along its seed axis (independent seeds on each device).
    - `"envs"`: leaves whose second axis is the env batch (`num_envs`: env states, last
      observations, hidden states, running returns) are split along it; everything else
      (params, optimizer state, buffers) is replicated. XLA's SPMD partitioner then runs
      each device's envs and network passes locally and all-reduces wherever the update
      reduces over the batch: the gradient mean becomes an average of per-device gradients.
      No per-algorithm code: the split is a layout annotation, so results equal the
      one-device program up to float reassociation.
    - `"networks"`: every leaf replicated on the first two devices, for `split_networks`
      (one seed's actor and critic learning on two devices).
    - `None`: no sharding (returns None).
    """
    if mode is None:
        return None
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

    devices = list(devices if devices is not None else jax.devices())
    if mode == "networks":
        devices = devices[:2]
    mesh = Mesh(np.array(devices), (SPLIT_AXIS,))
    replicated = NamedSharding(mesh, P())
    n = len(devices)

    def leaf_sharding(leaf):
        if mode == "seeds":
            return NamedSharding(mesh, P("d")) if leaf.ndim >= 1 and leaf.shape[0] % n == 0 else replicated
        if mode == "envs":
            if leaf.ndim >= 2 and leaf.shape[1] == num_envs and num_envs % n == 0:
                return NamedSharding(mesh, P(None, "d"))
            return replicated
        if mode == "networks":
            return replicated
        raise ValueError(f"shard={mode!r}: choose 'seeds', 'envs', 'networks' or None.")

    return jax.tree.map(leaf_sharding, state_shape)


@dataclasses.dataclass
class RunResult:
    """What `run` returns: the summary (as in summary.json), the final vmapped train state
    (leading axis = seeds), the run directory, and whether the run reached its step budget
    (False when interrupted or stopped early by `stop_after`; a checkpoint was written)."""

    summary: dict[str, Any]
    state: Any
    logdir: Path | None
    completed: bool = True
    iteration: int = 0


class _Interrupt:
    """While active, the first Ctrl-C (SIGINT) or SIGTERM only sets a flag, so the driver
    finishes the chunk in flight, checkpoints and returns; a second one interrupts at once."""

    def __init__(self, enabled: bool):
        import threading

        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.requested = None
        self._previous = {}

    def __enter__(self):
        if self.enabled:
            import signal

            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        import signal

        if self.requested is not None:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        print(f"\n{self.requested}: finishing this chunk, writing a checkpoint and stopping "
              "(press Ctrl-C again to abort at once)", flush=True)

    def __exit__(self, *exc):
        import signal

        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


def run_keys(seed: int, num_seeds: int) -> tuple[jax.Array, jax.Array]:
    """`run`'s keys: one per seed for `init`, `(num_seeds, 2)`, and the root of its
    evaluation keys. One light-compiled program: made eagerly, `PRNGKey`, `split` and
    `fold_in` are five small compiles at every start (~0.17 s here, ~0.06 s as one)."""

    def keys():
        # A Python int, as eagerly: PRNGKey takes seeds beyond int32 only as Python ints.
        root = jax.random.PRNGKey(seed)
        return jax.random.split(root, num_seeds), jax.random.fold_in(root, 1)

    return jit_light(keys)()


def run(
    agent: Agent,
    total_steps: int | None = None,
    logdir: str | os.PathLike | None = None,
    num_seeds: int = 1,
    seed: int = 0,
    eval_every: int = 0,
    eval_episodes: int = 10,
    num_logs: int = 50,
    progress: bool = True,
    metadata: Mapping[str, Any] | None = None,
    hparams: Mapping[str, Any] | None = None,
    *,
    checkpoint_every: int | None = None,
    keep_checkpoints: int = 3,
    resume: bool = False,
    tensorboard: bool = False,
    wandb: bool | Mapping[str, Any] = False,
    stop_after: int | None = None,
    shard: str | None = None,
    handle_signals: bool = True,
) -> RunResult:
    """Train `num_seeds` seeds of `agent` for `total_steps` env steps each, writing a run dir.

    Args:
      agent: from `<algo>.make(...)`.
      total_steps: env steps per seed (default `agent.config.total_steps`); rounded down to
        whole iterations of `agent.steps_per_iteration`.
      logdir: run directory (config.json, metrics.csv, seed_returns.csv, summary.json,
        curve.png, checkpoints/, tensorboard/); None writes nothing and never checkpoints.
      num_seeds: seeds trained in one vmapped program.
      seed: root seed; seed `i` uses `jax.random.split(PRNGKey(seed), num_seeds)[i]`.
      eval_every: also evaluate deterministically every this many iterations (0: only at
        the end); rounded to chunk boundaries.
      eval_episodes: episodes per seed in each evaluation.
      num_logs: roughly how many chunks (progress updates, log flushes) the run has.
      metadata: extra entries for config.json (env id, env kwargs, preset ...).
      hparams: traced-hyperparameter overrides (same for every seed).
      checkpoint_every: checkpoint every this many iterations (rounded up to chunk ends;
        None: about 10 per run; 0: only at the end). A checkpoint is always written at the
        end and when interrupted.
      keep_checkpoints: how many of the newest checkpoints to keep.
      resume: continue from the newest checkpoint in `logdir`; the result equals that of an
        uninterrupted run bit for bit (same program, same RNG stream).
      tensorboard: also write TensorBoard event files to `logdir/tensorboard`.
      wandb: also log to Weights & Biases (True, or a dict of `wandb.init` arguments).
      stop_after: stop (with a checkpoint) once this many iterations are done in total, as
        Ctrl-C would (at the first chunk boundary at or after it).
      shard: lay the state over `jax.devices()`: "seeds" (num_seeds divisible by the device
        count), "envs" (data parallel: each device steps its share of the envs and the
        gradient is averaged across devices) or "networks" (two devices each run every
        seed, one computing the actor's gradients and the other the critic's: for one or a
        few seeds of a small actor-critic on a multi-core CPU); None runs on the default
        device.
      handle_signals: the first Ctrl-C/SIGTERM finishes the current chunk, checkpoints and
        returns (`completed=False`) instead of raising.

    Returns:
      A RunResult; its summary is also written to summary.json.
    """
    from jaxrl import checkpoint as ckpt

    start = time.perf_counter()
    total_steps = int(total_steps if total_steps is not None else agent.config.total_steps)
    if total_steps < agent.steps_per_iteration:
        raise ValueError(
            f"total_steps={total_steps} is less than one iteration "
            f"({agent.steps_per_iteration} env steps); raise --total-steps."
        )
    if num_seeds < 1:
        raise ValueError(f"num_seeds={num_seeds} must be >= 1.")
    if resume and logdir is None:
        raise ValueError("resume=True needs the run directory (logdir) holding the checkpoints.")
    if checkpoint_every is not None and checkpoint_every < 0:
        raise ValueError(f"checkpoint_every={checkpoint_every} must be >= 0.")
    num_iterations = total_steps // agent.steps_per_iteration
    chunk, num_chunks, remainder = plan_chunks(num_iterations, num_logs)
    if checkpoint_every is None:
        checkpoint_every = max(chunk, num_iterations // 10)
    logdir = Path(logdir) if logdir is not None else None
    num_envs = getattr(agent.config, "num_envs", None)
    devices = jax.devices()
    if shard == "seeds" and num_seeds % len(devices):
        raise ValueError(f"shard='seeds' needs num_seeds ({num_seeds}) divisible by the "
                         f"{len(devices)} devices; change --num-seeds.")
    if shard == "envs" and (num_envs is None or num_envs % len(devices)):
        raise ValueError(f"shard='envs' needs the config's num_envs ({num_envs}) divisible by "
                         f"the {len(devices)} devices; change num_envs.")
    if shard not in (None, "seeds", "envs", "networks"):
        raise ValueError(f"shard={shard!r}: choose 'seeds', 'envs', 'networks' or None.")
    if shard == "networks":
        check_split(agent, devices)
        devices = devices[:2]

    run_config = {
        "algo": agent.algo,
        "env": getattr(agent.env, "name", str(agent.env)),
        "config": cfg.to_dict(agent.config),
        "total_steps": total_steps,
        "num_seeds": num_seeds,
        "seed": seed,
        "eval_every": eval_every,
        "eval_episodes": eval_episodes,
        "num_logs": num_logs,
        "checkpoint_every": checkpoint_every,
        "hparams": {k: float(v) for k, v in dict(hparams or {}).items()},
        # How the run was laid over devices: the layouts round differently, so `jaxrl train
        # --resume` sets up the same one to continue exactly.
        "layout": {"shard": shard, "devices": len(devices) if shard else 1,
                   "platform": devices[0].platform},
        "versions": {"jax": jax.__version__},
        **dict(metadata or {}),
    }

    seed_keys, eval_root = run_keys(seed, num_seeds)

    def init_all(keys):
        return over_seeds(lambda k: agent.init(k, hparams), num_seeds)(keys)

    state_shape = jax.eval_shape(init_all, seed_keys)
    shardings = state_shardings(state_shape, shard, num_envs, devices)

    # Everything that can fail on bad input is checked before compiling.
    checkpointer = None
    resume_meta = None
    restored = None
    if logdir is not None:
        if resume:
            step = ckpt.latest(logdir)
            ckpt.remove_partial(logdir)
            checkpointer = ckpt.Checkpointer(logdir, keep_checkpoints)
            where = checkpointer.directory / str(step)
            ckpt.check_identity(checkpointer.read_meta(step), run_config, where)
            restored, resume_meta = checkpointer.restore(step, state_shape)
        else:
            existing = ckpt.checkpoint_dir(logdir)
            if existing.is_dir() and any(p.name.isdigit() for p in existing.iterdir()):
                raise ckpt.CheckpointError(
                    f"{logdir} already holds checkpoints of a run; continue it with "
                    f"`jaxrl train --resume {logdir}` (resume=True) or choose another --logdir."
                )
            logdir.mkdir(parents=True, exist_ok=True)
            checkpointer = ckpt.Checkpointer(logdir, keep_checkpoints)
        logs.write_json_atomic(logdir / "config.json", run_config)

    iteration = int(resume_meta["iteration"]) if resume_meta else 0
    driver = dict(resume_meta.get("driver", {})) if resume_meta else {}
    remaining = num_iterations - iteration
    schedule = [chunk] * (remaining // chunk) + ([remaining % chunk] if remaining % chunk else [])

    def jit(fn, donate=(), in_shardings=None, out_shardings=None, compiler_options=None):
        kwargs = {} if in_shardings is None else dict(in_shardings=in_shardings, out_shardings=out_shardings)
        return jax.jit(fn, donate_argnums=donate, compiler_options=compiler_options, **kwargs)

    def chunk_fn(length):
        if shard == "networks":
            return split_networks(over_seeds(updates(agent, length, SPLIT_AXIS), num_seeds), devices)
        return over_seeds(updates(agent, length), num_seeds)

    def eval_all(policy_params, keys):
        return over_seeds(lambda p, k: evaluate(agent, p, k, eval_episodes), num_seeds)(policy_params, keys)

    init_options = light_compiler_options(same_numerics=True)
    if shardings is None:
        init_placement, chunk_placement = {}, {}
    else:
        from jax.sharding import NamedSharding, PartitionSpec as P

        replicated = NamedSharding(jax.tree.leaves(shardings)[0].mesh, P())
        init_placement = dict(in_shardings=(None,), out_shardings=shardings)
        chunk_placement = dict(in_shardings=(shardings,), out_shardings=(shardings, replicated))
    policy_params = jit_light(over_seeds(agent.policy_params, num_seeds))
    eval_jit = jit(eval_all, compiler_options=light_compiler_options())

    def evaluation_keys(index):
        return jax.random.split(jax.random.fold_in(eval_root, index), num_seeds)

    eval_keys = jax.eval_shape(evaluation_keys, 0)

    # Every program is traced here and compiled in the background while the next is traced.
    compile_start = time.perf_counter()
    with Compiler() as compiler:
        init_program = None if restored is not None else compiler.submit(
            jit(init_all, compiler_options=init_options, **init_placement), seed_keys)
        pending = {length: compiler.submit(jit(chunk_fn(length), donate=(0,), **chunk_placement), state_shape)
                   for length in sorted(set(schedule))}
        # Sharded policy parameters are laid out as the state is: those two programs are
        # compiled on first use instead, from the arrays themselves.
        eval_pending = params_pending = None
        # Compiled with the others: made eagerly, the keys' fold_in and split would compile
        # at the first evaluation.
        eval_keys_pending = compiler.submit(jit_light(evaluation_keys), jax.ShapeDtypeStruct((), np.int32))
        if shardings is None:
            params_pending = compiler.submit(policy_params, state_shape)
            eval_pending = compiler.submit(eval_jit, jax.eval_shape(jax.vmap(agent.policy_params), state_shape),
                                           eval_keys)
        if restored is not None:
            state = jax.tree.map(lambda x, s: jax.device_put(x, s), restored, shardings) \
                if shardings is not None else jax.device_put(restored)
            del restored
        else:
            state = init_program.result()(seed_keys)
        programs = {length: future.result() for length, future in pending.items()}
        eval_program = eval_pending.result() if eval_pending is not None else None
        eval_keys_program = eval_keys_pending.result()
        if params_pending is not None:
            policy_params = params_pending.result()
    compile_seconds = time.perf_counter() - compile_start

    def run_eval(state, index):
        nonlocal eval_program, compile_seconds
        params = policy_params(state)
        keys = eval_keys_program(np.int32(index))
        if eval_program is None:
            t = time.perf_counter()
            eval_program = eval_jit.lower(params, keys).compile()
            compile_seconds += time.perf_counter() - t
        returns, lengths = eval_program(params, keys)
        return np.asarray(returns), np.asarray(lengths)

    writers = []
    if logdir is not None:
        metrics_path, seeds_path = logdir / "metrics.csv", logdir / "seed_returns.csv"
        if resume:
            logs.truncate_csv(metrics_path, iteration)
            logs.truncate_csv(seeds_path, iteration)
        writers.append(logs.MetricsWriter(metrics_path, append=resume))
        seed_writer = logs.MetricsWriter(seeds_path, append=resume)
        if tensorboard:
            purge = (iteration + 1) * agent.steps_per_iteration if resume else None
            writers.append(logs.TensorBoardWriter(logdir / "tensorboard", purge_step=purge))
        if wandb:
            writers.append(logs.WandbWriter(logdir, run_config, **(wandb if isinstance(wandb, Mapping) else {})))

    train_seconds = float(driver.get("train_seconds", 0.0))
    evaluations = [tuple(e) for e in driver.get("evaluations", [])]
    recent_return = float(driver.get("recent_return", float("nan")))
    last_checkpoint = iteration

    def save_checkpoint():
        nonlocal last_checkpoint
        if checkpointer is None:
            return
        meta = {**run_config, "driver": {"train_seconds": train_seconds, "evaluations": evaluations,
                                         "recent_return": recent_return}}
        checkpointer.save(iteration, state, meta)
        last_checkpoint = iteration

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=num_iterations * agent.steps_per_iteration, unit="step", unit_scale=True,
                   initial=iteration * agent.steps_per_iteration,
                   desc=f"{agent.algo} {run_config['env']}", dynamic_ncols=True)
    stopped = None
    try:
        with _Interrupt(handle_signals and logdir is not None) as interrupt:
            for length in schedule:
                t = time.perf_counter()
                state, metrics = programs[length](state)
                metrics = jax.device_get(metrics)
                train_seconds += time.perf_counter() - t
                rows = _rows(metrics, iteration, agent.steps_per_iteration, num_seeds,
                             time.perf_counter() - start)
                seed_rows = _seed_rows(metrics, iteration, agent.steps_per_iteration)
                del metrics
                iteration += length
                finished = [r["return_mean"] for r in rows if not math.isnan(r["return_mean"])]
                if finished:
                    recent_return = finished[-1]
                if eval_every:
                    for row in rows:
                        row["eval_return"] = float("nan")
                    if iteration % eval_every < length and iteration < num_iterations:
                        returns, _ = run_eval(state, iteration)
                        evaluations.append((iteration, float(returns.mean())))
                        rows[-1]["eval_return"] = float(returns.mean())
                for writer in writers:
                    writer.write(rows)
                if logdir is not None:
                    seed_writer.write(seed_rows)
                if bar is not None:
                    bar.update(length * agent.steps_per_iteration)
                    bar.set_postfix(
                        {"steps/s": f"{iteration * agent.steps_per_iteration * num_seeds / max(train_seconds, 1e-9):,.0f}",
                         "return": f"{recent_return:.1f}"}
                    )
                if interrupt.requested or (stop_after is not None and iteration >= stop_after):
                    stopped = interrupt.requested or f"stop_after={stop_after}"
                    break
                if (checkpoint_every and iteration < num_iterations
                        and iteration - last_checkpoint >= checkpoint_every):
                    save_checkpoint()
    finally:
        if bar is not None:
            bar.close()
        for writer in writers:
            writer.close()
        if logdir is not None:
            seed_writer.close()

    if stopped is not None and iteration < num_iterations:
        save_checkpoint()
        if checkpointer is not None:
            checkpointer.close()
        summary = {"algo": agent.algo, "env": run_config["env"], "num_seeds": num_seeds,
                   "completed": False, "stopped_by": stopped, "iteration": iteration,
                   "env_steps": iteration * agent.steps_per_iteration,
                   "checkpoint": str(ckpt.checkpoint_dir(logdir) / str(iteration)) if logdir else None}
        return RunResult(summary=summary, state=state, logdir=logdir, completed=False,
                         iteration=iteration)

    if checkpointer is not None:
        if last_checkpoint != iteration or not checkpointer.steps():
            save_checkpoint()
        checkpointer.close()
    returns, lengths = run_eval(state, num_iterations)
    per_seed = returns.mean(axis=1)
    env_steps = num_iterations * agent.steps_per_iteration
    wall_seconds = time.perf_counter() - start
    summary = {
        "algo": agent.algo,
        "env": run_config["env"],
        "num_seeds": num_seeds,
        "env_steps": env_steps,
        "total_env_steps": env_steps * num_seeds,
        "eval_episodes": eval_episodes,
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "min_return": float(returns.min()),
        "max_return": float(returns.max()),
        "per_seed_return": [float(r) for r in per_seed],
        "mean_episode_length": float(lengths.mean()),
        "final_train_return": recent_return,
        "wall_seconds": wall_seconds,
        "compile_seconds": compile_seconds,
        "devices": len(devices) if shardings is not None else 1,
        "train_seconds": train_seconds,
        "steps_per_second": env_steps * num_seeds / max(train_seconds, 1e-9),
        "completed": True,
    }
    if resume_meta is not None:
        summary["resumed_from"] = int(resume_meta["iteration"])
    if evaluations:
        summary["evaluations"] = [{"iteration": i, "mean_return": r} for i, r in evaluations]
    if logdir is not None:
        logs.write_json_atomic(logdir / "summary.json", summary)
        columns = logs.read_metrics(logdir / "metrics.csv") if (logdir / "metrics.csv").exists() else {}
        if columns:
            logs.plot_curve(
                columns["env_steps"], columns["return_mean"], columns["return_min"],
                columns["return_max"], logdir / "curve.png",
                title=f"{agent.algo} on {run_config['env']} ({num_seeds} seed{'s' * (num_seeds > 1)}; band: min-max)",
            )
    return RunResult(summary=summary, state=state, logdir=logdir, completed=True,
                     iteration=iteration)


def load_run(logdir: str | os.PathLike):
    """Rebuild the agent of a run directory from its config.json.

    Returns `(agent, run_config)`; `run_config` holds what `run(..., resume=True)` needs
    (total_steps, num_seeds, seed, eval settings, hparams, metadata)."""
    import json

    import envs
    from jaxrl import algos
    from jaxrl.checkpoint import CheckpointError

    logdir = Path(logdir)
    path = logdir / "config.json"
    if not logdir.is_dir():
        raise CheckpointError(f"Run directory {logdir} does not exist; point at a directory "
                              "written by `jaxrl train`.")
    if not path.exists():
        raise CheckpointError(f"{logdir} is not a run directory: it has no config.json. Point at a "
                              "directory written by `jaxrl train`.")
    try:
        run_config = json.loads(path.read_text())
        algo = algos.get(run_config["algo"])
        config = cfg.from_dict(algo.Config, run_config["config"])
        env, env_params = envs.make(run_config["env"], **(run_config.get("env_kwargs") or {}))
    except (ValueError, KeyError) as error:
        raise CheckpointError(f"{path} cannot be used to rebuild the run: {error}") from None
    return algo.make(env, env_params, config), run_config


def resume_kwargs(run_config: Mapping[str, Any]) -> dict[str, Any]:
    """The `run` arguments recorded in a run's config.json (for resuming it)."""
    metadata_keys = ("env_kwargs", "preset", "command")
    return {
        "total_steps": run_config["total_steps"],
        "num_seeds": run_config["num_seeds"],
        "seed": run_config["seed"],
        "eval_every": run_config.get("eval_every", 0),
        "eval_episodes": run_config.get("eval_episodes", 10),
        "num_logs": run_config.get("num_logs", 50),
        "checkpoint_every": run_config.get("checkpoint_every"),
        "hparams": run_config.get("hparams") or None,
        "metadata": {k: run_config[k] for k in metadata_keys if k in run_config},
    }


def restore(logdir: str | os.PathLike, step: int | None = None):
    """Load a run directory's agent and its newest (or `step`) checkpoint.

    Returns `(agent, run_config, state, iteration)`; `state` is the seed-vmapped train state
    (leading axis = seeds) on the default device."""
    from jaxrl import checkpoint as ckpt

    agent, run_config = load_run(logdir)
    if step is None:
        step = ckpt.latest(logdir)
    checkpointer = ckpt.Checkpointer(logdir)
    try:
        if step not in checkpointer.steps():
            raise ckpt.CheckpointError(f"{logdir} has no checkpoint {step}; it has "
                                       f"{checkpointer.steps() or 'none'}.")
        num_seeds = int(run_config["num_seeds"])
        hparams = run_config.get("hparams") or None
        keys = jax.eval_shape(lambda: jax.random.split(jax.random.PRNGKey(0), num_seeds))  # shapes only
        template = jax.eval_shape(jax.vmap(lambda k: agent.init(k, hparams)), keys)
        state, meta = checkpointer.restore(step, template)
    finally:
        checkpointer.close()
    return agent, run_config, jax.device_put(state), int(meta["iteration"])
