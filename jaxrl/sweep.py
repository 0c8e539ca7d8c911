"""Hyperparameter sweeps: every (combination x seed) trained in one compiled program.

```python
from jaxrl.sweep import sweep
result = sweep(agent, {"learning_rate": [1e-3, 3e-4], "ent_coef": [0.0, 0.01]}, num_seeds=8)
result.best, result.table            # best combination; mean/std/IQM with bootstrap CIs
```

Only the config's traced hyperparameters (`Config.TRACED`) can be swept: they are carried as
arrays in the train state, so the program is compiled once for every value. The (combination x
seed) runs are flattened into one batch axis that is vmapped and, with several devices, split
over `jax.devices()` with `jax.sharding` (under `jax.distributed` the devices of every process:
each process feeds and computes its own shard, then the results are all-gathered).

Seed `i` of a combination uses the same keys as `jaxrl.train.run(agent, num_seeds=S, seed=seed,
hparams=combination)`, so a combination's results equal those of that single run.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import jax
import numpy as np

from jaxrl import logs, stats
from jaxrl import config as cfg
from jaxrl.agent import Agent
from jaxrl.evaluation import evaluate
from jaxrl.train import evaluated_chunks

# Short names accepted in --grid.
ALIASES = {"lr": "learning_rate", "ent": "ent_coef", "gae": "gae_lambda", "clip": "clip_eps"}


def parse_grid(items: Sequence[str], config) -> dict[str, list[float]]:
    """`["lr=1e-3,3e-4", "ent_coef=0,0.01"]` -> `{"learning_rate": [...], "ent_coef": [...]}`.

    Raises ValueError naming the item for malformed items, unknown fields, static (shape or
    switch) fields, which cannot be swept in one program, and non-numeric values."""
    traced = tuple(type(config).TRACED)
    grid: dict[str, list[float]] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"Bad --grid item {item!r}: expected field=v1,v2,..., e.g. lr=1e-3,3e-4")
        name, raw = (part.strip() for part in item.split("=", 1))
        name = ALIASES.get(name, name)
        if name not in cfg.field_names(config):
            close = difflib.get_close_matches(name, list(traced) + list(ALIASES), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"Unknown field {name!r} in --grid for {type(config).__name__}.{hint} "
                             f"Sweepable (traced) fields: {', '.join(traced)}.")
        if name not in traced:
            raise ValueError(
                f"Cannot sweep {name!r}: it is a static field of {type(config).__name__} (it sets "
                f"shapes or switches, so each value needs its own compiled program). Run one "
                f"sweep per value with --set {name}=VALUE, or sweep the traced fields: "
                f"{', '.join(traced)}."
            )
        values = []
        for text in raw.split(","):
            if not text.strip():
                continue
            try:
                values.append(float(text))
            except ValueError:
                raise ValueError(f"Bad value {text!r} for {name} in --grid: expected numbers, "
                                 f"e.g. {name}=1e-3,3e-4") from None
        if not values:
            raise ValueError(f"--grid {item!r} lists no values; e.g. {name}=1e-3,3e-4")
        if name in grid:
            raise ValueError(f"{name} appears twice in --grid; list all its values in one item.")
        grid[name] = values
    if not grid:
        raise ValueError("--grid needs at least one field=v1,v2,... item.")
    return grid


def combinations(grid: Mapping[str, Sequence[float]]) -> list[dict[str, float]]:
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def validate_combinations(agent_config, combos: Sequence[Mapping[str, float]], make) -> None:
    """Check every combination with the algorithm's own validation (e.g. a negative learning
    rate), before compiling: `make(config)` must raise for a config that cannot work."""
    for combo in combos:
        make(cfg.apply_overrides(agent_config, combo))


def _label(combo: Mapping[str, float]) -> str:
    return " ".join(f"{k}={v:g}" for k, v in combo.items())


@dataclasses.dataclass
class SweepResult:
    """`returns[c, s]`: final deterministic evaluation (mean over episodes) of seed s of
    combination c; `metrics[name][c, s, i]`: per-iteration training metrics; `state`: final
    train states, leading axis (combination x seed) flattened (single-process runs only);
    `table`: one row per combination with mean, std, IQM and bootstrap 95% intervals over
    seeds; `best`: the row with the highest IQM; `compiles`: programs compiled (1)."""

    combos: list[dict[str, float]]
    returns: np.ndarray
    metrics: dict[str, np.ndarray]
    table: list[dict[str, Any]]
    best: dict[str, Any]
    state: Any
    compiles: int
    compile_seconds: float
    seconds: float
    num_devices: int
    env_steps: int


def _mesh(devices):
    from jax.sharding import Mesh

    return Mesh(np.array(devices), ("d",))


def _global_array(host: np.ndarray, sharding):
    """A (possibly multi-process) global array laid out by `sharding`, each process
    supplying its own shards from the same host copy."""
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def _gather(x):
    """All of a sharded result on every process, as NumPy."""
    if jax.process_count() == 1:
        return np.asarray(x)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def _check_traced(agent: Agent, grid: Mapping[str, Sequence[float]]) -> None:
    """Raise ValueError naming any `grid` field that is not a traced hyperparameter."""
    traced = tuple(type(agent.config).TRACED)
    for name in grid:
        if name not in traced:
            raise ValueError(f"Cannot sweep {name!r}: not a traced hyperparameter of "
                             f"{type(agent.config).__name__} ({', '.join(traced)}).")


def sweep(
    agent: Agent,
    grid: Mapping[str, Sequence[float]],
    num_seeds: int = 4,
    seed: int = 0,
    total_steps: int | None = None,
    eval_episodes: int = 10,
    logdir: str | os.PathLike | None = None,
    devices: Sequence[Any] | None = None,
    keep_state: bool = True,
    metadata: Mapping[str, Any] | None = None,
) -> SweepResult:
    """Train every combination of `grid` (traced hyperparameters) x `num_seeds` seeds in one
    compiled program, evaluate each deterministically, and tabulate.

    Args:
      agent: built with the static config shared by every combination.
      grid: `{traced field: [values]}` (see `parse_grid`).
      num_seeds: seeds per combination.
      seed: root seed (seed i of every combination uses `split(PRNGKey(seed), num_seeds)[i]`,
        as `run` does).
      total_steps: env steps per run (default `agent.config.total_steps`).
      eval_episodes: deterministic evaluation episodes per run at the end.
      logdir: if given, writes config.json, results.csv, results.json, per_seed.csv,
        curves.csv and sweep.png.
      devices: devices to lay the (combination x seed) axis over (default `jax.devices()`:
        all local devices, or all processes' devices under `jax.distributed`).
      keep_state: return the final train states (single process only).
    """
    start = time.perf_counter()
    _check_traced(agent, grid)
    total_steps = int(total_steps if total_steps is not None else agent.config.total_steps)
    if total_steps < agent.steps_per_iteration:
        raise ValueError(f"total_steps={total_steps} is less than one iteration "
                         f"({agent.steps_per_iteration} env steps).")
    if num_seeds < 1:
        raise ValueError(f"num_seeds={num_seeds} must be >= 1.")
    num_iterations = total_steps // agent.steps_per_iteration
    combos = combinations(grid)
    C, S = len(combos), num_seeds
    devices = list(devices if devices is not None else jax.devices())
    n_dev = len(devices)
    batch = C * S
    padded = math.ceil(batch / n_dev) * n_dev  # pad so every device gets the same share

    root = jax.random.PRNGKey(seed)
    seed_keys = np.asarray(jax.random.split(root, S))
    eval_keys = np.asarray(jax.random.split(jax.random.fold_in(jax.random.fold_in(root, 1),
                                                               num_iterations), S))
    index = np.minimum(np.arange(padded), batch - 1)
    keys_host = np.tile(seed_keys, (C, 1))[index]
    eval_host = np.tile(eval_keys, (C, 1))[index]
    hp_host = {name: np.repeat(np.asarray([c[name] for c in combos], np.float32), S)[index]
               for name in grid}

    def one(key, eval_key, hp):
        state = agent.init(key, hp)
        state, metrics = jax.lax.scan(lambda s, _: agent.update(s), state, None, length=num_iterations)
        returns, _ = evaluate(agent, agent.policy_params(state), eval_key, eval_episodes)
        return state, metrics, returns.mean()

    def sweep_program(keys, eval_keys, hp):
        return jax.vmap(one)(keys, eval_keys, hp)

    from jax.sharding import NamedSharding, PartitionSpec as P

    mesh = _mesh(devices)
    split = NamedSharding(mesh, P("d"))
    args = (_global_array(keys_host, split), _global_array(eval_host, split),
            {k: _global_array(v, split) for k, v in hp_host.items()})
    t = time.perf_counter()
    program = jax.jit(sweep_program, in_shardings=(split, split, split),
                      out_shardings=split).lower(*args).compile()
    compile_seconds = time.perf_counter() - t
    state, metrics, returns = program(*args)
    returns = _gather(returns)[:batch].reshape(C, S)
    metrics = {k: _gather(v)[:batch].reshape(C, S, -1) for k, v in metrics.items()}
    if keep_state and jax.process_count() == 1:
        state = jax.tree.map(lambda x: x[:batch], state)
    else:
        state = None
    seconds = time.perf_counter() - start

    table = []
    for c, combo in enumerate(combos):
        row = {**combo, **stats.summarize(returns[c])}
        counts, rets = metrics["episodes"][c], metrics["episode_return"][c]
        last = []
        for s in range(S):
            done = np.nonzero(counts[s] > 0)[0]
            last.append(float(rets[s, done[-1]]) if done.size else float("nan"))
        row["final_train_return"] = float(np.nanmean(last)) if not np.isnan(last).all() else float("nan")
        table.append(row)
    best = max(table, key=lambda r: (r["iqm"], r["mean"]))
    result = SweepResult(combos=combos, returns=returns, metrics=metrics, table=table, best=best,
                         state=state, compiles=1, compile_seconds=compile_seconds, seconds=seconds,
                         num_devices=n_dev, env_steps=num_iterations * agent.steps_per_iteration)
    if logdir is not None and jax.process_index() == 0:
        write(result, agent, Path(logdir), grid, num_seeds, seed, total_steps, eval_episodes,
              metadata)
    return result


@dataclasses.dataclass
class ThresholdResult:
    """`steps[c, s]`: env steps after which seed s of combination c first evaluated at or
    above the threshold (-1: never within the budget); `final[c, s]`: its last evaluation
    (mean return over the episodes); `steps_per_evaluation`: env steps between evaluations."""

    combos: list[dict[str, float]]
    seeds: list[int]
    steps: np.ndarray
    final: np.ndarray
    steps_per_evaluation: int


def steps_to_threshold(agent: Agent, grid: Mapping[str, Sequence[float]], seeds: Sequence[int],
                       threshold: float, max_steps: int, eval_every: int = 5_000,
                       eval_episodes: int = 10, until_budget: bool = False) -> ThresholdResult:
    """Env steps until each (combination of `grid` x seed) first reaches `threshold` in a
    deterministic evaluation, all runs vmapped in one program per chunk: how presets are tuned
    for wall time to a return (`scripts/steps_to_threshold.py`).

    Runs train in chunks of `eval_every // steps_per_iteration` iterations (at least one; the
    time-to-threshold benchmark's chunk) and are evaluated with `eval_episodes` episodes after
    each. Seed `s` starts from `PRNGKey(s)`, as seed s of the benchmark does (a vmapped run's
    floats differ from a lone one's in the last bits, so its counts are close to, not equal
    to, the benchmark's). Stops once every run has reached the threshold, unless
    `until_budget` (then trains to `max_steps`, so `final` is the evaluation at the end)."""
    grid = dict(grid)
    _check_traced(agent, grid)
    chunk, advance_one, score_one = evaluated_chunks(agent, eval_every, eval_episodes)
    steps_per_chunk = chunk * agent.steps_per_iteration
    if max_steps < steps_per_chunk:
        raise ValueError(f"max_steps={max_steps} is less than one chunk of {steps_per_chunk} env steps.")
    combos = combinations(grid) if grid else [{}]
    seeds = [int(s) for s in seeds]
    runs = [(combo, seed) for combo in combos for seed in seeds]
    defaults = cfg.traced_hparams(agent.config)
    hparams = {name: np.asarray([combo.get(name, float(defaults[name])) for combo, _ in runs], np.float32)
               for name in defaults}
    keys = jax.numpy.stack([jax.random.PRNGKey(seed) for _, seed in runs])
    init = jax.jit(jax.vmap(agent.init))
    advance = jax.jit(jax.vmap(advance_one), donate_argnums=0)
    score = jax.jit(jax.vmap(lambda state, key: score_one(agent.policy_params(state), key)))

    state = init(keys, hparams)
    first = np.full(len(runs), -1)
    final = np.zeros(len(runs))
    for i in range(max_steps // steps_per_chunk):
        state = advance(state)
        eval_keys = jax.numpy.stack([jax.random.PRNGKey(10_000 + i)] * len(runs))
        final = np.asarray(score(state, eval_keys))
        first[(final >= threshold) & (first < 0)] = (i + 1) * steps_per_chunk
        if (first >= 0).all() and not until_budget:
            break
    shape = (len(combos), len(seeds))
    return ThresholdResult(combos=combos, seeds=seeds, steps=first.reshape(shape),
                           final=final.reshape(shape), steps_per_evaluation=steps_per_chunk)


def write(result: SweepResult, agent: Agent, logdir: Path, grid, num_seeds, seed, total_steps,
          eval_episodes, metadata=None) -> None:
    """The sweep directory: config.json, results.csv/json (per combination), per_seed.csv,
    curves.csv (seed-mean training return per combination and iteration), sweep.png."""
    logdir.mkdir(parents=True, exist_ok=True)
    names = list(grid)
    logs.write_json_atomic(logdir / "config.json", {
        "algo": agent.algo, "env": getattr(agent.env, "name", str(agent.env)),
        "config": cfg.to_dict(agent.config), "grid": dict(grid), "num_seeds": num_seeds,
        "seed": seed, "total_steps": total_steps, "eval_episodes": eval_episodes,
        "versions": {"jax": jax.__version__}, **dict(metadata or {}),
    })
    writer = logs.MetricsWriter(logdir / "results.csv")
    writer.write([{"combination": i, **row, "best": row is result.best}
                  for i, row in enumerate(result.table)])
    writer.close()
    writer = logs.MetricsWriter(logdir / "per_seed.csv")
    writer.write([{"combination": c, **combo, "seed": s, "return": float(result.returns[c, s])}
                  for c, combo in enumerate(result.combos) for s in range(result.returns.shape[1])])
    writer.close()
    counts, rets = result.metrics["episodes"], result.metrics["episode_return"]
    total = counts.sum(1)
    curve = np.where(total > 0, (rets * counts).sum(1) / np.maximum(total, 1), np.nan)  # (C, I)
    steps = agent.steps_per_iteration * (np.arange(curve.shape[1]) + 1)
    writer = logs.MetricsWriter(logdir / "curves.csv")
    writer.write([{"iteration": i + 1, "env_steps": int(steps[i]),
                   **{f"c{c}": float(curve[c, i]) for c in range(curve.shape[0])}}
                  for i in range(curve.shape[1])])
    writer.close()
    logs.write_json_atomic(logdir / "results.json", {
        "grid": dict(grid), "combinations": result.combos, "table": result.table,
        "best": result.best, "per_seed_return": result.returns.tolist(),
        "env_steps": result.env_steps, "num_devices": result.num_devices,
        "compile_seconds": result.compile_seconds, "seconds": result.seconds,
    })
    from jaxrl import plots

    plots.sweep_figure(result, steps, curve, logdir / "sweep.png",
                       title=f"{agent.algo} on {getattr(agent.env, 'name', agent.env)}: "
                             f"{len(result.combos)} combinations x {num_seeds} seeds")
    del names


def format_table(result: SweepResult) -> str:
    """The results table as aligned text, best combination marked."""
    lines = [f"{'combination':<36} {'mean':>9} {'std':>8} {'IQM':>9} {'IQM 95% CI':>21}"]
    for row in result.table:
        combo = {k: row[k] for k in result.combos[0]}
        mark = "  <- best" if row is result.best else ""
        lines.append(f"{_label(combo):<36} {row['mean']:>9.2f} {row['std']:>8.2f} {row['iqm']:>9.2f} "
                     f"[{row['iqm_ci_low']:>8.2f}, {row['iqm_ci_high']:>8.2f}]{mark}")
    return "\n".join(lines)


def best_label(result: SweepResult) -> str:
    return _label({k: result.best[k] for k in result.combos[0]})
