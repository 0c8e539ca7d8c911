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
import jax.numpy as jnp
import numpy as np

from jaxrl import config as cfg
from jaxrl import logs
from jaxrl.agent import Agent
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


def train(agent: Agent, num_iterations: int):
    """Return the pure function `(key, hparams=None) -> (final_state, metrics)`.

    `metrics` stacks the per-iteration scalars: each leaf has shape `(num_iterations,)`.
    """

    def run_training(key, hparams=None):
        state = agent.init(key, hparams)

        def body(state, _):
            return agent.update(state)

        return jax.lax.scan(body, state, None, length=num_iterations)

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


@dataclasses.dataclass
class RunResult:
    """What `run` returns: the summary (as in summary.json), the final vmapped train state
    (leading axis = seeds) and the run directory."""

    summary: dict[str, Any]
    state: Any
    logdir: Path | None


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
) -> RunResult:
    """Train `num_seeds` seeds of `agent` for `total_steps` env steps each, writing a run dir.

    Args:
      agent: from `<algo>.make(...)`.
      total_steps: env steps per seed (default `agent.config.total_steps`); rounded down to
        whole iterations of `agent.steps_per_iteration`.
      logdir: run directory (config.json, metrics.csv, summary.json, curve.png); None writes
        nothing.
      num_seeds: seeds trained in one vmapped program.
      seed: root seed; seed `i` uses `jax.random.split(PRNGKey(seed), num_seeds)[i]`.
      eval_every: also evaluate deterministically every this many iterations (0: only at
        the end); rounded to chunk boundaries.
      eval_episodes: episodes per seed in each evaluation.
      num_logs: roughly how many chunks (progress updates, log flushes) the run has.
      metadata: extra entries for config.json (env id, env kwargs, preset ...).
      hparams: traced-hyperparameter overrides (same for every seed).

    Returns:
      A RunResult; its summary is also written to summary.json.
    """
    start = time.perf_counter()
    total_steps = int(total_steps if total_steps is not None else agent.config.total_steps)
    if total_steps < agent.steps_per_iteration:
        raise ValueError(
            f"total_steps={total_steps} is less than one iteration "
            f"({agent.steps_per_iteration} env steps); raise --total-steps."
        )
    if num_seeds < 1:
        raise ValueError(f"num_seeds={num_seeds} must be >= 1.")
    num_iterations = total_steps // agent.steps_per_iteration
    chunk, num_chunks, remainder = plan_chunks(num_iterations, num_logs)
    logdir = Path(logdir) if logdir is not None else None

    run_config = {
        "algo": agent.algo,
        "env": getattr(agent.env, "name", str(agent.env)),
        "config": cfg.to_dict(agent.config),
        "total_steps": total_steps,
        "num_seeds": num_seeds,
        "seed": seed,
        "eval_every": eval_every,
        "eval_episodes": eval_episodes,
        "hparams": dict(hparams or {}),
        "versions": {"jax": jax.__version__},
        **dict(metadata or {}),
    }
    writer = None
    if logdir is not None:
        logdir.mkdir(parents=True, exist_ok=True)
        logs.write_json_atomic(logdir / "config.json", run_config)
        writer = logs.MetricsWriter(logdir / "metrics.csv")

    compile_seconds = 0.0

    def compile_fn(fn, *args, donate=()):
        nonlocal compile_seconds
        t = time.perf_counter()
        compiled = jax.jit(fn, donate_argnums=donate).lower(*args).compile()
        compile_seconds += time.perf_counter() - t
        return compiled

    root = jax.random.PRNGKey(seed)
    seed_keys = jax.random.split(root, num_seeds)
    eval_root = jax.random.fold_in(root, 1)

    def init_all(keys):
        return jax.vmap(lambda k: agent.init(k, hparams))(keys)

    state = compile_fn(init_all, seed_keys)(seed_keys)

    def chunk_fn(length):
        def fn(state):
            return jax.vmap(
                lambda s: jax.lax.scan(lambda c, _: agent.update(c), s, None, length=length)
            )(state)

        return fn

    programs = {chunk: compile_fn(chunk_fn(chunk), state, donate=(0,))}
    if remainder:
        programs[remainder] = compile_fn(chunk_fn(remainder), state, donate=(0,))

    def eval_all(policy_params, keys):
        return jax.vmap(lambda p, k: evaluate(agent, p, k, eval_episodes))(policy_params, keys)

    policy_params = jax.jit(jax.vmap(agent.policy_params))
    eval_program = None

    def run_eval(state, index):
        nonlocal eval_program
        params = policy_params(state)
        keys = jax.random.split(jax.random.fold_in(eval_root, index), num_seeds)
        if eval_program is None:
            eval_program = compile_fn(eval_all, params, keys)
        returns, lengths = eval_program(params, keys)
        return np.asarray(returns), np.asarray(lengths)

    schedule = [chunk] * num_chunks + ([remainder] if remainder else [])
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=num_iterations * agent.steps_per_iteration, unit="step", unit_scale=True,
                   desc=f"{agent.algo} {run_config['env']}", dynamic_ncols=True)
    iteration = 0
    train_seconds = 0.0
    evaluations = []
    recent_return = float("nan")
    all_rows = []
    try:
        for length in schedule:
            t = time.perf_counter()
            state, metrics = programs[length](state)
            metrics = jax.device_get(metrics)
            train_seconds += time.perf_counter() - t
            rows = _rows(metrics, iteration, agent.steps_per_iteration, num_seeds,
                         time.perf_counter() - start)
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
            all_rows.extend(rows)
            if writer is not None:
                writer.write(rows)
            if bar is not None:
                bar.update(length * agent.steps_per_iteration)
                bar.set_postfix(
                    {"steps/s": f"{iteration * agent.steps_per_iteration * num_seeds / max(train_seconds, 1e-9):,.0f}",
                     "return": f"{recent_return:.1f}"}
                )
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()

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
        "train_seconds": train_seconds,
        "steps_per_second": env_steps * num_seeds / max(train_seconds, 1e-9),
    }
    if evaluations:
        summary["evaluations"] = [{"iteration": i, "mean_return": r} for i, r in evaluations]
    if logdir is not None:
        logs.write_json_atomic(logdir / "summary.json", summary)
        if all_rows:
            x = [r["env_steps"] for r in all_rows]
            logs.plot_curve(
                x, [r["return_mean"] for r in all_rows], [r["return_min"] for r in all_rows],
                [r["return_max"] for r in all_rows], logdir / "curve.png",
                title=f"{agent.algo} on {run_config['env']} ({num_seeds} seed{'s' * (num_seeds > 1)}; band: min-max)",
            )
    return RunResult(summary=summary, state=state, logdir=logdir)
