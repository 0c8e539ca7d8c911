"""`jaxrl benchmark`: our speed beside Stable-Baselines3's, sbx's, rejax's and PureJaxRL's, measured in one run
on this machine; writes docs/benchmarks.md and docs/benchmarks.json.

Sections (`--only NAME` runs one and keeps the others' figures from the JSON file):
- `ppo`: PPO on CartPole-v1 with the common reference config, cold and warm, and the cost
  of 1, 4, 16 ... vmapped seeds;
- `thresholds`: wall time from process start to a deterministic evaluation return (475 on
  CartPole-v1 for our DQN, Rainbow, PQN and PPO presets; -200 on Pendulum-v1 for SAC) against
  the peers' DQN/SAC with RL Zoo's hyperparameters; DQN and SAC throughput with identical
  hyperparameters;
- `cases`: PPO on Breakout-MinAtar and brax/hopper and SAC on brax/hopper, our presets at a
  fixed budget beside the SB3-API peers given the same hyperparameters on our environments
  (jaxrl/peers/sb3_cases.py), three seeds a side;
- `limits`: the machine's matmul throughput and memory bandwidth, and the fraction of them
  the PPO and DQN updates reach;
- `scaling`: env steps per second against the number of vectorised envs (1 to 4096) for
  CartPole-v1, Breakout-MinAtar and brax/halfcheetah, on one XLA device and split over one
  forced CPU device per core.

`--quick` shrinks the sections (100k PPO steps, seeds 1 and 4, one seed per peer and threshold
case, identical-hyperparameter runs at a fifth of their steps, 1, 16 and 256 envs on one
device) for a smoke run, and leaves `cases` out (its Brax programs take minutes to compile on
each side).

Reference config: 4 envs x 128 steps, 500k env steps, 4 epochs x 4 minibatches, 64-64 tanh,
lr 2.5e-4 annealed, gamma 0.99, GAE lambda 0.95, clip 0.2 (policy and value), entropy 0.01.

- cold: a fresh process from start to printed result (imports, compilation with the
  persistent cache disabled, training, evaluation);
- warm: training only, with the program already compiled (for the peers: `model.learn`,
  once); ours the fastest of `warm_repeats(num_seeds)` runs (5 for one seed, 2 for up to 8,
  then 1), as this VM's timings drift by 10-20% over minutes;
- seeds: warm wall time of 1, 4, 16 ... seeds vmapped into one program.

Peers (`--peers sb3,sbx,rejax`), each in its own virtual environment (created on first use
with pinned versions, never a dependency of jaxrl), with the same hyperparameters:
- `sb3` (or `--sb3`): Stable-Baselines3 on torch;
- `sbx`: Stable Baselines Jax (sbx-rl), SB3's API on jax and flax, run by the same peer
  scripts (`--library sbx`); where sbx lacks one of SB3's hyperparameters the nearest
  equivalent is used and the difference is reported (jaxrl/peers/peer_library.py);
- `rejax`: rejax, PPO compiled whole with jit and vmapped over seeds as ours is
  (jaxrl/peers/rejax_ppo.py): cold, warm on one XLA thread, and the same vmapped seed counts
  as ours; in the threshold section its PPO, DQN and PQN with its own tuned CartPole-v1
  configs (rejax_zoo.py);
- `purejaxrl`: PureJaxRL's purejaxrl/ppo.py from a checkout (`--purejaxrl-src`), timed as
  rejax's PPO is (purejaxrl_ppo.py); PPO section only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

_PROCESS_START = time.perf_counter()

REFERENCE = dict(num_envs=4, num_steps=128, num_minibatches=4, update_epochs=4,
                 hidden_sizes=(64, 64), activation="tanh", learning_rate=2.5e-4, anneal_lr=True,
                 gamma=0.99, gae_lambda=0.95, clip_eps=0.2, clip_value_loss=True, ent_coef=0.01,
                 vf_coef=0.5, max_grad_norm=0.5)
# XLA worker threads for the headline one-seed runs (`jaxrl train --cpu-threads 1`): the
# reference config's microsecond kernels run faster on one thread than handed between two
# cores (docs/optimisation.md). The seed-count tables keep XLA's default, one per core.
ONE_SEED_THREADS = 1
SB3_VENV = Path.home() / ".cache" / "jaxrl" / "peers" / "sb3"
SB3_REQUIREMENTS = ["torch==2.13.0", "stable-baselines3==2.9.2", "gymnasium==1.4.0"]
SBX_VENV = Path.home() / ".cache" / "jaxrl" / "peers" / "sbx"
# What pip resolved for sbx-rl 0.28.0 (with the torch wheel SB3's venv has), pinned; tfp-nightly
# is sbx's distribution library.
SBX_REQUIREMENTS = ["sbx-rl==0.28.0", "jax==0.10.2", "jaxlib==0.10.2", "flax==0.12.8", "optax==0.2.8",
                    "tfp-nightly==0.26.0.dev20261027", "stable-baselines3==2.9.2", "gymnasium==1.4.0",
                    "torch==2.13.0"]


# The jax peers (rejax 0.1.3, PureJaxRL's ppo.py) step gymnax envs with the 0.0.x API (5-tuple
# steps), so gymnax 0.0.9; the rest as our constraints.txt pins it, distrax's tfp-nightly included.
JAX_PEER_REQUIREMENTS = ["gymnax==0.0.9", "jax==0.10.2", "jaxlib==0.10.2", "flax==0.12.8", "optax==0.2.8",
                         "chex==0.1.92", "distrax==0.1.9", "tfp-nightly==0.26.0.dev20261027"]
REJAX_VENV = Path.home() / ".cache" / "jaxrl" / "peers" / "rejax"
REJAX_REQUIREMENTS = ["rejax==0.1.3", *JAX_PEER_REQUIREMENTS]
PUREJAXRL_VENV = Path.home() / ".cache" / "jaxrl" / "peers" / "purejaxrl"
# PureJaxRL's wrappers module imports brax.
PUREJAXRL_REQUIREMENTS = ["brax==0.14.2", "mujoco==4.0.1", "mujoco-mjx==3.17.0", *JAX_PEER_REQUIREMENTS]

PEER_THRESHOLD_CASES = [
    # (algo, env, threshold, env-step cap, eval_every): SB3 with RL Zoo's hyperparameters.
    ("dqn", "CartPole-v1", 475.0, 200_000, 5_000),
    ("sac", "Pendulum-v1", -200.0, 20_000, 1_000),
]
# rejax with its configs/gymnax/cartpole.yaml, each capped at that file's own budget.
REJAX_THRESHOLD_CASES = [
    ("ppo", "CartPole-v1", 475.0, 100_000, 5_000),
    ("dqn", "CartPole-v1", 475.0, 100_000, 5_000),
    ("pqn", "CartPole-v1", 475.0, 524_288, 5_000),
]


class Peer(NamedTuple):
    """A library timed beside ours, run by the scripts in jaxrl/peers/ in its own venv."""
    label: str  # in the reports' rows
    short: str  # in their ratios
    version_key: str  # its entry in the peer scripts' "versions"
    venv: Path  # default virtual environment
    requirements: list[str]  # pinned, installed when the venv is created
    ppo_script: str = "sb3_ppo.py"  # PPO with the reference config
    # Compiled like ours (rejax, PureJaxRL): timed cold, warm on one XLA thread and over the
    # seed counts ours are; otherwise one `model.learn`, its compile (if any) inside.
    jax_program: bool = False
    script_args: tuple = ()  # appended to every script's arguments
    zoo_script: str | None = "sb3_zoo.py"  # tuned configs to a threshold (None: not in that section)
    threshold_cases: tuple = tuple(PEER_THRESHOLD_CASES)
    seed_threads: int | None = None  # XLA threads for a jax peer's seed table (None: XLA's default)

    @property
    def sb3_api(self) -> bool:
        """Trained through the SB3 scripts (SB3 itself, sbx): RL Zoo's hyperparameters, and
        the identical-hyperparameter runs."""
        return self.zoo_script == "sb3_zoo.py"


PEERS = {
    "sb3": Peer("Stable-Baselines3", "SB3", "stable_baselines3", SB3_VENV, SB3_REQUIREMENTS),
    "sbx": Peer("sbx", "sbx", "sbx", SBX_VENV, SBX_REQUIREMENTS, script_args=("--library", "sbx")),
    "rejax": Peer("rejax", "rejax", "rejax", REJAX_VENV, REJAX_REQUIREMENTS, ppo_script="rejax_ppo.py",
                  jax_program=True, zoo_script="rejax_zoo.py", threshold_cases=tuple(REJAX_THRESHOLD_CASES)),
    # A repository, not a package: its scripts get the checkout (`--purejaxrl-src`) first.
    # Its program never finishes on XLA's default two threads here (jax 0.10.2: every thread
    # waits, the process idle; it runs on one), so its seed table runs on one thread.
    "purejaxrl": Peer("PureJaxRL", "PureJaxRL", "purejaxrl", PUREJAXRL_VENV, PUREJAXRL_REQUIREMENTS,
                      ppo_script="purejaxrl_ppo.py", jax_program=True, zoo_script=None, threshold_cases=(),
                      seed_threads=1),
}


def _agent(total_steps: int):
    import envs
    from jaxrl.algos import ppo

    env, env_params = envs.make("CartPole-v1")
    return ppo.make(env, env_params, ppo.PPOConfig(total_steps=total_steps, **REFERENCE))


def warm_repeats(num_seeds: int) -> int:
    """Warm runs timed per seed count (the fastest is reported): a few for the short runs."""
    return 5 if num_seeds == 1 else 2 if num_seeds <= 8 else 1


def time_ours(total_steps: int, num_seeds: int, repeats: int | None = None,
              split: bool = False) -> dict:
    """Compile once, then time `repeats` (default `warm_repeats(num_seeds)`) warm runs of
    `num_seeds` vmapped seeds; with `split`, each seed's actor and critic learning on the
    first two devices (`shard="networks"`).

    As in `jaxrl train`, the init runs as its own lightly compiled program, the training
    program scans `agent.update` over the whole budget, and each program is traced while
    the previous one compiles (`jaxrl.compilation.Compiler`). Only the state leaves the
    training program (the per-iteration metrics are not read here)."""
    import jax
    import numpy as np

    from jaxrl.compilation import Compiler, jit_light
    from jaxrl.evaluation import evaluate_seeds
    from jaxrl.train import SPLIT_AXIS, over_seeds, split_networks, state_shardings, updates

    agent = _agent(total_steps)
    iterations = total_steps // agent.steps_per_iteration
    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    devices = jax.devices()
    shard = "networks" if split else "seeds" if len(devices) > 1 and num_seeds % len(devices) == 0 else None
    state_shape = jax.eval_shape(over_seeds(agent.init, num_seeds), keys)
    placement = {}
    train = over_seeds(updates(agent, iterations, SPLIT_AXIS if split else None), num_seeds)
    if split:
        train = split_networks(train, devices)
    if shard:  # One seed slice per device (forced CPU devices: one per core), as `--shard seeds`,
        # or every seed on both devices, each learning one of its networks (`--shard networks`).
        shardings = state_shardings(state_shape, shard)
        placement = {"out_shardings": shardings}
        state_shape = jax.tree.map(lambda x, sharding: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
                                   state_shape, shardings)
    t = time.perf_counter()
    with Compiler() as compiler:
        init = compiler.submit(jit_light(over_seeds(agent.init, num_seeds), same_numerics=True, **placement), keys)
        program = compiler.submit(jax.jit(lambda s: train(s)[0], donate_argnums=0), state_shape)
        init, program = init.result(), program.result()
    compile_seconds = time.perf_counter() - t
    warm = []
    for _ in range(repeats or warm_repeats(num_seeds)):
        states = jax.block_until_ready(init(keys))
        t = time.perf_counter()
        states = jax.block_until_ready(program(states))
        warm.append(time.perf_counter() - t)
    returns, _ = evaluate_seeds(agent, states, jax.random.split(jax.random.PRNGKey(1), num_seeds), 10)
    steps = iterations * agent.steps_per_iteration
    return {
        "num_seeds": num_seeds,
        "devices": 2 if split else len(devices) if shard else 1,
        "layout": "networks" if split else "seeds" if shard else "one device",
        "env_steps_per_seed": steps,
        "compile_seconds": compile_seconds,
        "warm_seconds": min(warm),
        "steps_per_second": steps * num_seeds / min(warm),
        "mean_return": float(np.mean(returns)),
        "min_seed_return": float(np.min(np.mean(returns, axis=1))),
    }


def _layout_worker(total_steps: int, seeds: list[int], split: bool = False) -> None:
    """Entry point of a CPU-layout subprocess: warm times of each seed count."""
    print(json.dumps([time_ours(total_steps, n, split=split) for n in seeds]))


def _compilation_cache_env(enabled: bool) -> dict[str, str]:
    """This process's environment for a benchmark subprocess, with the persistent
    compilation cache switched on or off (and none of this process's cache settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    env["JAX_ENABLE_COMPILATION_CACHE"] = "true" if enabled else "false"
    return env


def _cpu_layout_code(devices: int = 1, threads: int | None = None) -> str:
    """The statements a benchmark subprocess runs first to set up its CPU backend, as
    `jaxrl train --cpu-devices N --cpu-threads N` does."""
    code = "import jaxrl.compilation as layout; "
    if devices > 1:
        code += f"layout.use_cpu_devices({devices}); "
    if threads:
        code += f"layout.use_cpu_threads({threads}); "
    return code


def _worker_result(code: str, what: str, env: dict | None = None):
    """Run `code` in a fresh Python process (with environment `env`, else this one's) and
    return the JSON value it printed last; a failure raises with the end of its stderr."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         **({"env": env} if env is not None else {}))
    if out.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def time_ours_on_layout(total_steps: int, seeds: list[int], devices: int = 1,
                      threads: int | None = None, split: bool = False) -> list[dict]:
    """`time_ours` for each seed count in a fresh process with `devices` forced CPU devices,
    each executing its own slice of the seeds single-threaded (XLA's intra-op thread pool
    costs more than it gains on these small kernels), and `threads` XLA worker threads
    (None: XLA's default, one per core); with `split`, every seed on two devices, one
    learning its actor and the other its critic."""
    return _worker_result(_cpu_layout_code(2 if split else devices, threads)
                          + f"from jaxrl.benchmark import _layout_worker; "
                            f"_layout_worker({total_steps}, {list(seeds)}, {split})", "CPU-layout worker")


def _cold_worker(total_steps: int, split: bool = False) -> None:
    """Entry point of the cold-start subprocess: no compilation cache, one seed."""
    print(json.dumps(time_ours(total_steps, 1, repeats=1, split=split)))


def time_ours_cold(total_steps: int, threads: int | None = None, split: bool = False) -> dict:
    """Process start to result of one seed, no compilation cache: on `threads` XLA threads,
    or with `split` its actor and critic on two forced CPU devices (`--shard networks`)."""
    env = _compilation_cache_env(enabled=False)
    t = time.perf_counter()
    result = _worker_result(_cpu_layout_code(2 if split else 1, threads)
                            + f"from jaxrl.benchmark import _cold_worker; _cold_worker({total_steps}, {split})",
                            "cold-start worker", env)
    result["cold_seconds"] = time.perf_counter() - t
    return result


def _with_budget(overrides, total_steps: int) -> dict:
    """A case's config overrides with its step budget, as each side of the case trains it."""
    return {**(overrides or {}), "total_steps": total_steps}


def _preset_agent(algo_name: str, preset_name: str, overrides=None):
    from jaxrl import presets

    preset = presets.get(algo_name, preset_name)
    return preset.agent(**(overrides or {})), preset


def threshold_programs(agent, eval_every: int, eval_episodes: int = 10):
    """The three programs of a time-to-threshold run, jitted as the benchmark compiles them.

    Returns `(iterations, init, advance, score)`: `iterations` per training chunk (about
    `eval_every` env steps); `init(key) -> state` (light compile, same numerics);
    `advance(state) -> state`, one chunk (only the state leaves it, so XLA drops the unused
    per-iteration metrics; the state is donated); `score(params, key) -> mean` of an
    `eval_episodes`-episode deterministic evaluation (light compile)."""
    import jax

    from jaxrl.compilation import jit_light
    from jaxrl.train import evaluated_chunks

    iterations, advance, score = evaluated_chunks(agent, eval_every, eval_episodes)
    return (iterations, jit_light(agent.init, same_numerics=True), jax.jit(advance, donate_argnums=0),
            jit_light(score))


def time_to_threshold(algo_name: str, preset_name: str, threshold: float, eval_every: int,
                      process_start: float, seed: int = 0, eval_episodes: int = 10,
                      overrides=None) -> dict:
    """Train one seed of a preset, evaluating deterministically (`eval_episodes` episodes)
    every `eval_every` env steps, until the mean evaluation return reaches `threshold` or
    the preset's budget ends. Seconds are wall time since `process_start` (imports,
    compilation, training and every evaluation included)."""
    import jax
    import numpy as np

    from jaxrl.compilation import Compiler

    agent, preset = _preset_agent(algo_name, preset_name, overrides)
    chunk, init, advance, score = threshold_programs(agent, eval_every, eval_episodes)
    num_chunks = max(1, agent.config.total_steps // (chunk * agent.steps_per_iteration))

    # As `jaxrl.run` does: each program is traced while the previous ones compile.
    key = jax.random.PRNGKey(seed)
    with Compiler() as compiler:
        init_program = compiler.submit(init, key)
        state_shape = jax.eval_shape(init, key)
        advance = compiler.submit(advance, state_shape)
        score = compiler.submit(score, jax.eval_shape(agent.policy_params, state_shape), key)
        state = init_program.result()(key)
        advance, score = advance.result(), score.result()
    evaluations, reached = [], None
    for i in range(num_chunks):
        state = advance(state)
        mean = float(score(agent.policy_params(state), jax.random.PRNGKey(10_000 + i)))
        steps = (i + 1) * chunk * agent.steps_per_iteration
        seconds = time.perf_counter() - process_start
        evaluations.append((steps, mean, seconds))
        if mean >= threshold:
            reached = {"env_steps": steps, "seconds": seconds, "return": mean}
            break
    return {"library": "jaxrl", "algo": algo_name, "preset": preset_name, "env": preset.env,
            "threshold": threshold, "reached": reached, "evaluations": evaluations,
            "cold_seconds": time.perf_counter() - process_start,
            "final_return": float(np.asarray(evaluations[-1][1]))}


def throughput_ours(algo_name: str, preset_name: str, overrides, total_steps: int,
                    seeds=(0,)) -> dict:
    """Warm env steps per second of a preset with `overrides`, compiled first, then trained
    once per seed in `seeds`, one at a time: "seconds" is the median run's, "runs" each
    seed's."""
    import statistics

    import jax

    from jaxrl import train

    agent, _ = _preset_agent(algo_name, preset_name, _with_budget(overrides, total_steps))
    iterations = total_steps // agent.steps_per_iteration
    t = time.perf_counter()
    program = jax.jit(train(agent, iterations)).lower(jax.random.PRNGKey(0)).compile()
    compile_seconds = time.perf_counter() - t
    runs = []
    for seed in seeds:
        t = time.perf_counter()
        jax.block_until_ready(program(jax.random.PRNGKey(seed)))
        runs.append({"seed": seed, "seconds": time.perf_counter() - t})
    seconds = statistics.median(r["seconds"] for r in runs)
    steps = iterations * agent.steps_per_iteration
    return {"env_steps": steps, "compile_seconds": compile_seconds, "seconds": seconds,
            "steps_per_second": steps / seconds, "runs": runs}


def _threshold_worker(args_json: str) -> None:
    """Entry point of a time-to-threshold subprocess (prints one JSON line)."""
    kwargs = json.loads(args_json)
    print(json.dumps(time_to_threshold(process_start=_PROCESS_START, **kwargs)))


def time_to_threshold_subprocess(cache: bool, threads: int | None = ONE_SEED_THREADS, **kwargs) -> dict:
    """`time_to_threshold` in a fresh process, with the persistent compilation cache off
    (a true cold start) or on (a rerun on a machine that has compiled it before), on
    `threads` XLA worker threads (None: XLA's default; one seed of a classic-control preset
    runs fastest on one, as `jaxrl train --cpu-threads 1`)."""
    env = _compilation_cache_env(enabled=cache)
    # The clock starts before jaxrl (and so jax) is imported, as the SB3 worker's starts
    # before torch is.
    code = ("import time; start = time.perf_counter(); " + _cpu_layout_code(threads=threads)
            + "import jaxrl.benchmark as b; b._PROCESS_START = start; "
            + ("from jaxrl.train import enable_compilation_cache; enable_compilation_cache(); " if cache else "")
            + f"b._threshold_worker({json.dumps(json.dumps(kwargs))})")
    t = time.perf_counter()
    result = _worker_result(code, "time-to-threshold worker", env)
    # Interpreter start-up before the worker's clock started: count it too.
    result["process_seconds"] = time.perf_counter() - t
    return result


# A peer script that has run this long is taken to hang (the longest, 64 seeds of a jax
# peer's PPO, take ~5 minutes here).
PEER_TIMEOUT_SECONDS = 1800


def _run_peer(peer: str, python: Path, script: str, args: list, env: dict | None = None) -> dict:
    """Run jaxrl/peers/`script` with `args` under `peer`'s interpreter (sbx through the same
    scripts, with `--library sbx`) and return the JSON line it prints."""
    argv = [str(python), str(Path(__file__).parent / "peers" / script), *map(str, args), *PEERS[peer].script_args]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=PEER_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{PEERS[peer].label} {script} {' '.join(map(str, args))} did not finish in "
                           f"{PEER_TIMEOUT_SECONDS} s; run it by hand (`{' '.join(argv)}`) to see where it "
                           "waits, or leave the peer out of --peers.") from None
    if out.returncode != 0:
        raise RuntimeError(f"{PEERS[peer].label} {script} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def time_peer_zoo(peer: str, python: Path, algo: str, env_id: str, threshold: float, max_steps: int,
                  eval_every: int, seed: int = 0, identical: bool = False) -> dict:
    """The peer's `algo` with its tuned hyperparameters (RL Zoo's for the SB3-API peers, its
    own for rejax; or, `identical`, ours) trained until a deterministic evaluation reaches
    `threshold` or `max_steps` (jaxrl/peers/sb3_zoo.py, rejax_zoo.py)."""
    args = [algo, env_id, threshold, max_steps, eval_every, seed] + (["same-as-ours"] if identical else [])
    return _run_peer(peer, python, PEERS[peer].zoo_script, args)


def ensure_peer_venv(peer: str, path: Path, requirements: list[str] | None = None) -> Path:
    """The interpreter of a virtual environment with `peer`'s pinned requirements (or
    `requirements`), created if missing."""
    python = path / "bin" / "python"
    if not python.exists():
        print(f"creating {path} for {PEERS[peer].label} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *(requirements or PEERS[peer].requirements)],
                       check=True)
    return python


# Seeds of each SB3-API peer's PPO reference run, one process each: the report gives the
# median seed's seconds and the mean return over them.
PPO_PEER_SEEDS = (0, 1, 2)


def _over_seeds(runs: list[dict], seconds_keys, return_key: str) -> dict:
    """One side of a case over its per-seed `runs`: the first run's fields but its seed
    (library, versions, env steps), the median of each of `seconds_keys`, the mean of
    `return_key` (and "returns", each seed's), and the runs themselves."""
    import statistics

    merged = {**{k: v for k, v in runs[0].items() if k != "seed"}, "runs": runs,
              "returns": [r[return_key] for r in runs],
              return_key: statistics.fmean(r[return_key] for r in runs)}
    for key in seconds_keys:
        merged[key] = statistics.median(r[key] for r in runs)
    return merged


def time_peer_ppo(peer: str, python: Path, total_steps: int, seeds=PPO_PEER_SEEDS) -> dict:
    """The peer's PPO with the reference config (jaxrl/peers/sb3_ppo.py), one process per
    seed; cold seconds from the outside, interpreter start-up included. Seconds: the median
    seed's; "mean_return": the mean over the seeds ("returns": each seed's)."""
    runs = []
    for seed in seeds:
        t = time.perf_counter()
        result = _run_peer(peer, python, "sb3_ppo.py", [total_steps, seed])
        runs.append({**result, "seed": seed, "cold_seconds": time.perf_counter() - t})
    return _over_seeds(runs, ["cold_seconds", "learn_seconds"], "mean_return")


def _peer_layout_env(threads: int | None) -> dict:
    """A jax peer's process environment: no persistent compilation cache (rejax does not set
    one up, and ours is off for the cold start too), and `threads` XLA worker threads as
    `--cpu-threads` gives ours (None: XLA's default, one per core)."""
    env = {k: v for k, v in _compilation_cache_env(enabled=False).items() if k != "PJRT_NPROC"}
    return {**env, "PJRT_NPROC": str(threads)} if threads else env


def time_jax_peer_ppo(peer: str, python: Path, total_steps: int, seed_counts: list[int],
                      source: Path | None = None) -> dict:
    """A jax peer's PPO with the reference config (jaxrl/peers/rejax_ppo.py, purejaxrl_ppo.py,
    the latter given the `source` checkout) in the layouts ours is timed in: a cold start and
    a warm seed on `ONE_SEED_THREADS` XLA thread(s) (the headline row), and 1, 4, 16 ...
    vmapped seeds on XLA's default threads (the seed table). The result has the SB3 scripts'
    fields for the headline row, and "seeds"."""
    one_thread = _peer_layout_env(ONE_SEED_THREADS)
    script, first = PEERS[peer].ppo_script, [source] if source else []
    t = time.perf_counter()
    cold = _run_peer(peer, python, script, [*first, total_steps, 1, "--cold"], env=one_thread)
    cold_seconds = time.perf_counter() - t
    warm = _run_peer(peer, python, script, [*first, total_steps, 1], env=one_thread)["seeds"][0]
    seed_threads = PEERS[peer].seed_threads
    seeds = _run_peer(peer, python, script, [*first, total_steps, ",".join(map(str, seed_counts))],
                      env=_peer_layout_env(seed_threads))
    return {**seeds, "cold_seconds": cold_seconds, "compile_seconds": cold["seeds"][0]["compile_seconds"],
            "learn_seconds": warm["warm_seconds"], "mean_return": warm["mean_return"],
            "threads": ONE_SEED_THREADS, "seed_threads": seed_threads}


# Five seeds per case: with three, one fluke seed (SB3's DQN seed 0 evaluates at 500 after
# its first 5k env steps) leaves the median to the slower of the other two, and SB3's wall
# time for the same env steps varied by up to 45% between runs here.
THRESHOLD_SEEDS = (0, 1, 2, 3, 4)

THRESHOLD_CASES = [
    # (algo, preset, threshold, eval_every env steps): ours, each one seed per fresh process.
    ("dqn", "CartPole-v1", 475.0, 5_000),
    ("dqn", "CartPole-v1-rainbow", 475.0, 5_000),
    ("pqn", "CartPole-v1", 475.0, 5_000),
    ("ppo", "CartPole-v1", 475.0, 5_000),
    ("sac", "Pendulum-v1", -200.0, 1_000),
]


def _tuned(peer: str) -> str:
    """Whose tuned hyperparameters a peer's threshold runs use, for the report's rows."""
    return "RL Zoo hyperparameters" if PEERS[peer].sb3_api else "its own tuned hyperparameters"

# Identical hyperparameters on both sides (jaxrl/peers/sb3_zoo.py IDENTICAL holds the peers'):
# algo -> (our preset the rest comes from, overrides, env steps ours, env steps for each peer).
IDENTICAL = {
    "dqn": ("CartPole-v1", dict(num_envs=1, num_steps=1, gradient_steps=1, batch_size=128,
                                learning_starts=1000, epsilon_decay_steps=20_000), 50_000, 50_000),
    "sac": ("Pendulum-v1", dict(num_envs=1, num_steps=1, gradient_steps=1, batch_size=256,
                                hidden_sizes=(256, 256), buffer_size=1_000_000, learning_starts=100,
                                actor_lr=1e-3, critic_lr=1e-3, alpha_lr=1e-3), 5_000, 3_000),
}


def run_thresholds(peer_pythons: dict[str, Path], seeds=THRESHOLD_SEEDS, identical_scale: float = 1.0) -> dict:
    """Time to a deterministic evaluation return (475 on CartPole-v1, -200 on Pendulum-v1),
    compile included, for our presets (cold: compilation cache off) and for each peer (name ->
    its venv's interpreter) with RL Zoo's hyperparameters; and throughput of DQN and SAC with
    identical hyperparameters (`identical_scale` shrinks their step counts for a quick run)."""
    out = {"ours": [], **{peer: [] for peer in peer_pythons}, "seeds": list(seeds), "identical": {},
           "threads": ONE_SEED_THREADS, "order": "seed by seed"}
    # Seed by seed, every case in turn: the VM's drift over the minutes of the run then
    # spreads over all cases instead of favouring whichever ran in a fast stretch.
    for seed in seeds:
        for algo, preset, threshold, every in THRESHOLD_CASES:
            print(f"jaxrl {algo} {preset} seed {seed} to {threshold} ...", file=sys.stderr)
            r = time_to_threshold_subprocess(False, algo_name=algo, preset_name=preset,
                                             threshold=threshold, eval_every=every, seed=seed)
            out["ours"].append({**r, "seed": seed})
    for peer, python in peer_pythons.items():
        for algo, env_id, threshold, cap, every in PEERS[peer].threshold_cases:
            for seed in seeds:
                print(f"{PEERS[peer].short} {algo} (tuned) {env_id} seed {seed} to {threshold} ...", file=sys.stderr)
                out[peer].append({**time_peer_zoo(peer, python, algo, env_id, threshold, cap, every, seed),
                                  "seed": seed})
    # Identical hyperparameters are SB3's DQN and SAC arguments (jaxrl/peers/sb3_zoo.py).
    peer_pythons = {peer: python for peer, python in peer_pythons.items() if PEERS[peer].sb3_api}
    for algo, (preset, overrides, ours_steps, peer_steps) in IDENTICAL.items():
        ours_steps, peer_steps = (max(1_000, int(n * identical_scale)) for n in (ours_steps, peer_steps))
        print(f"jaxrl {algo}, identical hyperparameters ...", file=sys.stderr)
        pair = {"ours": throughput_ours(algo, preset, overrides, ours_steps)}
        for peer, python in peer_pythons.items():
            print(f"{PEERS[peer].short} {algo}, identical hyperparameters ...", file=sys.stderr)
            pair[peer] = time_peer_zoo(peer, python, algo, _preset_env(algo, preset), 1e9, peer_steps,
                                       10 * peer_steps, 0, identical=True)
        out["identical"][algo] = pair
    return out


# The cases timed at one fixed budget on both sides with the same hyperparameters: one of
# our presets, and its SB3 arguments derived from it (`peer_case`). (algo, preset, env steps,
# config overrides: what the preset uses that SB3 cannot express, switched off on our side,
# or settings held at what a case was measured with.)
CASES = [
    ("ppo", "Breakout-MinAtar", 250_000, {}),
    # The hopper preset's settings before it took 10 epochs x 32 minibatches and gamma 0.99
    # (2026-12-07): what this case was measured with, and 10x fewer of SB3's slow gradient steps.
    ("ppo", "brax/hopper", 200_000, {"update_epochs": 4, "num_minibatches": 8, "gamma": 0.97}),
    ("sac", "brax/hopper", 20_000, {"layer_norm": False}),  # SB3's SAC has none (nor has this preset)
]
# What an SB3-API peer needs to step our environments (jaxrl/peers/sb3_cases.py imports our
# `envs` package): constraints.txt's pins. gymnax 1.0.1 does not install beside gymnasium
# 1.4.0, so these venvs are apart from the peers' own (VENV + "-envs").
ENV_REQUIREMENTS = ["gymnasium==1.3.0", "jax==0.10.2", "jaxlib==0.10.2", "gymnax==1.0.1", "brax==0.14.2",
                    "mujoco==4.0.0", "mujoco-mjx==3.17.0", "flax==0.12.8", "optax==0.2.8",
                    "six==1.17.0"]  # gymnax imports six without declaring it


def env_venv(venv: Path) -> Path:
    """The virtual environment, beside a peer's `venv`, in which it steps our environments."""
    return venv.with_name(venv.name + "-envs")


def env_requirements(peer: str) -> list[str]:
    """A peer's pins with ENV_REQUIREMENTS' in place of its own gymnasium."""
    return [r for r in PEERS[peer].requirements if not r.startswith("gymnasium==")] + ENV_REQUIREMENTS


def peer_case(algo_name: str, preset_name: str, total_steps: int, overrides=None) -> dict:
    """What jaxrl/peers/sb3_cases.py needs to train SB3's `algo_name` as our preset trains:
    the env, its number of copies and SB3's keyword arguments derived from the preset's config
    at `total_steps` with `overrides` (JSON-ready). A config SB3 cannot express raises
    ValueError."""
    from jaxrl import presets

    preset = presets.get(algo_name, preset_name)
    c = preset.config(**_with_budget(overrides, total_steps))
    # The env steps our side trains: whole iterations (SB3 would round up to its next rollout).
    steps_per_iteration = c.num_envs * c.num_steps
    case = {"algo": algo_name, "env": preset.env, "env_kwargs": dict(preset.env_kwargs),
            "num_envs": c.num_envs, "total_steps": total_steps // steps_per_iteration * steps_per_iteration,
            "activation": c.activation,
            "envs_path": str(Path(__file__).resolve().parent.parent)}
    sizes = list(c.hidden_sizes)
    if algo_name == "ppo":
        image = c.network == "cnn" or (c.network == "auto" and preset.env.endswith("-MinAtar"))
        if c.objective != "clip" or c.recurrent or c.shared_torso or image:
            raise ValueError(f"ppo preset {preset_name!r}: SB3's PPO has no counterpart for its network or "
                             "objective (a CNN, shared torso, GRU or KL penalty); pick an MLP preset")
        case["kwargs"] = dict(
            n_steps=c.num_steps, batch_size=c.num_envs * c.num_steps // c.num_minibatches,
            n_epochs=c.update_epochs, learning_rate=c.learning_rate, gamma=c.gamma,
            gae_lambda=c.gae_lambda, clip_range=c.clip_eps,
            clip_range_vf=c.clip_eps if c.clip_value_loss else None, ent_coef=c.ent_coef,
            vf_coef=c.vf_coef, max_grad_norm=c.max_grad_norm, normalize_advantage=c.normalize_advantages)
        case["policy_kwargs"] = dict(net_arch=dict(pi=sizes, vf=sizes), log_std_init=c.init_log_std)
        case["anneal_lr"] = c.anneal_lr
        if c.normalize_observations or c.scale_rewards:
            case["normalize"] = {"obs": c.normalize_observations, "reward": c.scale_rewards}
    elif algo_name == "sac":
        if c.layer_norm:
            raise ValueError(f"sac preset {preset_name!r}: SB3's SAC has no LayerNorm; case it with "
                             "overrides {'layer_norm': False}")
        if not c.actor_lr == c.critic_lr == c.alpha_lr:
            raise ValueError(f"sac preset {preset_name!r}: SB3's SAC has one learning rate for actor, critics "
                             f"and temperature, the preset {c.actor_lr}, {c.critic_lr}, {c.alpha_lr}")
        case["kwargs"] = dict(
            buffer_size=c.buffer_size, batch_size=c.batch_size, learning_starts=c.learning_starts,
            train_freq=c.num_steps, gradient_steps=c.gradient_steps, learning_rate=c.actor_lr,
            gamma=c.gamma, tau=c.tau,
            ent_coef=("auto" if c.init_alpha == 1.0 else f"auto_{c.init_alpha}") if c.autotune_alpha
            else c.init_alpha)
        case["policy_kwargs"] = dict(net_arch=sizes, n_critics=c.num_critics)
        if c.exploration == "gsde":
            case["policy_kwargs"]["log_std_init"] = c.log_std_init
        case["target_entropy_per_dim"] = c.target_entropy_per_dim
    else:
        raise ValueError(f"no SB3 case for {algo_name!r}: ppo or sac")
    if c.exploration == "gsde":  # SB3's use_sde (PPO's log_std_init is passed either way)
        case["kwargs"].update(use_sde=True, sde_sample_freq=c.sde_sample_freq)
    return case


# Three seeds per case and side: the report gives the mean return over them and the median
# run's seconds (the peers' Brax runs take minutes each, so not THRESHOLD_SEEDS' five).
CASE_SEEDS = (0, 1, 2)


def run_cases(peer_pythons: dict[str, Path], cases=CASES, seeds=CASE_SEEDS) -> list[dict]:
    """Each case at its budget, the same hyperparameters and `seeds` on each side, seed by
    seed (ours, then each peer), so a slow stretch of the machine lands on both sides: ours
    cold (a fresh process, compilation cache off, XLA's default threads, through one final
    deterministic evaluation of 10 episodes) and warm (compiled once, in this process, then
    each seed); each SB3-API peer (name -> the interpreter of its `-envs` venv) one process
    per seed, `model.learn` timed inside it. Seconds: medians over the seeds; returns: means."""
    rows = []
    for algo, preset, steps, overrides in cases:
        case = peer_case(algo, preset, steps, overrides)
        colds, peer_runs = [], {peer: [] for peer in peer_pythons}
        for seed in seeds:
            print(f"jaxrl {algo} {preset}, {steps:,} env steps, seed {seed}, cold ...", file=sys.stderr)
            cold = time_to_threshold_subprocess(False, threads=None, algo_name=algo, preset_name=preset,
                                                threshold=math.inf, eval_every=steps, seed=seed,
                                                overrides=_with_budget(overrides, steps))
            colds.append({"seed": seed, "cold_seconds": cold["process_seconds"], "return": cold["final_return"],
                          "cold_env_steps": cold["evaluations"][-1][0], "env": cold["env"]})
            for peer, python in peer_pythons.items():
                print(f"{PEERS[peer].short} {algo} {preset}, seed {seed}, same hyperparameters ...", file=sys.stderr)
                t = time.perf_counter()
                peer_runs[peer].append({**_run_peer(peer, python, "sb3_cases.py", [json.dumps(case), seed]),
                                        "seed": seed, "process_seconds": time.perf_counter() - t})
        print(f"jaxrl {algo} {preset}, warm, seeds {list(seeds)} ...", file=sys.stderr)
        warm = throughput_ours(algo, preset, overrides, steps, seeds)
        ours = _over_seeds(colds, ["cold_seconds"], "return")
        ours.update({key: warm[key] for key in ("env_steps", "compile_seconds", "seconds", "steps_per_second")},
                    warm_runs=warm["runs"])
        row = {"algo": algo, "preset": preset, "env": ours.pop("env"), "total_steps": steps,
               "overrides": dict(overrides), "seeds": list(seeds),
               "flops": case_flops(algo, preset, steps, overrides), "ours": ours}
        for peer, runs in peer_runs.items():
            row[peer] = _over_seeds(runs, ["process_seconds", "learn_seconds", "env_compile_seconds"],
                                    "mean_return")
            row[peer]["steps_per_second"] = row[peer]["env_steps"] / row[peer]["learn_seconds"]
        rows.append(row)
    return rows


def _preset_env(algo_name: str, preset_name: str) -> str:
    from jaxrl import presets

    return presets.get(algo_name, preset_name).env


def _median_reached(runs):
    """(median seconds, median env steps, 'k/n') over the runs that reached the threshold."""
    import statistics

    hit = [r["reached"] for r in runs if r["reached"]]
    if not hit:
        return None, None, f"0/{len(runs)}"
    return (statistics.median(h["seconds"] for h in hit), statistics.median(h["env_steps"] for h in hit),
            f"{len(hit)}/{len(runs)}")


def _peer_name(peer: str, result: dict) -> str:
    """The peer's label and version as a report row gives them (e.g. "Stable-Baselines3 2.9.2")."""
    return f"{PEERS[peer].label} {result['versions'][PEERS[peer].version_key]}"


def _notes_markdown(results: list[dict]) -> list[str]:
    """A paragraph per library and algorithm whose runs report "notes": how that peer's
    hyperparameters depart from SB3's (the nearest equivalents of what it lacks)."""
    notes = {}
    for r in results:
        if r.get("notes"):
            notes.setdefault((r["library"], r.get("algo", "ppo")), r["notes"])
    return [line for (library, algo), n in notes.items()
            for line in ("", f"How {library}'s {algo.upper()} differs from SB3's here: " + "; ".join(n) + ".")]


def _ratio_cell(ours_rate: float, peer_rates: dict[str, float]) -> str:
    """Our rate over each peer's: bare with one peer (as the SB3-only reports have it),
    named with several."""
    if len(peer_rates) == 1:
        return f"**{ours_rate / next(iter(peer_rates.values())):.1f}x**"
    return ", ".join(f"**{ours_rate / rate:.1f}x** vs {short}" for short, rate in peer_rates.items()) or "-"


def _threshold_markdown(t: dict) -> list[str]:
    lines = [
        "## Time to a threshold return (compile included)",
        "",
        "Wall time from process start (before jax or torch is imported) until a deterministic",
        "evaluation (10 episodes) first reaches the threshold, evaluating every 5k env steps on",
        f"CartPole-v1 and every 1k on Pendulum-v1, both sides; one seed per process, seeds {t['seeds']},",
        "medians over the seeds that reached it. Ours: the preset"
        + (" (our runs seed by seed, every preset in turn)" if t.get("order") == "seed by seed" else "")
        + ", with the persistent",
        "compilation cache off (a true cold start)"
        + (f", on {t['threads']} XLA worker thread (`--cpu-threads {t['threads']}`)" if t.get("threads") else "")
        + ". SB3: RL Zoo's hyperparameters (DQN",
        "CartPole-v1: 256-256, 128 gradient steps per 256 env steps, capped at 200k env steps;",
        "SAC Pendulum-v1: lr 1e-3 and SB3's defaults, one 256-256 gradient step per env step,",
        "capped at 20k).",
        "",
    ]
    identical = t.get("identical", {})
    peer_runs = [r for peer in PEERS for r in t.get(peer, [])] + \
        [r for pair in identical.values() for side, r in pair.items() if side != "ours"]
    if t.get("sbx") or any("sbx" in pair for pair in identical.values()):
        lines += ["sbx: the same hyperparameters through sbx's DQN and SAC, timed the same way (where",
                  "it differs from SB3: under the tables).", ""]
    if t.get("rejax"):
        lines += ["rejax: PPO, DQN and PQN with the hyperparameters of rejax's `configs/gymnax/cartpole.yaml`",
                  "(PPO: 5 envs x 100 steps, 5 epochs x 5 minibatches, lr 7.5e-4, 100k env steps; DQN:",
                  "dueling double DQN, swish 64-64, 10 envs, 5 gradient steps of batch 100 per iteration,",
                  "Polyak 0.98, 100k; PQN: 16 envs x 128 steps, 5 epochs x 16 minibatches, 524,288),",
                  "capped at that budget. rejax compiles the whole run as one program; our evaluation",
                  "(deterministic, 10 episodes, every 5k env steps) runs inside it and reports to the host",
                  "with the wall time. The run cannot stop early: the time is that of the first",
                  "evaluation at or above the threshold, the steps after it not counted.", ""]
    envs_ = {}
    for r in t["ours"]:
        envs_.setdefault((r["env"], r["threshold"]), {}).setdefault(
            f"jaxrl {r['algo'].upper()} preset `{r['preset']}`", (("jaxrl", r["algo"]), []))[1].append(r)
    for peer in PEERS:
        for r in t.get(peer, []):
            envs_.setdefault((r["env"], r["threshold"]), {}).setdefault(
                f"{PEERS[peer].label} {r['algo'].upper()}, {_tuned(peer)}", ((peer, r["algo"]), [])
            )[1].append(r)
    for (env_id, threshold), groups in envs_.items():
        lines += [f"### {env_id} to {threshold:g}", "",
                  "| | median seconds | median env steps | seeds reaching it |", "|---|---|---|---|"]
        medians = {}
        for name, (key, runs) in groups.items():
            secs, steps, frac = _median_reached(runs)
            medians[name] = (key, secs)
            lines.append(f"| {name} | {f'{secs:.1f} s' if secs else 'not reached'} | "
                         f"{f'{steps:,.0f}' if steps else '-'} | {frac} |")
        peer_secs = {key: secs for key, secs in medians.values() if key[0] != "jaxrl"}
        ratios = [f"{name.removeprefix('jaxrl ')} **{peer_secs[peer, algo] / secs:.1f}x** sooner than "
                  f"{PEERS[peer].short}'s"
                  for name, ((side, algo), secs) in medians.items() if side == "jaxrl" and secs
                  for peer in PEERS if peer_secs.get((peer, algo))]
        lines += ["", "Median time ratio: " + "; ".join(ratios) + ".", ""] if ratios else [""]
        ours = sorted((secs, name.removeprefix("jaxrl ")) for name, ((side, _), secs) in medians.items()
                      if side == "jaxrl" and secs)
        if len(ours) > 1:
            lines += ["Ours, soonest first (median seconds): "
                      + ", ".join(f"{name} {secs:.1f} s" for secs, name in ours) + ".", ""]
    if identical:
        lines += [
            "### Throughput with identical hyperparameters",
            "",
            "1 env, one gradient step per env step, the same network on both sides; warm",
            "training time (ours: after compiling; SB3: `model.learn`). DQN CartPole-v1: 64-64 ReLU,",
            "batch 128, 10k buffer, target copy every 50 steps. SAC Pendulum-v1: 256-256, batch 256,",
            "lr 1e-3, buffer 1e6, 100 warm-up steps.",
            "",
            "| | env steps | seconds | env steps/s | ratio |",
            "|---|---|---|---|---|",
        ]
        for algo, pair in identical.items():
            ours = pair["ours"]
            peers = {peer: pair[peer] for peer in PEERS if pair.get(peer)}
            ratio = _ratio_cell(ours["steps_per_second"],
                                {PEERS[peer].short: r["steps_per_second"] for peer, r in peers.items()})
            lines.append(f"| jaxrl {algo.upper()} (compiled once, {ours['compile_seconds']:.1f} s) | "
                         f"{ours['env_steps']:,} | {ours['seconds']:.1f} | {ours['steps_per_second']:,.0f} | {ratio} |")
            for peer, r in peers.items():
                lines.append(f"| {_peer_name(peer, r)} {algo.upper()} | "
                             f"{r['env_steps']:,} | {r['learn_seconds']:.1f} | {r['steps_per_second']:,.0f} | 1.0x |")
    return lines + _notes_markdown(peer_runs) + [""]


def _returns_cell(mean: float, returns: list[float] | None) -> str:
    """A return cell: the mean, and each seed's after it when there are several."""
    if not returns or len(returns) < 2:
        return f"{mean:.1f}"
    return f"{mean:.1f} ({', '.join(f'{r:.1f}' for r in returns)})"


def _cases_markdown(rows: list[dict], peak_gflops: float | None = None) -> list[str]:
    seeds = rows[0].get("seeds", [0]) if rows else [0]
    over = (f"seeds {', '.join(map(str, seeds))} each side, one at a time and alternating the sides"
            if len(seeds) > 1 else f"one seed ({seeds[0]}) each side")
    lines = [
        "## Same hyperparameters on MinAtar and Brax: PPO and SAC against SB3",
        "",
        f"One of our presets at a fixed budget, {over}, and SB3 (and sbx) given the",
        "same hyperparameters, derived from the preset's config (`jaxrl.benchmark.peer_case`: envs,",
        "rollout and minibatch sizes, epochs, learning rate and its annealing, clipping, networks,",
        "observation and reward normalisation through SB3's `VecNormalize`; for SAC the buffer,",
        "batch, warm-up, gradient steps per env step and temperature). The peers step our own",
        "environments (the same dynamics, auto-reset and time limits), all envs in one compiled",
        "call per step behind SB3's `VecEnv` interface (jaxrl/peers/sb3_cases.py), compiled before",
        "`model.learn`. Cold: process start to result, compilation (ours with the cache off; theirs",
        "the env's) and a final deterministic evaluation of 10 episodes included; warm: training",
        "only (ours compiled once, then each seed; theirs `model.learn`). Return: that evaluation"
        + (", the mean over the seeds, then each seed's; seconds and env steps/s: the median seed's."
           if len(seeds) > 1 else "."),
        "XLA's default threads and torch's default threads, one process at a time.",
        "",
    ]
    if rows and "flops" in rows[0]:
        lines += ["GFLOP/s: the training's FLOPs counted from the networks (`jaxrl.benchmark.case_flops`,",
                  "as the limits section counts them; the env's own arithmetic left out) over its warm seconds"
                  + (f", and their share of the {peak_gflops:.0f} GFLOP/s matmul peak measured there." if peak_gflops
                     else "."), ""]

    def rate(flops: float | None, seconds: float) -> str:
        """The GFLOP/s cell (with the share of the peak), or nothing without a FLOP count."""
        if flops is None:
            return ""
        gflops = flops / seconds / 1e9
        return f" {gflops:.0f}" + (f" ({gflops / peak_gflops:.0%})" if peak_gflops else "") + " |"

    for row in rows:
        ours = row["ours"]
        peers = {peer: row[peer] for peer in PEERS if row.get(peer)}
        flops = row.get("flops")
        flops_column = flops is not None
        changed = "".join(f", {k}={v}" for k, v in row.get("overrides", {}).items())
        lines += [f"### {row['algo'].upper()} {row['env']} (preset `{row['preset']}`{changed}), "
                  f"{row['total_steps']:,} env steps", "",
                  "| | cold | compile | warm (training only) | env steps/s (warm) | return |"
                  + (" GFLOP/s (warm) |" if flops_column else ""),
                  "|---|---|---|---|---|---|" + ("---|" if flops_column else ""),
                  f"| jaxrl | {ours['cold_seconds']:.1f} s | {ours['compile_seconds']:.1f} s | "
                  f"{ours['seconds']:.1f} s | {ours['steps_per_second']:,.0f} | "
                  f"{_returns_cell(ours['return'], ours.get('returns'))} |" + rate(flops, ours["seconds"])]
        for peer, r in peers.items():
            lines.append(f"| {_peer_name(peer, r)} | {r['process_seconds']:.1f} s | "
                         f"{r['env_compile_seconds']:.1f} s (the env) | {r['learn_seconds']:.1f} s | "
                         f"{r['steps_per_second']:,.0f} | {_returns_cell(r['mean_return'], r.get('returns'))} |"
                         + rate(flops, r["learn_seconds"]))
        ratios = [f"{PEERS[peer].short}: warm **{r['learn_seconds'] / ours['seconds']:.1f}x**, "
                  f"cold **{r['process_seconds'] / ours['cold_seconds']:.1f}x**" for peer, r in peers.items()]
        lines += ["", "Ours faster: " + "; ".join(ratios) + ".", ""] if ratios else [""]
    lines += ["Why these ratios are far below CartPole's: the large products set the pace on both sides",
              "(optimisation.md, \"Where PPO and SAC stand against SB3 when the networks are large\")."]
    return lines + _notes_markdown([r for row in rows for peer in PEERS if (r := row.get(peer))]) + [""]


SCALING_ENVS = [("CartPole-v1", {}), ("Breakout-MinAtar", {}), ("brax/halfcheetah", {"backend": "positional"})]
SCALING_NUM_ENVS = (1, 4, 16, 64, 256, 1024, 4096)


def env_steps_per_second(env_id: str, env_kwargs: dict, num_envs: int, min_seconds: float = 0.5,
                         devices: int = 1) -> dict:
    """Env steps per second of `num_envs` vectorised envs under uniformly random actions,
    stepped (with auto-reset) inside one compiled `lax.scan`, as our rollouts step them;
    with `devices` > 1, the envs split evenly over the first `devices` XLA devices, each
    stepping its share with its own random keys (`shard_map`, no communication).

    The scan grows until one call takes `min_seconds` or reaches 4,096 steps; the rate is
    that of the fastest call among it and the calls made over `min_seconds` more (at least
    two; none when one call takes 2 s). Single calls varied up to 2x between runs on a shared
    VM: 20-50 ms for a few Breakout envs' 4,096 steps, 1.0-1.8 s for 256 brax/halfcheetah
    envs' 16."""
    import jax
    import numpy as np

    import envs
    from jaxrl.compilation import jit_light
    from jaxrl.rollout import collect, reset_envs

    env, env_params = envs.make(env_id, **env_kwargs)
    space = env.action_space(env_params)

    def policy(carry, obs, first, key):
        actions = jax.vmap(space.sample)(jax.random.split(key, obs.shape[0]))
        return carry, actions, jax.numpy.zeros(obs.shape[0])

    def rollout(batch, key, steps):
        return collect(env, env_params, policy, None, batch, key, steps)[0]

    batch = jit_light(lambda key: reset_envs(env, env_params, key, num_envs))(jax.random.PRNGKey(0))
    step_all = rollout
    if devices > 1:
        from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

        mesh = Mesh(np.array(jax.devices()[:devices]), ("envs",))
        batch = jax.device_put(batch, NamedSharding(mesh, P("envs")))

        def step_all(batch, key, steps):
            def local(batch, key):
                return rollout(batch, jax.random.fold_in(key, jax.lax.axis_index("envs")), steps)
            return jax.shard_map(local, mesh=mesh, in_specs=(P("envs"), P()), out_specs=P("envs"))(batch, key)

    steps = 16
    while True:
        program = jax.jit(lambda b, k, n=steps: step_all(b, k, n))
        t = time.perf_counter()
        compiled = program.lower(batch, jax.random.PRNGKey(1)).compile()
        compile_seconds = time.perf_counter() - t
        jax.block_until_ready(compiled(batch, jax.random.PRNGKey(1)))
        t = time.perf_counter()
        jax.block_until_ready(compiled(batch, jax.random.PRNGKey(2)))
        seconds = time.perf_counter() - t
        if seconds >= min_seconds or steps >= 4096:
            break
        steps = min(4096, steps * max(2, int(min_seconds / max(seconds, 1e-4))))
    if seconds < 2.0:  # one call of a few seconds or less is too noisy on a shared VM
        repeats = max(2, math.ceil(min_seconds / max(seconds, 1e-4)))
        seconds = min(seconds, _best_seconds(compiled, (batch, jax.random.PRNGKey(3)), repeats, warm_up=False))
    return {"env": env_id, "num_envs": num_envs, "devices": devices, "steps_per_env": steps, "seconds": seconds,
            "compile_seconds": compile_seconds, "steps_per_second": num_envs * steps / seconds}


# `--quick` scales over these only: each env count is one more program to compile, and
# brax/halfcheetah's take ~45 s each here.
QUICK_SCALING_NUM_ENVS = (1, 16, 256)


def run_scaling(num_envs=SCALING_NUM_ENVS, quick: bool = False, devices: int = 1) -> list[dict]:
    """Env steps/s against the number of vectorised envs for each of SCALING_ENVS, on one
    XLA device; then, with `devices` > 1, the same counts that divide evenly over that many
    forced CPU devices (one per core), in a fresh process (`_scaling_worker`). `quick`: the
    QUICK_SCALING_NUM_ENVS on one device only (the device sweep compiles every Brax program
    again, which would take `--quick` past its 10 minutes)."""
    counts = [n for n in num_envs if not quick or n in QUICK_SCALING_NUM_ENVS]
    out = []
    for env_id, kwargs in SCALING_ENVS:
        for n in counts:
            print(f"scaling: {env_id} x {n} envs ...", file=sys.stderr)
            out.append(env_steps_per_second(env_id, kwargs, n, min_seconds=0.2 if quick else 0.5))
    split = [] if quick else [n for n in counts if n >= devices and n % devices == 0]
    if devices > 1 and split:
        print(f"scaling: {split} envs over {devices} forced CPU devices ...", file=sys.stderr)
        out += _worker_result(_cpu_layout_code(devices) + "from jaxrl.benchmark import _scaling_worker; "
                              f"_scaling_worker({split}, {devices})", f"scaling worker on {devices} devices")
    return out


def _scaling_worker(num_envs: list[int], devices: int) -> None:
    """Entry point of the multi-device scaling subprocess (prints one JSON line)."""
    print(json.dumps([env_steps_per_second(env_id, kwargs, n, devices=devices)
                      for env_id, kwargs in SCALING_ENVS for n in num_envs]))


def _scaling_markdown(rows: list[dict]) -> list[str]:
    counts = sorted({r["num_envs"] for r in rows})
    lines = [
        "## Env steps per second against the number of envs",
        "",
        "Uniformly random actions, the envs stepped (with auto-reset) by our rollout code inside one",
        "compiled `lax.scan`; steps per second over all envs (brax/halfcheetah on the `positional`",
        "backend). Each scan grows until one call takes 0.5 s (0.2 s with `--quick`) or reaches",
        "4,096 steps; the rate is that of the fastest of that call and the calls made over as long",
        "again (at least two more; none when one call takes 2 s). One XLA device, and where timed,",
        "the envs split evenly over forced CPU devices (one per core, `--cpu-devices N`), each",
        "device stepping its share with its own keys (`shard_map`, no communication).",
        "",
        "| env | devices | " + " | ".join(str(n) for n in counts) + " |",
        "|---|---|" + "---|" * len(counts),
    ]
    for env_id in dict.fromkeys(r["env"] for r in rows):
        for devices in sorted({r.get("devices", 1) for r in rows if r["env"] == env_id}):
            by_n = {r["num_envs"]: r["steps_per_second"] for r in rows
                    if r["env"] == env_id and r.get("devices", 1) == devices}
            lines.append(f"| {env_id} | {devices} | "
                         + " | ".join(f"{by_n[n]:,.0f}" if n in by_n else "-" for n in counts) + " |")
    return lines + [""]


def _best_seconds(program, args: tuple, repeats: int, warm_up: bool = True) -> float:
    """Fastest of `repeats` timed calls of `program(*args)`, after one untimed warm-up call
    (unless `warm_up=False`: the program has run already)."""
    import jax

    if warm_up:
        jax.block_until_ready(program(*args))
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(program(*args))
        best = min(best, time.perf_counter() - t)
    return best


def measure_matmul(rows: int, width: int, repeats: int = 200) -> float:
    """GFLOP/s of a float32 (rows, width) @ (width, width) matmul, `repeats` of them chained
    in one compiled loop (so dispatch does not count, as inside a training program)."""
    import jax
    import jax.numpy as jnp

    a = jnp.ones((rows, width), jnp.float32)
    w = jnp.eye(width, dtype=jnp.float32)  # an argument, so XLA cannot fold it away
    program = jax.jit(lambda a, w: jax.lax.scan(lambda c, _: (c @ w, None), a, None, length=repeats)[0])
    return 2 * rows * width * width * repeats / _best_seconds(program, (a, w), 3) / 1e9


def measure_bandwidth(num_floats: int = 1 << 26) -> float:
    """GB/s of a streaming float32 `x + 1` over `num_floats` elements (read + write)."""
    import jax
    import jax.numpy as jnp

    x = jnp.zeros(num_floats, jnp.float32)
    return 2 * 4 * num_floats / _best_seconds(jax.jit(lambda x: x + 1.0), (x,), 5) / 1e9


def mlp_macs(sizes) -> int:
    """Multiply-accumulates of one forward pass of a dense MLP with layer widths `sizes`."""
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def ppo_flops_per_env_step(actor_sizes, critic_sizes, update_epochs: int) -> int:
    """PPO's FLOPs per env step, counted from its MLPs: one rollout forward of actor and
    critic, then `update_epochs` of forward+backward (3 forwards); 2 FLOPs per MAC."""
    return 2 * (mlp_macs(actor_sizes) + mlp_macs(critic_sizes)) * (1 + 3 * update_epochs)


def update_flops() -> dict:
    """FLOPs per env step of the benchmarked updates, counted from the networks (2 FLOPs
    per multiply-accumulate; a forward+backward pass costs 3 forwards). Elementwise ops,
    the env and the optimizer are left out: they are small next to the matmuls here."""
    ppo = ppo_flops_per_env_step((4, 64, 64, 2), (4, 64, 64, 1), REFERENCE["update_epochs"])
    # DQN preset: 16 envs, 2 gradient steps of batch 128 per 16 env steps (double DQN:
    # online forward+backward on obs, online and target forwards on next obs), plus acting.
    q_forward = mlp_macs((4, 64, 64, 2))
    dqn_per_iteration = 2 * q_forward * (16 + 2 * 128 * (3 + 1 + 1))
    return {"ppo_reference": ppo, "dqn_preset": dqn_per_iteration / 16}


def case_flops(algo_name: str, preset_name: str, total_steps: int, overrides=None) -> float:
    """FLOPs of one seed's training in a `CASES` entry, counted from the networks as
    `update_flops` counts them. PPO: a rollout forward per env step, then `update_epochs` of
    forward+backward through actor and critic. SAC, per replayed sample of a gradient step:
    the actor's next action and the target critics (forwards), the critics' forward+backward,
    the actor's forward+backward and the critics' forward and input gradient under it (~2
    forwards); plus the actor's forward for every env step acted on."""
    import numpy as np

    import envs

    agent, _ = _preset_agent(algo_name, preset_name, _with_budget(overrides, total_steps))
    c, steps_per_iteration = agent.config, agent.steps_per_iteration
    iterations = total_steps // steps_per_iteration
    obs = int(np.prod(agent.env.observation_space(agent.env_params).shape))
    space = agent.env.action_space(agent.env_params)
    actions = space.n if isinstance(space, envs.Discrete) else int(np.prod(space.shape))
    hidden = tuple(c.hidden_sizes)
    if algo_name == "ppo":
        return (ppo_flops_per_env_step((obs, *hidden, actions), (obs, *hidden, 1), c.update_epochs)
                * iterations * steps_per_iteration)
    actor = mlp_macs((obs, *hidden, 2 * actions))  # mean and log std
    critics = c.num_critics * mlp_macs((obs + actions, *hidden, 1))
    learning = sum(1 for k in range(1, iterations + 1)
                   if k * steps_per_iteration >= max(c.learning_starts, c.batch_size))
    per_sample = 4 * actor + 6 * critics
    return 2.0 * (per_sample * c.batch_size * c.gradient_steps * learning
                  + actor * iterations * steps_per_iteration)


SQUARE_MATMUL_SIZES = (128, 256, 512, 1024, 2048)


def square_matmul_gflops(sizes=SQUARE_MATMUL_SIZES) -> dict[int, float]:
    """GFLOP/s of square float32 products of each size, ~4 GFLOP of them per timed call."""
    return {n: measure_matmul(n, n, repeats=max(2, int(4e9 / (2 * n ** 3)))) for n in sizes}


def one_core_square_matmul_gflops() -> dict[int, float]:
    """`square_matmul_gflops` in a fresh process on one XLA worker thread (`--cpu-threads
    1`): one core's peak, the most a program that runs its kernels one after another can use."""
    gflops = _worker_result(_cpu_layout_code(threads=1) + "import json; from jaxrl.benchmark import "
                            "square_matmul_gflops; print(json.dumps(square_matmul_gflops()))",
                            "one-thread matmul worker")
    return {int(n): g for n, g in gflops.items()}


def run_limits(ppo_seeds: list[dict] | None, ppo_seeds_devices: list[dict] | None = None) -> dict:
    """The machine's matmul throughput (all cores, and one) and memory bandwidth, and the
    fraction of it the PPO (from the vmapped-seed runs) and DQN (its preset, warm) updates
    reach."""
    out = {"square_matmul_gflops": square_matmul_gflops()}
    out["peak_gflops"] = max(out["square_matmul_gflops"].values())
    out["one_core_square_matmul_gflops"] = one_core_square_matmul_gflops()
    out["one_core_peak_gflops"] = max(out["one_core_square_matmul_gflops"].values())
    # The updates' own matmul shapes (minibatch x 64 @ 64 x 64), alone and 16 at once.
    out["update_shape_gflops"] = {"128x64x64": measure_matmul(128, 64, repeats=5000),
                                  "2048x64x64": measure_matmul(2048, 64, repeats=500)}
    out["bandwidth_gbs"] = measure_bandwidth()
    flops = update_flops()
    out["flops_per_env_step"] = flops
    out["updates"] = []
    for r in (ppo_seeds or []) + [r for r in ppo_seeds_devices or [] if r["devices"] > 1]:
        gflops = flops["ppo_reference"] * r["steps_per_second"] / 1e9
        where = f", {r['devices']} CPU devices" if r.get("devices", 1) > 1 else ""
        out["updates"].append({"name": f"PPO reference, {r['num_seeds']} seed(s){where}", "gflops": gflops,
                               "steps_per_second": r["steps_per_second"]})
    dqn = throughput_ours("dqn", "CartPole-v1", {}, 50_000)
    out["updates"].append({"name": "DQN preset (16 envs, 2 x 128 gradient steps)", "steps_per_second":
                           dqn["steps_per_second"], "gflops": flops["dqn_preset"] * dqn["steps_per_second"] / 1e9})
    return out


def _one_core_lines(lim: dict, small: float) -> list[str]:
    """What one core reaches (absent from results measured before it was timed)."""
    if "one_core_peak_gflops" not in lim:
        return []
    one = lim["one_core_peak_gflops"]
    return ["On one XLA worker thread (`--cpu-threads 1`, a fresh process) the square products run at "
            + ", ".join(f"{n}: {g:.0f}" for n, g in lim["one_core_square_matmul_gflops"].items())
            + f" GFLOP/s: one core's peak is **{one:.0f} GFLOP/s**, "
            f"{100 * one / lim['peak_gflops']:.0f}% of the machine's, and the updates' 128 x 64 @ 64 x 64 "
            f"product runs at {100 * small / one:.0f}% of it. A program that runs its kernels one after "
            "another (one seed) can use one core's peak at most; one device per core (`--cpu-devices`) "
            "all of them.",
            ""]


def _limits_markdown(lim: dict) -> list[str]:
    peak = lim["peak_gflops"]
    small = lim["update_shape_gflops"]["128x64x64"]
    lines = [
        "## The limit: matmul throughput, bandwidth and the fraction the updates reach",
        "",
        "float32 matmul throughput measured in one compiled loop (dispatch excluded): square "
        + ", ".join(f"{n}: {g:.0f}" for n, g in lim["square_matmul_gflops"].items())
        + f" GFLOP/s, so a peak of **{peak:.0f} GFLOP/s**; the updates' own shape (minibatch 128 x 64 @ 64 x 64): "
        f"{small:.0f} GFLOP/s, and with 2048 rows: {lim['update_shape_gflops']['2048x64x64']:.0f} GFLOP/s. "
        f"Streaming memory bandwidth (`x + 1` over 256 MB): {lim['bandwidth_gbs']:.1f} GB/s.",
        "",
        *_one_core_lines(lim, small),
        "FLOPs per env step, counted from the networks (2 per multiply-accumulate, forward+backward",
        f"= 3 forwards; env, optimizer and elementwise ops left out): PPO reference "
        f"{lim['flops_per_env_step']['ppo_reference']:,.0f} (a rollout forward plus 4 epochs of "
        f"forward+backward through 64-64 actor and critic), DQN preset {lim['flops_per_env_step']['dqn_preset']:,.0f}.",
        "The PPO rows take their env steps/s from the PPO section's warm runs above; the DQN row is",
        "timed here (the preset, 50k env steps, warm). Why the rest is out of reach: optimisation.md.",
        "PPO's and SAC's larger networks (256-256 over minibatches of 512-1,024) are in the section",
        "\"Same hyperparameters on MinAtar and Brax\", each with its share of this peak.",
        "",
        "| update | env steps/s (warm) | GFLOP/s | of square peak | of the 128x64x64 matmul rate |",
        "|---|---|---|---|---|",
    ]
    for u in lim["updates"]:
        lines.append(f"| {u['name']} | {u['steps_per_second']:,.0f} | {u['gflops']:.1f} | "
                     f"{100 * u['gflops'] / peak:.0f}% | {100 * u['gflops'] / small:.0f}% |")
    return lines + [""]


# Learning results at CPU budgets: rows of docs/presets.json (written by
# `scripts/measure_presets.py`), shown beside what is published for the same env. A
# reference is quoted only as a number someone published; where the sources give learning
# curves only, the note says so instead of reading a figure by eye.
RESULT_TABLES = [
    ("MinAtar: DQN, Rainbow, PQN (and PPO)",
     "python scripts/measure_presets.py --algo dqn --only Breakout-MinAtar SpaceInvaders-MinAtar "
     "Breakout-MinAtar-rainbow SpaceInvaders-MinAtar-rainbow; ... --algo pqn --only Breakout-MinAtar "
     "SpaceInvaders-MinAtar; ... --algo ppo --only Breakout-MinAtar Breakout-MinAtar-10M "
     "SpaceInvaders-MinAtar-10M",
     [("dqn", "Breakout-MinAtar"), ("dqn", "Breakout-MinAtar-rainbow"), ("pqn", "Breakout-MinAtar"),
      ("ppo", "Breakout-MinAtar"), ("ppo", "Breakout-MinAtar-10M"), ("dqn", "SpaceInvaders-MinAtar"),
      ("dqn", "SpaceInvaders-MinAtar-rainbow"), ("pqn", "SpaceInvaders-MinAtar"),
      ("ppo", "SpaceInvaders-MinAtar-10M")],
     "for PPO, gymnax's README (1.0.1) lists returns of 28 on Breakout-MinAtar and 131 on "
     "SpaceInvaders-MinAtar for its gymnax-blines agents, whose configs (`agents/<game>/ppo.yaml` "
     "there) train 10M env steps (64 envs x 128 steps, 256-256 MLP, gamma 0.999, learning rate "
     "5e-4 held constant) and evaluate the sampled, not the greedy, policy over 164 episodes; "
     "our PPO 10M rows are timed to them with our greedy evaluation. Evaluated their way "
     "(`jaxrl evaluate RUN --episodes 164 --stochastic`, 2026-12-06), the final policies "
     "return 23.7 on Breakout (seeds 23.5 and 23.8; greedy over the same 164 episodes: 37.0) "
     "and 124.4 on SpaceInvaders (124.1 and 124.7; greedy 158.0), both below the listed "
     "returns. Otherwise learning curves only, no numbers: "
     "the MinAtar paper and README (Young & Tian, 2019: DQN "
     "and AC(lambda), each curve the mean of 30 runs, on the full 6-action set where gymnax uses "
     "each game's minimal set), Revisiting Rainbow (Obando-Ceron & Castro, 2021: DQN and "
     "Rainbow), PQN (Gallici et al., 2024) and pgx (Koyamada et al., 2023: PPO, 20M steps). We "
     "found no other published number for these games and budgets, and do not read one off a plot."),
    ("MinAtar, the other games: DQN, Rainbow, PQN",
     "python scripts/measure_presets.py --algo dqn --only Asterix-MinAtar Freeway-MinAtar "
     "Seaquest-MinAtar Freeway-MinAtar-rainbow; ... --algo pqn --only Asterix-MinAtar "
     "Freeway-MinAtar Seaquest-MinAtar; ... --algo dqn --only Asterix-MinAtar-rainbow --from-run "
     "RUN_DIR, RUN_DIR from jaxrl train dqn --env Asterix-MinAtar --preset rainbow --cpu-devices 2 "
     "--eval-every 3125 (run as DQN's preset with the Rainbow switches set: the same config)",
     [("dqn", "Asterix-MinAtar"), ("dqn", "Asterix-MinAtar-rainbow"), ("pqn", "Asterix-MinAtar"),
      ("dqn", "Freeway-MinAtar"), ("dqn", "Freeway-MinAtar-rainbow"), ("pqn", "Freeway-MinAtar"),
      ("dqn", "Seaquest-MinAtar"), ("pqn", "Seaquest-MinAtar")],
     "learning curves only, as for the games above (the MinAtar paper, Revisiting Rainbow, "
     "PQN). These presets use the Breakout and SpaceInvaders hyperparameters unchanged, except "
     "Asterix's Rainbow, which learns from 1-step returns: with Rainbow's 3-step returns the "
     "same config ended its 500k steps at 1.5 (seeds 1.6 and 1.4, 640 s; docs/algorithms.md). "
     "Seaquest has no Rainbow preset: with 3-step returns it ended at 0.6 (0.7 and 0.6, 876 s), "
     "with 1-step at 2.9 (2.5 and 3.2), where DQN's preset reaches 7.9 (2026-12-06)."),
    ("Brax locomotion: SAC, TD3, DDPG, PPO (spring backend)",
     "python scripts/measure_presets.py --algo sac --only brax/hopper brax/halfcheetah brax/ant "
     "brax/walker2d brax/humanoid; the same with --algo td3 and --algo ddpg; --algo ppo --only "
     "brax/hopper brax/walker2d brax/humanoid brax/swimmer brax/halfcheetah brax/ant",
     [(algo, f"brax/{name}") for name in ("hopper", "halfcheetah", "ant", "walker2d", "humanoid")
      for algo in ("sac", "td3", "ddpg", "ppo")]
     + [("ppo", "brax/swimmer")],
     "none found for Brax's spring-backend robots at these budgets: Brax's own "
     "training results are curves over tens of millions of steps on accelerators. The MuJoCo "
     "versions of the same robots (different dynamics and rewards) reach returns in the "
     "thousands after 1M steps in the SAC and TD3 papers; ours are 20-50x shorter runs.",
     "AMD EPYC family 25 model 17: SAC's and PPO's rows 2026-12-07 (the off-policy wall seconds "
     "re-measured 2026-12-08, the same returns), walker2d's and humanoid's off-policy rows "
     "2026-12-08 with the hopper-halfcheetah-ant settings (LayerNorm on), untuned. "
     "SAC on halfcheetah and ant "
     "with LayerNorm in actor and critics, as TD3's and DDPG's (without it, the same day: 367.3 "
     "and 711.3; hopper keeps it off; on the Intel Xeon, 2026-12-02: 338.7, 584.8 and 845.1). "
     "PPO with 10 epochs of 32 minibatches, on halfcheetah and ant with the policy std starting "
     "at exp(-1), on hopper with gamma 0.99 (with 4 epochs of 8, std 1 and gamma 0.97: 417.6, "
     "2056.1 and 113.9); PPO on walker2d, humanoid and swimmer (2026-12-07) with gamma 0.999 "
     "and the std starting at exp(-0.5), gamma 0.99, and gamma 0.9999 on the generalized "
     "backend (one swimmer seed stays in a local optimum); docs/continuous.md."),
]


def _target_line(r: dict) -> str:
    """When a preset timed to a published return first reached it (evaluations along the run,
    the mean over seeds; wall seconds since the run started, compilation included)."""
    where = f"; measured on {r['measured_on']}" if r.get("measured_on") else ""
    head = (f"{r['algo']} {r['preset']}, timed to the published {r['target_return']:g} "
            f"({r['evaluations']} evaluations along the run, mean over seeds{where}): ")
    best = r["best_evaluation"]
    best_text = (f"best evaluation {best['mean_return']:.1f} at {best['env_steps']:,} env steps "
                 f"({best['wall_seconds']:.0f} s)")
    reached = r["target_reached"]
    run = f" Run: `{r['command']}`." if r.get("command") else ""
    if reached is None:
        return head + f"not reached; {best_text}.{run}"
    return head + (f"first reached at {reached['env_steps']:,} env steps, {reached['wall_seconds']:.0f} s "
                   f"after the run started, compilation included; {best_text}.{run}")


def _results_markdown(rows: list[dict]) -> list[str]:
    by_key = {(r["algo"], r["preset"]): r for r in rows}
    lines = ["## Learning results at CPU budgets", "",
             "Final deterministic evaluation (10 episodes per seed) of presets run to their own budgets",
             "by `scripts/measure_presets.py` (rows of [presets.md](presets.md)); wall seconds include",
             "compilation.", ""]
    # An entry may end with a note on how its rows were measured, printed after the command.
    for title, command, keys, reference, *note in RESULT_TABLES:
        lines += [f"### {title}", "", " ".join([f"Command: `{command}`.", *note]), "",
                  "| algo | preset | seeds | env steps per seed | return, mean ± std over all episodes | per seed | wall s |",
                  "|---|---|---|---|---|---|---|"]
        for key in keys:
            r = by_key.get(key)
            if r is None:
                lines.append(f"| {key[0]} | {key[1]} | - | - | not measured | - | - |")
                continue
            per_seed = ", ".join(f"{x:.1f}" for x in r["per_seed_return"])
            lines.append(f"| {r['algo']} | {r['preset']} | {r['num_seeds']} | {r['env_steps']:,} | "
                         f"{r['mean_return']:.1f} ± {r['std_return']:.1f} | {per_seed} | "
                         f"{r['wall_seconds']:.0f} |")
        targets = [_target_line(by_key[key]) for key in keys
                   if by_key.get(key, {}).get("target_return") is not None]
        lines += [""] + (targets + [""] if targets else []) + [f"Published reference: {reference}", ""]
    return lines


def machine() -> dict:
    """This machine's CPU (model name; x86 family and model, which tell apart CPUs sold
    under one name, e.g. two "AMD EPYC" generations 2.5x apart here; whether it has
    AVX-512), core count, OS, Python and jax."""
    import jax

    cpu, fields = platform.processor(), {}
    try:
        for line in open("/proc/cpuinfo"):
            if not line.strip():
                break  # the first processor is enough
            name, _, value = line.partition(":")
            fields[name.strip()] = value.strip()
    except OSError:
        pass
    cpu = fields.get("model name", cpu)
    out = {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
           "python": platform.python_version(), "jax": jax.__version__,
           "device": str(jax.devices()[0])}
    if "cpu family" in fields:
        out["cpu_id"] = (f"family {fields['cpu family']} model {fields.get('model', '?')}, "
                         + ("AVX-512" if "avx512f" in fields.get("flags", "").split() else "no AVX-512"))
    return out


def _peer_backend(result: dict) -> str:
    """What a peer's PPO ran on, for its row: jax's version, or torch's and its threads."""
    versions = result["versions"]
    if "threads" in result:  # a jax peer timed on as many XLA threads as our headline seed
        return f"jax {versions['jax']}, {result['threads']} XLA thread{'s' * (result['threads'] != 1)}"
    if "jax" in versions:
        return f"jax {versions['jax']}"
    return f"torch {versions['torch']}, {result['torch_threads']} threads"


def _ppo_markdown(results: dict) -> list[str]:
    # Newer files run each SB3-API peer over several seeds (one process each).
    peer_seeds = next((r["returns"] for peer in PEERS if (r := results.get(peer)) and len(r.get("returns", [])) > 1),
                      None)
    lines = [
        "## PPO, CartPole-v1, reference config",
        "",
        "4 envs x 128 steps, 4 epochs x 4 minibatches, 64-64 tanh, lr 2.5e-4 annealed, "
        f"{results['total_steps']:,} env steps, one seed"
        + (f" (each SB3-API peer {len(peer_seeds)} seeds, one process each: the median seed's seconds, "
           "the mean return and each seed's; ours over 4, 16 and 64 seeds in the next section)" if peer_seeds else "")
        + ". Return: deterministic evaluation, 10 episodes. "
        f"Warm: ours the fastest of {results.get('one_seed_repeats', 3)} runs of the compiled program "
        "(of 2 for 4 seeds, one run from 16 "
        "seeds on), each SB3-API peer's " + ("`model.learn`" if peer_seeds else "one `model.learn`")
        + "; the jax peers (rejax, PureJaxRL) compiled first and timed as ours.",
        "",
        "| | cold (process start to result) | compile | warm (training only) | env steps/s (warm) | return |",
        "|---|---|---|---|---|---|",
    ]
    ours = results["ours_cold"]
    # Older JSON files have no one-thread run: their headline was the default-threads seed.
    has_one_thread_seed = "ours_one_seed" in results
    one_seed = results["ours_one_seed"] if has_one_thread_seed else results["seeds"][0]
    one_seed_threads = one_seed.get("threads", ONE_SEED_THREADS)
    threads = f"{one_seed_threads} XLA thread" if has_one_thread_seed else "XLA's default threads"
    lines.append(
        f"| jaxrl ({threads}) | {ours['cold_seconds']:.1f} s | {ours['compile_seconds']:.1f} s | "
        f"{one_seed['warm_seconds']:.2f} s | {one_seed['steps_per_second']:,.0f} | "
        f"{ours['mean_return']:.1f} |"
    )
    if has_one_thread_seed:
        default = results["seeds"][0]
        lines.append(
            f"| jaxrl (XLA's default threads, one per core) | - | {default['compile_seconds']:.1f} s | "
            f"{default['warm_seconds']:.2f} s | {default['steps_per_second']:,.0f} | {default['mean_return']:.1f} |"
        )
    split, split_cold = results.get("ours_split_seed"), results.get("ours_split_cold")
    if split and split_cold:
        lines.append(
            f"| jaxrl (actor and critic on 2 devices, `--shard networks`) | {split_cold['cold_seconds']:.1f} s | "
            f"{split_cold['compile_seconds']:.1f} s | {split['warm_seconds']:.2f} s | "
            f"{split['steps_per_second']:,.0f} | {split_cold['mean_return']:.1f} |"
        )
    peers = {peer: results[peer] for peer in PEERS if results.get(peer)}
    for peer, r in peers.items():
        # The SB3-API peers' rows: one model.learn (compile inside), in tenths as they always were.
        compile_cell, warm = (f"{r['compile_seconds']:.1f} s", f"{r['learn_seconds']:.2f} s") \
            if PEERS[peer].jax_program else ("-", f"{r['learn_seconds']:.1f} s")
        lines.append(
            f"| {_peer_name(peer, r)} ({_peer_backend(r)}) | {r['cold_seconds']:.1f} s | {compile_cell} | "
            f"{warm} | {r['total_steps'] / r['learn_seconds']:,.0f} | {_returns_cell(r['mean_return'], r.get('returns'))} |"
        )
    for peer, r in peers.items():
        # SB3's line keeps its original wording; the others name their peer.
        over = "" if peer == "sb3" else f" over {PEERS[peer].short}"
        # A jax peer's own default-threads seed stands against ours; the SB3-API peers have one run.
        peer_default = r["seeds"][0]["warm_seconds"] if r.get("seeds") else r["learn_seconds"]
        lines += [
            "",
            f"Speed-up{over}, warm: **{r['learn_seconds'] / one_seed['warm_seconds']:.1f}x**; "
            f"cold: **{r['cold_seconds'] / ours['cold_seconds']:.1f}x**"
            + (f" (warm with XLA's default threads"
               + (f", {PEERS[peer].label}'s seed on {r['seed_threads']} as it cannot run on them"
                  if r.get("seed_threads") else "")
               + f": {peer_default / results['seeds'][0]['warm_seconds']:.1f}x)." if has_one_thread_seed else ".")
            + (f" Actor and critic on two devices: warm **{r['learn_seconds'] / split['warm_seconds']:.1f}x**, "
               f"cold **{r['cold_seconds'] / split_cold['cold_seconds']:.1f}x**." if split and split_cold else ""),
        ]
    lines += _notes_markdown(list(peers.values()))
    # Jax peers time the same seed counts as ours: their warm seconds join the seed table.
    seed_peers = {peer: {s["num_seeds"]: s for s in r["seeds"]} for peer, r in peers.items() if r.get("seeds")}
    lines += [
        "",
        "## Cost of vmapped seeds",
        "",
        "Warm wall time of one compiled program training N seeds at once (same config)"
        + (", XLA's default threads; " + ", ".join(
            f"{PEERS[peer].label}'s `jax.jit(jax.vmap(train))` over as many seeds, timed the same way"
            + (f" but on {peers[peer]['seed_threads']} XLA thread" if peers[peer].get("seed_threads") else "")
            for peer in seed_peers) + "." if seed_peers else "."),
        "",
        "| seeds | warm seconds | relative to 1 seed | env steps/s (all seeds) | mean return | worst seed |"
        + "".join(f" {PEERS[peer].label} warm seconds (mean return) | ours faster |" for peer in seed_peers),
        "|---|---|---|---|---|---|" + "---|---|" * len(seed_peers),
    ]
    base = results["seeds"][0]["warm_seconds"]
    for r in results["seeds"]:
        peer_cells = ""
        for by_count in seed_peers.values():
            p = by_count.get(r["num_seeds"])
            peer_cells += (f" {p['warm_seconds']:.2f} ({p['mean_return']:.1f}) | "
                           f"{p['warm_seconds'] / r['warm_seconds']:.2f}x |" if p else " - | - |")
        lines.append(
            f"| {r['num_seeds']} | {r['warm_seconds']:.2f} | {r['warm_seconds'] / base:.2f}x | "
            f"{r['steps_per_second']:,.0f} | {r['mean_return']:.1f} | {r['min_seed_return']:.1f} |" + peer_cells
        )
    spread = results.get("seeds_devices")
    if spread:
        devices = max(r["devices"] for r in spread)
        lines += [
            "",
            f"The same program with the seeds split over {devices} forced CPU devices (one per core,",
            f"`XLA_FLAGS='--xla_force_host_platform_device_count={devices} --xla_cpu_multi_thread_eigen=false'`,",
            "seeds sharded as `jaxrl train --shard seeds` does; a seed count the devices do not divide",
            "runs on one device). Ratios: to one seed on one device (the table above) and to one",
            "seed in this layout.",
            "",
            "| seeds | devices | warm seconds | relative to 1 seed (1 device) | relative to 1 seed (this layout) | env steps/s | mean return |",
            "|---|---|---|---|---|---|---|",
        ]
        own = spread[0]["warm_seconds"]
        for r in spread:
            lines.append(
                f"| {r['num_seeds']} | {r['devices']} | {r['warm_seconds']:.2f} | {r['warm_seconds'] / base:.2f}x | "
                f"{r['warm_seconds'] / own:.2f}x | {r['steps_per_second']:,.0f} | {r['mean_return']:.1f} |"
            )
    if has_one_thread_seed:
        fastest = results["ours_one_seed"]["warm_seconds"]
        lines += ["", f"One seed on {one_seed_threads} XLA thread (the headline row above) trains in "
                      f"{fastest:.2f} s; against it, "
                  + ", ".join(f"{r['num_seeds']} seeds on {r['devices']} device(s) cost "
                              f"{r['warm_seconds'] / fastest:.2f}x" for r in (spread or results["seeds"])[1:])
                  + "."]
    return lines + [""]


# Each timed section and the key its figures are stored under in the JSON file.
SECTION_KEYS = {"ppo": "ours_cold", "thresholds": "thresholds", "cases": "cases", "limits": "limits",
                "scaling": "scaling"}


def machine_name(m: dict) -> str:
    """`machine()`'s CPU and core count, e.g. "AMD EPYC (family 25 model 1, no AVX-512), 2 cores"."""
    cpu = f"{m['cpu']} ({m['cpu_id']})" if m.get("cpu_id") else m["cpu"]
    return f"{cpu}, {m['cores']} cores"


def _machine_line(m: dict, date: str) -> str:
    return (f"{machine_name(m)}, {m['platform']}; Python {m['python']}, "
            f"jax {m['jax']} on `{m['device']}`. Date: {date}.")


def record_section_machines(results: dict, sections: list[str]) -> None:
    """Note in `results["section_machines"]` which machine and date each section's figures
    come from: this machine for `sections` (about to be run), and for sections kept from an
    earlier run the machine that run recorded, so a partial rerun never relabels them."""
    machines = results.setdefault("section_machines", {})
    for section, key in SECTION_KEYS.items():
        if key in results and section not in machines and "machine" in results:
            machines[section] = {"machine": results["machine"], "date": results.get("date", "")}
    for section in sections:
        machines[section] = {"machine": machine(), "date": time.strftime("%Y-%m-%d")}


def write_markdown(path: Path, results: dict, command: str) -> None:
    record_section_machines(results, [])  # results from before per-section machines were kept
    machines = results["section_machines"]

    def measured_on(section: str, lines: list[str]) -> list[str]:
        entry = machines[section]
        return lines[:2] + [f"Measured on: {_machine_line(entry['machine'], entry['date'])}", ""] + lines[2:]

    lines = [
        "# Benchmarks",
        "",
        "Measured by `scripts/benchmark.py` (same as `jaxrl benchmark`); each section's figures come",
        "from one run of one of these commands on the machine named under its heading, nothing from",
        "elsewhere. Ratios compare figures of one section only, measured in the same run.",
        "",
        f"Commands: {', '.join(f'`{c}`' for c in results.get('commands', [command]))}",
        "",
        "What the optimisation pass changed, with before/after figures: [optimisation.md](optimisation.md).",
        "",
    ]
    if "ours_cold" in results:
        lines += measured_on("ppo", _ppo_markdown(results))
    if "thresholds" in results:
        lines += measured_on("thresholds", _threshold_markdown(results["thresholds"]))
    if "cases" in results:
        lines += measured_on("cases", _cases_markdown(results["cases"], results.get("limits", {}).get("peak_gflops")))
    if "limits" in results:
        lines += measured_on("limits", _limits_markdown(results["limits"]))
    if "scaling" in results:
        lines += measured_on("scaling", _scaling_markdown(results["scaling"]))
    presets_json = path.parent / "presets.json"
    if presets_json.exists():
        lines += _results_markdown(json.loads(presets_json.read_text()))
    lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="jaxrl benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--total-steps", type=int, default=500_000)
    parser.add_argument("--seeds", default="1,4,16,64", help="comma-separated vmapped seed counts")
    parser.add_argument("--sb3", action="store_true", help="also time Stable-Baselines3 (same as --peers sb3)")
    parser.add_argument("--peers", default="",
                        help="comma-separated peer libraries to time beside ours: sb3 (Stable-Baselines3), "
                             "sbx (Stable Baselines Jax), rejax, purejaxrl (PureJaxRL, PPO section only, "
                             "with --purejaxrl-src), e.g. --peers sb3,sbx,rejax")
    for name, peer in PEERS.items():
        parser.add_argument(f"--{name}-venv", type=Path, default=peer.venv,
                            help=f"virtual environment for {peer.short} (created if missing; default {peer.venv})")
    parser.add_argument("--purejaxrl-src", type=Path, default=None, metavar="CHECKOUT",
                        help="a clone of https://github.com/luchris429/purejaxrl, for --peers purejaxrl "
                             "(PureJaxRL is a repository of scripts, not a package)")
    parser.add_argument("--only", choices=["ppo", "thresholds", "cases", "limits", "scaling", "results"],
                        default=None,
                        help="run one section and keep the other sections' figures from the JSON file; "
                             "'results' only re-renders the learning results from docs/presets.json")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 100k PPO steps, seeds 1,4, one seed per threshold case, fewer env "
                             "counts; without the MinAtar/Brax cases, whose compiles alone take minutes")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args(argv)
    if args.quick:
        args.total_steps, args.seeds = 100_000, "1,4"
    peers = {p.strip() for p in args.peers.split(",") if p.strip()} | ({"sb3"} if args.sb3 else set())
    unknown = peers - set(PEERS)
    if unknown:
        print(f"error: --peers {','.join(sorted(unknown))}: supported peers are {', '.join(PEERS)} "
              "(e.g. --peers sb3,sbx,rejax)", file=sys.stderr)
        return 2
    if "purejaxrl" in peers and not (args.purejaxrl_src and (args.purejaxrl_src / "purejaxrl" / "ppo.py").is_file()):
        print(f"error: --peers purejaxrl needs --purejaxrl-src CHECKOUT, a clone of "
              f"https://github.com/luchris429/purejaxrl (no purejaxrl/ppo.py under {args.purejaxrl_src}); "
              "e.g. git clone https://github.com/luchris429/purejaxrl ~/purejaxrl and pass "
              "--purejaxrl-src ~/purejaxrl", file=sys.stderr)
        return 2
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.total_steps < 512 or any(s < 1 for s in seeds):
        print("error: --total-steps must be >= 512 and --seeds positive integers", file=sys.stderr)
        return 2
    command = ("python scripts/benchmark.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    json_path = args.out.with_suffix(".json")
    results = {}
    if args.only and json_path.exists():
        results = json.loads(json_path.read_text())
    # `--only results` times nothing: that section is rendered from docs/presets.json.
    sections = ([] if args.only == "results" else [args.only]) if args.only \
        else ["ppo", "thresholds"] + ([] if args.quick else ["cases"]) + ["limits", "scaling"]
    previous = [c for c in results.get("commands", [results.get("command")]) if c]
    if sections:
        results["commands"] = [c for c in previous if args.only and f"--only {args.only}" not in c] + [command]
        record_section_machines(results, sections)
        results["date"] = time.strftime("%Y-%m-%d")
    else:
        results["commands"] = previous
    # Only the sections that time the peers need their virtual environments.
    needs_venv = {peer for peer in peers
                  if "ppo" in sections or ("thresholds" in sections and PEERS[peer].threshold_cases)}
    peer_pythons = {peer: ensure_peer_venv(peer, getattr(args, f"{peer}_venv")) for peer in PEERS if peer in needs_venv}
    if "ppo" in sections:
        results["total_steps"] = args.total_steps
        results["one_seed_repeats"] = warm_repeats(1)
        print(f"jaxrl cold start, {ONE_SEED_THREADS} XLA thread(s) ...", file=sys.stderr)
        results["ours_cold"] = time_ours_cold(args.total_steps, ONE_SEED_THREADS)
        print(f"jaxrl warm, 1 seed on {ONE_SEED_THREADS} XLA thread(s) ...", file=sys.stderr)
        results["ours_one_seed"] = {**time_ours_on_layout(args.total_steps, [1], threads=ONE_SEED_THREADS)[0],
                                    "threads": ONE_SEED_THREADS}
        for stale in ("ours_split_cold", "ours_split_seed"):  # kept only if timed again below
            results.pop(stale, None)
        if os.cpu_count() and os.cpu_count() > 1:
            print("jaxrl cold start and warm, 1 seed, actor and critic on 2 forced CPU devices ...",
                  file=sys.stderr)
            results["ours_split_cold"] = time_ours_cold(args.total_steps, split=True)
            results["ours_split_seed"] = time_ours_on_layout(args.total_steps, [1], split=True)[0]
        results["seeds"] = []
        for n in seeds:
            print(f"jaxrl warm, {n} seed(s) ...", file=sys.stderr)
            results["seeds"].append(time_ours(args.total_steps, n))
        if os.cpu_count() and os.cpu_count() > 1:
            print(f"jaxrl warm, seeds {seeds} over {os.cpu_count()} forced CPU devices ...", file=sys.stderr)
            results["seeds_devices"] = time_ours_on_layout(args.total_steps, seeds, os.cpu_count())
        for peer in PEERS:
            results.pop(peer, None)
        for peer, python in peer_pythons.items():
            print(f"{PEERS[peer].label} PPO ...", file=sys.stderr)
            source = getattr(args, f"{peer}_src", None)  # a checkout, for peers that are repositories
            results[peer] = (time_jax_peer_ppo(peer, python, args.total_steps, seeds, source)
                             if PEERS[peer].jax_program
                             else time_peer_ppo(peer, python, args.total_steps, (0,) if args.quick else PPO_PEER_SEEDS))
    if "thresholds" in sections:
        results["thresholds"] = run_thresholds(peer_pythons, seeds=(0,) if args.quick else THRESHOLD_SEEDS,
                                               identical_scale=0.2 if args.quick else 1.0)
    if "cases" in sections:
        # The SB3-API peers step our environments in venvs of their own (`env_venv`).
        case_pythons = {peer: ensure_peer_venv(peer, env_venv(getattr(args, f"{peer}_venv")), env_requirements(peer))
                        for peer in PEERS if peer in peers and PEERS[peer].sb3_api}
        results["cases"] = run_cases(case_pythons)
    if "limits" in sections:
        print("matmul peak, bandwidth and the updates' GFLOP/s ...", file=sys.stderr)
        results["limits"] = run_limits(results.get("seeds"), results.get("seeds_devices"))
    if "scaling" in sections:
        results["scaling"] = run_scaling(quick=args.quick, devices=os.cpu_count() or 1)
    if sections or "machine" not in results:
        results["machine"] = machine()
    results.setdefault("date", time.strftime("%Y-%m-%d"))
    write_markdown(args.out, results, command)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
